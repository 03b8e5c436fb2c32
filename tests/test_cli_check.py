"""`slugprof check` as CI runs it: each limit from a flag and from pyproject.toml, which wins, each exit
code, on saved reports (the committed examples), on apps measured for real, and with a real profile."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from clirun import HELLO_WSGI, run_slugprof, write_app

REPORTS = Path(__file__).resolve().parent.parent / "reports"
# bloated: slug 156 MB compressed, peak 182.1 MiB on standard-1x, three error findings (DEP313, SEC400,
# SEC420); flask_basic: 26 MB, no warning or error.
BLOATED = (REPORTS / "bloated.analyze.json", REPORTS / "bloated.profile.json")
TIDY = REPORTS / "flask_basic.analyze.json"


def verdicts(stderr: str) -> dict[str, str]:
    """limit -> outcome, from the `slugprof check: LIMIT: OUTCOME: ...` lines."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith("slugprof check: "):
            limit, outcome, _ = line.removeprefix("slugprof check: ").split(": ", 2)
            found[limit] = outcome
    return found


def check(*argv: str | Path, cwd: Path | None = None) -> tuple[int, dict[str, str], str]:
    result = run_slugprof("check", *argv, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, verdicts(result.stderr), result.stderr


def test_findings_at_the_fail_on_severity_fail_the_check() -> None:
    code, found, stderr = check(*BLOATED)
    assert (code, found) == (1, {"max-slug": "PASS", "max-memory": "PASS", "fail-on": "FAIL"})
    assert "3 error findings: DEP313, SEC400, SEC420" in stderr
    code, found, _ = check(*BLOATED, "--fail-on", "never")
    assert (code, found["fail-on"]) == (0, "NOT CHECKED")


def test_each_size_limit_from_a_flag() -> None:
    code, found, stderr = check(*BLOATED, "--fail-on", "never", "--max-slug", "100 MB")
    assert (code, found["max-slug"]) == (1, "FAIL")
    assert "limit 100 MB (156%)" in stderr
    code, found, stderr = check(*BLOATED, "--fail-on", "never", "--max-memory", "150 MiB")
    assert (code, found["max-memory"]) == (1, "FAIL")
    code, found, _ = check(*BLOATED, "--fail-on", "never", "--dyno", "eco", "--max-memory", "1 GiB")
    assert (code, found["max-memory"]) == (0, "PASS")


def test_the_memory_limit_defaults_to_the_dynos_quota() -> None:
    # No --max-memory: the limit is the quota of --dyno (standard-2x: 1 GiB), not the dyno it ran as.
    code, found, stderr = check(*BLOATED, "--fail-on", "never", "--dyno", "standard-2x")
    assert (code, found["max-memory"]) == (0, "PASS")
    assert "the standard-2x quota 1.00 GiB" in stderr


def test_warn_only_reports_and_exits_0() -> None:
    code, found, _ = check(*BLOATED, "--max-slug", "1 MB", "--warn-only")
    assert (code, found["max-slug"], found["fail-on"]) == (0, "FAIL", "FAIL")


def test_limits_from_pyproject_and_the_flags_over_them(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nmax_slug = "20 MB"\nfail-on = "never"\n')
    code, found, _ = check(TIDY, cwd=tmp_path)  # snake_case accepted: 26 MB is over 20 MB
    assert (code, found["max-slug"], found["fail-on"]) == (1, "FAIL", "NOT CHECKED")
    code, found, _ = check(TIDY, "--max-slug", "30 MB", cwd=tmp_path)
    assert (code, found["max-slug"]) == (0, "PASS")


def test_a_bad_limit_is_a_usage_error_naming_the_key_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nmax-slug = "lots"\n')
    result = run_slugprof("check", TIDY, cwd=tmp_path)
    assert result.returncode == 2
    assert "pyproject.toml [tool.slugprof]: max-slug" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nfail-on = "sometimes"\n')
    result = run_slugprof("check", TIDY, cwd=tmp_path)
    assert result.returncode == 2 and "fail-on = 'sometimes' is not one of: error, warning" in result.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for argv in (
        (TIDY, tmp_path),  # a folder and saved results together
        (tmp_path, tmp_path),  # two folders
        (broken,),
        (tmp_path / "missing",),
        (*BLOATED, TIDY),  # two analyses
    ):
        result = run_slugprof("check", *argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_an_app_measured_for_real_passes_and_a_limit_it_breaks_fails(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": ""})
    code, found, stderr = check(app, "--resolve", "--offline", "-q")
    assert (code, found["max-slug"], found["fail-on"]) == (0, "PASS", "PASS"), stderr
    assert found["max-memory"] == "NOT CHECKED"
    code, found, _ = check(app, "--resolve", "--offline", "-q", "--max-slug", "1 MB")
    assert (code, found["max-slug"]) == (1, "FAIL")


@pytest.mark.slow
def test_what_could_not_be_measured_is_not_a_pass(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": "flask\n"})
    empty = tmp_path / "empty-cache"  # offline, with nothing cached: flask cannot be resolved
    result = run_slugprof("check", app, "--resolve", "--offline", "-q", XDG_CACHE_HOME=str(empty))
    found = verdicts(result.stderr)
    assert (result.returncode, found["max-slug"]) == (3, "NOT MEASURED"), result.stderr
    assert "without the dependencies, which were not measured" in result.stderr


@pytest.mark.slow
def test_the_memory_limit_with_a_real_profile(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": "", "app.py": HELLO_WSGI})
    argv = (app, "--resolve", "--offline", "-q", "--profile", "--env", sys.executable, "--fail-on", "never")
    code, found, stderr = check(*argv)
    assert (code, found["max-memory"]) == (0, "PASS"), stderr
    code, found, stderr = check(*argv, "--max-memory", "1 MiB")
    assert (code, found["max-memory"]) == (1, "FAIL"), stderr
    assert "MiB over" in stderr
