"""The pre-commit hook: its definition, read as pre-commit reads it, and (with --run-network, since
pre-commit installs the hook's environment from the package index) `pre-commit try-repo` running it on
a sample app committed to a real git repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clirun import run_slugprof
from conftest import GitRunner

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def hook() -> dict[str, object]:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and [each["id"] for each in hooks] == ["slugprof-check"]
    found: dict[str, object] = hooks[0]
    return found


def test_the_hook_runs_check_offline_once_per_commit_on_the_files_that_decide_the_build() -> None:
    definition = hook()
    assert definition["entry"] == "slugprof check --offline -q"
    assert definition["language"] == "python" and definition["pass_filenames"] is False
    files = re.compile(str(definition["files"]))
    for path in (
        "requirements.txt", "requirements-prod.txt", "api/uv.lock", "poetry.lock", "Pipfile", "Pipfile.lock",
        "pyproject.toml", ".slugignore", ".python-version", "runtime.txt", "Procfile",
    ):  # fmt: skip
        assert files.search(path), path
    for path in ("app.py", "README.md", "requirements/notes.md", "static/Procfile.png"):
        assert not files.search(path), path


def test_the_hooks_command_exits_as_check_does(tmp_path: Path) -> None:
    # What the hook runs, on a folder without requirements: measured offline, within every limit.
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / ".python-version").write_text(f"{sys.version_info.major}.{sys.version_info.minor}\n")
    entry = str(hook()["entry"]).split()
    result = run_slugprof(*entry[1:], cwd=app)
    assert result.returncode == 0, result.stderr


@pytest.mark.network
@pytest.mark.slow
def test_pre_commit_try_repo_runs_the_hook_on_a_sample_app(tmp_path: Path, git: GitRunner) -> None:
    app = tmp_path / "flask_basic"
    shutil.copytree(ROOT / "sample_apps" / "flask_basic", app, ignore=shutil.ignore_patterns(".venv"))
    git(app, "init", "-q")
    git(app, "add", ".")
    git(app, "commit", "-q", "-m", "the app")
    cache = tmp_path / "cache"
    warm = run_slugprof("analyze", app, "--resolve", "-q", "--format", "json", XDG_CACHE_HOME=str(cache))
    assert warm.returncode == 0, warm.stderr  # the hook runs offline: its cache is warmed online once
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "slugprof-check", "--all-files"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "slugprof check" in result.stdout and "Passed" in result.stdout
