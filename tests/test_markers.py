"""One marker evaluator: what applies on the dyno; a marker that cannot be decided is included, and said."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from filetree import write_files
from test_lockfiles import POETRY_LOCK_2_1, POETRY_PYPROJECT, by_name

from slugprof.errors import UsageError
from slugprof.markers import decide
from slugprof.sources.locks import read_poetry_lock
from slugprof.sources.target import make_target, target_marker_environment

DYNO = target_marker_environment(make_target("heroku-24", "amd64", "3.13", "poetry"))
UNDECIDABLE = "platform_release ~= 'abc'"  # packaging cannot compare a kernel release with ~=


def _undecidable_pyproject() -> str:
    numpy = f'numpy = {{ version = "^2.1", markers = "{UNDECIDABLE}" }}'
    project = f'[project]\nname = "myapp"\ndependencies = ["requests ; {UNDECIDABLE}"]\n\n'
    return project + POETRY_PYPROJECT.replace('numpy = "^2.1"', numpy)


def test_no_marker_applies() -> None:
    assert decide(None, DYNO, where="x").applies
    assert decide("", DYNO, where="x").applies


def test_a_marker_is_evaluated_for_the_dyno() -> None:
    assert decide("sys_platform == 'linux'", DYNO, where="x").applies
    assert not decide("sys_platform == 'win32'", DYNO, where="x").applies
    assert not decide("python_version < '3.11'", DYNO, where="x").applies


@pytest.mark.parametrize(
    ("marker", "applies"),
    [
        (f"python_version < '3.8' and {UNDECIDABLE}", False),  # the first half rules it out
        (f"{UNDECIDABLE} and python_version < '3.8'", False),
        (f"python_version >= '3.8' or {UNDECIDABLE}", True),  # the first half lets it in
        (f"({UNDECIDABLE} or sys_platform == 'win32') and os_name == 'nt'", False),
        (f"extra == 'gpu' and {UNDECIDABLE}", False),  # an extra nobody asked for
    ],
)
def test_a_comparison_that_cannot_be_made_does_not_decide_a_marker_the_rest_decides(
    marker: str, applies: bool
) -> None:
    decision = decide(marker, DYNO, where="x")
    assert decision.applies is applies
    assert decision.note is None


def test_a_comparison_that_cannot_be_made_and_matters_is_included_with_a_note() -> None:
    decision = decide(f"python_version >= '3.8' and {UNDECIDABLE}", DYNO, where="requirements.txt:3 numpy")
    assert decision.applies
    assert decision.note is not None
    assert decision.note.startswith("requirements.txt:3 numpy: the marker")
    assert "could not be decided for the dyno" in decision.note


def test_an_extra_counts_only_when_it_is_asked_for() -> None:
    assert not decide("extra == 'socks'", DYNO, where="x").applies
    assert decide("extra == 'socks'", DYNO, where="x", extras=("socks",)).applies


def test_an_undecidable_marker_includes_the_requirement_and_says_so() -> None:
    decision = decide(UNDECIDABLE, DYNO, where="requirements.txt:3 numpy")
    assert decision.applies
    assert decision.note is not None
    assert decision.note.startswith("requirements.txt:3 numpy: the marker ")
    assert "platform_release" in decision.note and decision.note.endswith("; included")


def test_an_invalid_marker_is_a_usage_error_naming_where() -> None:
    with pytest.raises(UsageError, match=r"^poetry.lock: package x: invalid marker"):
        decide("python_version >>> '3'", DYNO, where="poetry.lock: package x")


def test_pyproject_dependencies_with_an_undecidable_marker_are_read(tmp_path: Path) -> None:
    """Before the one evaluator, this pyproject made the poetry reader raise (a traceback, exit 1)."""
    write_files(tmp_path, {"poetry.lock": POETRY_LOCK_2_1, "pyproject.toml": _undecidable_pyproject()})
    locked = read_poetry_lock(tmp_path, make_target("heroku-24", "amd64", "3.13", "poetry"))
    assert {"numpy", "requests"} <= set(by_name(locked))
    undecided = [note for note in locked.notes if "could not be decided" in note]
    assert any("numpy" in note for note in undecided), locked.notes
    assert any("requests" in note for note in undecided), locked.notes


def test_analyze_reports_the_undecidable_marker_and_exits_0(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    write_files(
        app,
        {
            "poetry.lock": POETRY_LOCK_2_1,
            "pyproject.toml": _undecidable_pyproject(),
            "Procfile": "web: gunicorn app:app\n",
        },
    )
    command = ["analyze", str(app), "--resolve", "--offline", "--format", "json", "-q"]
    result = subprocess.run(
        [sys.executable, "-m", "slugprof", *command],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    notes = json.loads(result.stdout)["dependencies"]["notes"]
    assert any("could not be decided for the dyno" in note and "numpy" in note for note in notes), notes
