"""`slugprof analyze` end to end, as a user runs it: real trees, a real virtualenv, real gzip."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from clirun import RUNTIME_STORE_VARIABLE
from wheelfactory import build_wheel

from slugprof.cli import main
from slugprof.config import Settings

pytestmark = pytest.mark.slow

CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in ("VIRTUAL_ENV",) and (not key.startswith("SLUGPROF_") or key == RUNTIME_STORE_VARIABLE)
}


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**CLEAN_ENV, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=300
    )


def slugprof(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "slugprof", *argv, cwd=cwd)


def _text_module(seed: int, lines: int) -> str:
    rng = random.Random(seed)
    words = ["value", "payload", "request", "session", "data", "frame", "index", "result", "config"]
    return "\n".join(
        f"def {rng.choice(words)}_{i}(x):\n    return x * {rng.randint(1, 999)} + {rng.choice(words)!r}"
        for i in range(lines)
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git-tracked Heroku app with a .slugignore and its own .venv holding a real installed wheel."""
    root = tmp_path_factory.mktemp("cli") / "app"
    root.mkdir()
    rng = random.Random(7)
    (root / "app.py").write_text("import payload\n\ndef app(environ, start_response):\n    return []\n")
    (root / "Procfile").write_text("web: gunicorn app:app\n")
    (root / "requirements.txt").write_text("payload==1.0\n")
    (root / ".python-version").write_text(f"{sys.version_info.major}.{sys.version_info.minor}\n")
    (root / ".slugignore").write_text("tests\n*.bin\n")
    (root / ".gitignore").write_text(".venv/\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text("def test_nothing():\n    assert True\n")
    (root / "static").mkdir()
    (root / "static" / "noise.dat").write_bytes(rng.randbytes(300_000))
    (root / "static" / "dropped.bin").write_bytes(rng.randbytes(50_000))
    (root / "static" / "site.css").write_text("body { margin: 0; }\n" * 2000)

    wheels = root.parent / "wheels"
    build_wheel(
        wheels,
        "payload",
        files={
            **{f"payload/mod{i}.py": _text_module(i, 300) for i in range(12)},
            "payload/__init__.py": "",
            "payload/blob.bin": rng.randbytes(400_000),
        },
    )
    _run(sys.executable, "-m", "venv", root / ".venv").check_returncode()
    pip: list[str | Path] = [
        root / ".venv" / "bin" / "python",
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--find-links",
        wheels,
    ]
    _run(*pip, "payload").check_returncode()

    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    env = {**CLEAN_ENV, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "app"]):
        subprocess.run(["git", *identity, *command], cwd=root, check=True, env=env, capture_output=True)
    (root / "notes.txt").write_text("not committed yet\n")
    return root


@pytest.fixture(scope="module")
def report(app: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("out") / "report.json"
    result = slugprof("analyze", app, "-o", out, "-q", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _installed_files(app: Path, package: str) -> list[Path]:
    """Every file pip installed for `package`, found by walking the venv ourselves."""
    site = next((app / ".venv" / "lib").glob("python3.*/site-packages"))
    found = [p for p in (site / package).rglob("*") if p.is_file()]
    found += [p for p in site.glob(f"{package}-*.dist-info/**/*") if p.is_file()]
    return found


def test_app_files_follow_git_and_slugignore(report: dict[str, Any]) -> None:
    files = {f["path"]: f for f in report["app"]["files"]}
    assert report["app"]["source"] == "git"
    assert files["tests/test_app.py"]["included"] is False
    assert files["tests/test_app.py"]["excluded_by"] == ".slugignore: tests"
    assert files["static/dropped.bin"]["excluded_by"] == ".slugignore: *.bin"
    assert files["app.py"]["included"] is True
    assert "notes.txt" not in files
    assert report["app"]["untracked"] == ["notes.txt"]
    assert not any(path.startswith(".venv/") for path in files)
    assert report["app"]["bytes"] == sum(f["bytes"] for f in files.values() if f["included"])


def test_dependencies_measured_from_the_apps_venv(app: Path, report: dict[str, Any]) -> None:
    dependencies = report["dependencies"]
    assert dependencies["source"] == "environment"
    assert dependencies["environment"] == ".venv"  # relative to the app root, whatever the current folder
    assert dependencies["interpreter"] == ".venv/bin/python"
    packages = {p["name"]: p for p in dependencies["packages"]}
    assert set(packages) == {"payload"}
    expected = sum(path.lstat().st_size for path in _installed_files(app, "payload"))
    assert packages["payload"]["bytes"] == expected
    assert packages["payload"]["top_level"] is True
    assert packages["payload"]["exclusive_bytes"] == expected
    assert "pip" in {p["name"] for p in dependencies["not_required"]}


def test_compressed_size_matches_a_real_tar_gzip(app: Path, report: dict[str, Any]) -> None:
    """Ground truth: tar + gzip -6 of the same files, plus the parts sized from settings."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):
        for file in sorted(report["app"]["files"], key=lambda f: f["path"]):
            if file["included"]:
                tar.add(app / file["path"], arcname=file["path"], recursive=False)
        for path in sorted(_installed_files(app, "payload")):
            tar.add(path, arcname=str(path), recursive=False)
    settings = Settings()
    unmeasured = settings.python_runtime_compressed_size + settings.pip_compressed_size
    if sys.version_info < (3, 13):
        unmeasured += settings.setuptools_compressed_size
    truth = len(buffer.getvalue()) + unmeasured
    slug = report["slug"]
    assert abs(slug["compressed_bytes"] - truth) <= slug["compressed_error"]
    measured = slug["compressed_bytes"] - unmeasured
    assert abs(measured - len(buffer.getvalue())) / len(buffer.getvalue()) < 0.05
    assert slug["status"] == "ok"
    assert slug["limit_bytes"] == 500_000_000
    names = [c["name"] for c in slug["components"]]
    assert names == ["app", "python", "dependencies", "buildpack tools"]


def test_exact_mode_and_limits_from_flags(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["analyze", str(app), "--exact", "--slug-limit", "1 MB", "--format", "json", "-q", "--no-cache"]
    )
    assert code == 0  # analyze measures; gating is check's job
    document = json.loads(capsys.readouterr().out)
    assert document["slug"]["compressed_method"] == "exact"
    assert document["slug"]["limit_bytes"] == 1_000_000
    assert document["slug"]["status"] == "over"


def test_terminal_report_for_humans(app: Path) -> None:
    result = slugprof("analyze", app, "--no-cache")
    assert result.returncode == 0, result.stderr
    assert "compressed of the 500 MB limit" in result.stdout
    assert "payload" in result.stdout
    assert ".slugignore removes 2 files" in result.stdout
    assert "notes.txt" in result.stdout


def test_quiet_prints_only_the_verdicts_and_the_errors(app: Path, tmp_path: Path) -> None:
    quiet = slugprof("analyze", app, "-q", "--no-cache")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # no progress bar either
    lines = quiet.stdout.splitlines()
    assert lines[0].startswith("Slug ") and "compressed of the 500 MB limit" in lines[0]
    assert lines[1].startswith("Build: Heroku would build it")
    assert len(lines) == 2  # no tables, and this app has no errors

    # No .python-version (a warning) and a committed .env (an error): -q keeps the error alone.
    secret = tmp_path / "with-secret"
    secret.mkdir()
    (secret / "app.py").write_text("app = None\n")
    (secret / "Procfile").write_text("web: gunicorn app:app\n")
    (secret / "requirements.txt").write_text("")
    (secret / ".env").write_text("API_TOKEN=not-shown\n")
    full = slugprof("analyze", secret, "--no-cache", "--resolve", "--offline")
    assert "Warnings (" in full.stdout and "SEC400" in full.stdout, full.stdout
    brief = slugprof("analyze", secret, "-q", "--no-cache", "--resolve", "--offline")
    assert "SEC400" in brief.stdout and "not-shown" not in brief.stdout
    assert "Warnings (" not in brief.stdout and "What is in the slug" not in brief.stdout
    saved = json.loads(
        slugprof("analyze", secret, "-q", "--no-cache", "--resolve", "--offline", "--format", "json").stdout
    )
    warned = [f["id"] for f in saved["findings"] if f["severity"] != "error"]
    assert warned and not any(rule_id in brief.stdout for rule_id in warned)


def test_settings_from_pyproject_apply(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.slugprof]\nslug-limit = "1 GiB"\n')
    (tmp_path / "requirements.txt").write_text("")
    result = slugprof("analyze", tmp_path, "--format", "json", "-q", "--no-cache", "--offline")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["slug"]["limit_bytes"] == 1024**3
    # No environment: resolved for the dyno instead (nothing to resolve in an empty requirements.txt).
    assert document["dependencies"]["source"] == "resolved"
    assert document["dependencies"]["target"]["stack"] == "heroku-24"
    assert document["dependencies"]["packages"] == []
    assert "BUILD162" in [finding["id"] for finding in document["findings"]]  # no Procfile


# --- bad input: one clear line, a documented exit code, never a traceback ---------------------


def _assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slugprof: error: ")
    assert words in lines[0]


def test_missing_folder(tmp_path: Path) -> None:
    _assert_clean_failure(slugprof("analyze", tmp_path / "nope"), 2, "no such folder")


def test_file_instead_of_folder(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("")
    _assert_clean_failure(slugprof("analyze", tmp_path / "app.py"), 2, "is a file")


def test_broken_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.slugprof\n")
    _assert_clean_failure(slugprof("analyze", tmp_path), 2, "not valid TOML")


def test_bad_size_flag(tmp_path: Path) -> None:
    _assert_clean_failure(slugprof("analyze", tmp_path, "--slug-limit", "lots"), 2, "cannot read 'lots'")


def test_unknown_output_extension(tmp_path: Path) -> None:
    _assert_clean_failure(
        slugprof("analyze", tmp_path, "-o", tmp_path / "r.xml"), 2, "cannot tell the format"
    )


def test_unknown_flag() -> None:
    _assert_clean_failure(slugprof("analyze", "--frobnicate"), 2, "unrecognized arguments")


def test_env_that_is_not_an_environment(tmp_path: Path) -> None:
    (tmp_path / "not-a-venv").mkdir()
    result = slugprof("analyze", tmp_path, "--env", tmp_path / "not-a-venv")
    _assert_clean_failure(result, 2, "not-a-venv")


def test_hostile_tree_is_measured_not_fatal(tmp_path: Path) -> None:
    """Garbage in every input file, a FIFO, a symlink loop and a very deep tree: exit 0, notes."""
    root = tmp_path / "app"
    root.mkdir()
    garbage = bytes(range(256)) * 4
    for name in (
        "requirements.txt",
        ".python-version",
        "runtime.txt",
        ".slugignore",
        "Pipfile.lock",
        "Procfile",
    ):
        (root / name).write_bytes(garbage)
    os.mkfifo(root / "pipe")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    deep = root
    for _ in range(300):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("deep")
    result = slugprof("analyze", root, "--format", "json", "-q", "--no-cache", "--offline")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    paths = {f["path"] for f in document["app"]["files"]}
    assert "/".join(["d"] * 300) + "/bottom.txt" in paths
    assert {"loop-a", "loop-b"} <= paths
    assert any(problem["path"] == "pipe" for problem in document["app"]["problems"])
    # The garbage is read as the buildpack reads it: runtime.txt stops the build, and so do the two
    # manager files; the slug is sized with the buildpack's default Python.
    errors = {entry["id"]: entry for entry in document["build"]["errors"]}
    assert errors["BUILD110"]["location"]["path"] == "runtime.txt", document["build"]
    assert "(requirements.txt, Pipfile.lock)" in errors["BUILD121"]["message"]
    assert document["python"]["source"] == "buildpack default (runtime.txt refused)"


def test_help_explains_the_command() -> None:
    result = slugprof("analyze", "--help")
    assert result.returncode == 0
    assert "--slug-limit" in result.stdout
    assert "Exits 0 when it measured" in result.stdout
