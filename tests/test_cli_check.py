"""`slugprof check` as CI runs it: each limit from a flag and from pyproject.toml, which wins, each exit
code, on saved reports (the committed examples), on apps measured for real, and with a real profile."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from clirun import HELLO_WSGI, run_slugprof, write_app

from slugprof.model import Finding, Location, Severity
from slugprof.model.saved import load_report, write_report

REPORTS = Path(__file__).resolve().parent.parent / "reports"
# bloated: slug 156 MB compressed, peak 158.6 MiB (anonymous) on standard-1x, three error findings
# (DEP313, SEC400, SEC420); flask_basic: 26 MB, no warning or error.
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
    code, found, stderr = check(*BLOATED, "--fail-on", "never", "--max-memory", "100 MiB")
    assert (code, found["max-memory"]) == (1, "FAIL")
    # The sample's .env asks for 3 workers, which a dyno never reads: standard-1x runs 2, and the
    # gate judges the prediction at 2 (about 111 MiB), not the run's 3-worker peak (about 159 MiB).
    assert "predicted at the 2 workers it runs (the run had 3)" in stderr
    code, found, stderr = check(*BLOATED, "--fail-on", "never", "--max-memory", "150 MiB")
    assert (code, found["max-memory"]) == (0, "PASS")
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


def test_on_github_actions_annotations_and_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = run_slugprof("check", *BLOATED, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations[0].startswith("::error file=requirements.txt,line=4,title=DEP313::opencv-python")
    assert "%0Afix: require opencv-python-headless" in annotations[0]  # the fix on its own line
    assert {line.split(" ", 1)[0] for line in annotations} == {"::error", "::warning"}
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never replaced
    assert "- `fail-on: FAIL: 3 error findings: DEP313, SEC400, SEC420`" in text
    assert "<!-- slugprof-report -->" in text and len(text.encode()) < 1024 * 1024


def test_at_most_ten_annotations_a_severity(tmp_path: Path) -> None:
    report = load_report(TIDY)
    many = tuple(
        Finding(id="SLUG201", severity=Severity.WARNING, title=f"warning {n}", location=Location("app.py", n))
        for n in range(1, 13)
    )
    saved = tmp_path / "many.json"
    saved.write_text(write_report(dataclasses.replace(report, findings=many)))
    result = run_slugprof("check", saved, "--fail-on", "never", GITHUB_ACTIONS="true")
    warnings = [line for line in result.stdout.splitlines() if line.startswith("::warning ")]
    assert len(warnings) == 10 and warnings[0] == "::warning file=app.py,line=1,title=SLUG201::warning 1"


def test_gitlab_code_quality_report(tmp_path: Path) -> None:
    out = tmp_path / "gl-code-quality.json"
    result = run_slugprof("check", *BLOATED, "--format", "codequality", "-o", out)
    assert result.returncode == 1, result.stderr
    issues = json.loads(out.read_text())
    # GitLab's documented fields, with their types: the widget ignores an issue missing one.
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert isinstance(issue["location"]["path"], str) and issue["location"]["path"]
        begin = issue["location"]["lines"]["begin"]
        assert isinstance(begin, int) and begin >= 1
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    by_rule = {issue["check_name"]: issue for issue in issues}
    assert by_rule["DEP313"]["location"] == {"path": "requirements.txt", "lines": {"begin": 4}}
    assert by_rule["DEP313"]["severity"] == "critical"
    again = tmp_path / "again.json"
    run_slugprof("check", *BLOATED, "--format", "codequality", "-o", again)
    assert [issue["fingerprint"] for issue in json.loads(again.read_text())] == fingerprints  # stable


def test_json_verdicts_for_scripts() -> None:
    result = run_slugprof("check", *BLOATED, "--format", "json")
    document = json.loads(result.stdout)
    assert document["kind"] == "check" and document["exit_code"] == result.returncode == 1
    assert document["schema"] == 1
    assert [(v["limit"], v["outcome"]) for v in document["verdicts"]] == [
        ("max-slug", "pass"),
        ("max-memory", "pass"),
        ("fail-on", "fail"),
    ]


def test_max_memory_without_a_profile_is_a_usage_error(tmp_path: Path) -> None:
    # Asked on the command line, a memory limit that cannot be checked is a mistake to say at once (before
    # measuring anything); set in pyproject.toml, it applies when a profile is there.
    for argv in ((TIDY,), (write_app(tmp_path / "app", {"requirements.txt": ""}),)):
        result = run_slugprof("check", *argv, "--max-memory", "400 MiB", "--offline")
        assert result.returncode == 2, result.stderr
        assert "--max-memory needs a profile: add --profile" in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nmax-memory = "400 MiB"\n')
    code, found, _ = check(TIDY, cwd=tmp_path)
    assert (code, found["max-memory"]) == (0, "NOT CHECKED")
