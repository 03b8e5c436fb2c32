"""An unexpected error is one line and exit 3; -v (before or after the subcommand) adds the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slugprof.cli import build_parser

# The injection: every real input found to reach an unexpected exception is a bug that gets fixed, so
# the run is a real `slugprof` process whose pipeline is made to fail by monkeypatching one of its
# stages before the CLI's in-process `main()` runs (inside that subprocess, not in pytest's).
INJECT = """\
import sys
import {module} as stage

def fail(*args, **kwargs):
    raise RuntimeError("the stage broke\\nwith a second line")

stage.{function} = fail
from slugprof.cli import main
sys.exit(main(sys.argv[1:]))
"""
ANALYZE_STAGE = ("slugprof.sources.buildpack", "choose_python_version")
PROFILE_STAGE = ("slugprof.sources.procfile", "read_procfile")
EXPECTED = (
    "slugprof: error: unexpected RuntimeError: the stage broke with a second line "
    "(rerun with -v for the traceback)"
)


def run_broken(stage: tuple[str, str], *argv: str | Path) -> subprocess.CompletedProcess[str]:
    module, function = stage
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(
        [sys.executable, "-c", INJECT.format(module=module, function=function), *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "requirements.txt").write_text("")
    (root / "Procfile").write_text("web: gunicorn app:app\n")
    (root / "app.py").write_text("def app(environ, start_response):\n    return []\n")
    return root


def test_unexpected_error_is_one_line_and_exit_3(app: Path) -> None:
    result = run_broken(ANALYZE_STAGE, "analyze", app, "-q", "--offline", "--no-cache")
    assert result.returncode == 3
    assert result.stderr.splitlines() == [EXPECTED]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [
        ("-v", "analyze", "{app}", "-q", "--offline", "--no-cache"),
        ("analyze", "{app}", "--verbose", "-q", "--offline", "--no-cache"),
    ],
    ids=["before", "after"],
)
def test_verbose_before_or_after_the_subcommand_shows_the_traceback(app: Path, argv: tuple[str, ...]) -> None:
    result = run_broken(ANALYZE_STAGE, *(part.format(app=app) for part in argv))
    assert result.returncode == 3
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert f"{os.sep}analysis.py" in result.stderr  # raised inside the pipeline, not at its door
    assert ", in fail" in result.stderr
    assert result.stderr.splitlines()[-1] == EXPECTED.removesuffix(" (rerun with -v for the traceback)")


def test_profile_takes_the_same_flag(app: Path) -> None:
    quiet = run_broken(PROFILE_STAGE, "profile", app, "-q", "--no-memray")
    assert (quiet.returncode, quiet.stderr.splitlines()) == (3, [EXPECTED])
    verbose = run_broken(PROFILE_STAGE, "profile", app, "-q", "--no-memray", "-v")
    assert verbose.returncode == 3
    assert "Traceback (most recent call last):" in verbose.stderr
    assert f"{os.sep}profiling.py" in verbose.stderr


def test_a_user_error_stays_one_line_even_with_verbose(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slugprof", "-v", "analyze", str(tmp_path / "missing"), "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["analyze"], False),
        (["-v", "analyze"], True),
        (["analyze", "-v"], True),
        (["--verbose", "profile"], True),
        (["profile", "--verbose"], True),
        (["profile"], False),
    ],
)
def test_verbose_is_global(argv: list[str], verbose: bool) -> None:
    assert build_parser().parse_args(argv).verbose is verbose
