"""`slugprof rules`, `--ignore`, and the build verdict at the top of the terminal report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import run_slugprof as slugprof
from conftest import GitRunner

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_rules_lists_every_rule_and_explains_one() -> None:
    listing = slugprof("rules")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("BUILD: what makes the Heroku build fail, or warn\n")
    assert "  BUILD121  error    several-package-managers" in listing.stdout
    explained = slugprof("rules", "several-package-managers")
    assert explained.returncode == 0
    assert explained.stdout.startswith("BUILD121  several-package-managers  (error)\n")
    for heading in ("Why: ", "Fix: ", "Source: heroku-facts 3.4"):
        assert heading in explained.stdout
    assert slugprof("rules", "build121").stdout == explained.stdout


def test_an_unknown_rule_is_a_usage_error() -> None:
    result = slugprof("rules", "NOPE999")
    assert (result.returncode, result.stderr) == (
        2,
        "slugprof: error: no rule 'NOPE999': `slugprof rules` lists them\n",
    )


@pytest.fixture
def failing_app(tmp_path: Path, git: GitRunner) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("flask\n")
    (app / "uv.lock").write_text("version = 1\n")
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / "app.py").write_text("app = None\n")
    git(app, "init", "-q")
    git(app, "add", ".")
    git(app, "commit", "-q", "-m", "app")
    return app


def test_a_failing_build_is_said_first_and_analyze_still_exits_0(failing_app: Path) -> None:
    result = slugprof("analyze", failing_app, "--offline")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "THE BUILD WOULD FAIL:"
    assert lines[1].startswith(
        "  BUILD121  several package manager files are pushed (requirements.txt, uv.lock)"
    )
    assert next(i for i, line in enumerate(lines) if line.startswith("Slug ")) > 1
    findings = lines[lines.index(next(line for line in lines if line.startswith("Findings ("))) :]
    assert " Errors (1)" in findings and " Warnings (1)" in findings  # grouped, worst first
    assert findings.index(" Errors (1)") < findings.index(" Warnings (1)")
    assert any(line.startswith("  BUILD112  no Python version is specified") for line in findings)


def test_ignore_silences_a_rule_from_the_flag_and_from_pyproject(failing_app: Path, git: GitRunner) -> None:
    result = slugprof("analyze", failing_app, "-q", "--offline", "--format", "json", "--ignore", "build112")
    report = json.loads(result.stdout)
    assert "BUILD112" not in [finding["id"] for finding in report["findings"]]
    assert report["rules"] == {"ignored_rules": ["BUILD112"], "silenced": 1}
    (failing_app / "pyproject.toml").write_text('[tool.slugprof]\nignore = ["BUILD121"]\n')
    report = json.loads(slugprof("analyze", failing_app, "-q", "--offline", "--format", "json").stdout)
    assert report["rules"] == {"ignored_rules": ["BUILD121"], "silenced": 1}
    assert report["build"]["outcome"] == "builds"  # the only error was silenced
    bad = slugprof("analyze", failing_app, "-q", "--offline", "--ignore", "BUILD999")
    assert (bad.returncode, bad.stderr) == (
        2,
        "slugprof: error: ignore: no rule 'BUILD999' to ignore; `slugprof rules` lists them\n",
    )


def test_control_characters_in_file_names_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("flask\n")
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / "evil\x1b[2J\x07.py").write_text("x = 1\n" * 100)  # clear screen, bell
    (app / "[bold]notes.txt").write_text("kept as text, not read as a style\n" * 100)
    result = slugprof("analyze", app, "--offline")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b[2J\\x07.py" in result.stdout
    assert "[bold]notes.txt" in result.stdout


@pytest.mark.slow
def test_an_environment_inside_the_app_is_measured_once_and_never_called_undeployed(
    tmp_path: Path, git: GitRunner
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / ".python-version").write_text("3.13\n")
    git(app, "init", "-q")
    git(app, "add", ".")
    git(app, "commit", "-q", "-m", "app")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(app / ".venv")], check=True)
    untracked = json.loads(slugprof("analyze", app, "-q", "--format", "json").stdout)
    assert untracked["dependencies"]["environment"] == ".venv"
    assert not [path for path in untracked["app"]["untracked"] if path.startswith(".venv/")]

    git(app, "add", "-f", ".venv")
    git(app, "commit", "-q", "-m", "the venv, by mistake")
    committed = json.loads(slugprof("analyze", app, "-q", "--format", "json").stdout)
    assert not [f for f in committed["app"]["files"] if f["path"].startswith(".venv/")]
    assert any(".venv/ is the measured environment and is pushed too" in note for note in committed["notes"])
    assert [entry["id"] for entry in committed["build"]["errors"]] == ["BUILD130"]
