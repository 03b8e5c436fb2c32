"""Fixtures shared by the test modules."""

from __future__ import annotations

import atexit
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

# No test reaches the buildpack's store of Python runtimes. Runs that serve no runtime of their own find
# this empty store on disk (a not-found at once, no network), so they size the runtime from the settings
# and say so; every `slugprof` run a test starts inherits it (clirun keeps this one SLUGPROF_ variable),
# and in-process analyses pass it in their Settings.
_EMPTY_STORE = tempfile.mkdtemp(prefix="slugprof-no-runtimes-")
atexit.register(os.rmdir, _EMPTY_STORE)
NO_RUNTIME_STORE = Path(_EMPTY_STORE).as_uri()
os.environ["SLUGPROF_PYTHON_RUNTIME_URL"] = NO_RUNTIME_STORE


@pytest.fixture
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git sees no repository above tmp_path and no user or system configuration (no global ignores)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


GitRunner = Callable[..., str]


@pytest.fixture
def git(isolated_git: None) -> GitRunner:
    """Run a real git command in a folder: git(folder, "add", "."); returns its standard output."""

    def run(cwd: Path, *arguments: str) -> str:
        identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
        completed = subprocess.run(
            ["git", *identity, *arguments], cwd=cwd, capture_output=True, text=True, check=False
        )
        assert completed.returncode == 0, f"git {' '.join(arguments)} failed: {completed.stderr}"
        return completed.stdout

    return run


def write_tree(root: Path, paths: list[str]) -> None:
    """Create files (with their path as content) and, for paths ending in '/', empty folders."""
    for path in paths:
        target = root / path
        if path.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path)


@pytest.fixture
def make_tree() -> Callable[[Path, list[str]], None]:
    return write_tree


# --- opt-in tests against the real package index -------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-network",
        action="store_true",
        default=False,
        help="run the tests marked `network` (they use the real package index)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-network"):
        return
    skip = pytest.mark.skip(reason="uses the real package index: give --run-network to run it")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
