"""`profile --try VARIANT`: the app run again with one change, measured the same way; the memory findings
take their saving from it. Real gunicorn, real workers, real memray."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import run_slugprof

from slugprof.errors import UsageError
from slugprof.sources.variants import parse_variant

MIB = 1024 * 1024
# Each worker imports the app after the fork (no --preload), and the app holds 40 MiB it wrote at import:
# two workers hold two copies. With --preload the master holds the one copy its workers share.
APP = """\
import os
if os.environ.get("CRASH") == "1":
    raise RuntimeError("asked to fail")
DATA = b"\\x01" * (40 * 1024 * 1024)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


def write_app(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "Procfile").write_text("web: gunicorn app:app\n")
    (root / "app.py").write_text(APP)
    return root


def profile(app: Path, *extra: str) -> dict[str, Any]:
    result = run_slugprof(
        "profile", app, "--env", sys.executable, "--requests", "4", "--format", "json", "-q", *extra
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.slow
def test_preload_tried_frees_one_copy_and_the_finding_takes_that_saving(tmp_path: Path) -> None:
    report = profile(write_app(tmp_path / "app"), "--try", "preload")
    (variant,) = report["variants"]
    assert variant["name"] == "preload" and variant["served"] is True and variant["workers"] == 2
    freed = report["memory"]["peak_total_bytes"] - variant["peak_total_bytes"]
    assert abs(freed - 40 * MIB) < 0.10 * 40 * MIB, freed / MIB  # the second worker's copy, shared now
    # memray saw app.py:4 hold 40 MiB in each worker: MEM520's saving is the run's, not an estimate
    (finding,) = [f for f in report["findings"] if f["id"] == "MEM520"]
    assert finding["memory_savings_bytes"] == freed
    assert any(line.startswith("--try preload measured: peak") for line in finding["evidence"])


@pytest.mark.slow
def test_without_a_try_the_saving_is_said_not_measured(tmp_path: Path) -> None:
    report = profile(write_app(tmp_path / "app"))
    assert report["variants"] == []
    (finding,) = [f for f in report["findings"] if f["id"] == "MEM520"]
    assert finding["memory_savings_bytes"] is None
    assert "saving not measured: `slugprof profile --try preload` measures it" in finding["evidence"]


@pytest.mark.slow
def test_a_variant_that_makes_the_app_fail_is_reported_as_such(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    report = profile(app, "--no-memray", "--try", "env:CRASH=1", "--try", "workers=1")
    failed, one = report["variants"]
    assert failed["served"] is False and failed["peak_total_bytes"] is None
    assert "RuntimeError: asked to fail" in failed["detail"]
    assert one["served"] is True and one["workers"] == 1
    assert one["peak_total_bytes"] < report["memory"]["peak_total_bytes"] - 30 * MIB  # one copy fewer
    terminal = run_slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--requests", "2", "--try", "workers=1"
    )
    assert "Tried again with one change (--try)" in terminal.stdout and "workers=1" in terminal.stdout


def test_variants_are_read_as_documented() -> None:
    assert parse_variant("preload").environment({"GUNICORN_CMD_ARGS": "--access-logfile -"}) == {
        "GUNICORN_CMD_ARGS": "--access-logfile - --preload"
    }
    assert parse_variant("workers=3").environment({}) == {
        "WEB_CONCURRENCY": "3",
        "GUNICORN_CMD_ARGS": "--workers 3",
    }
    assert parse_variant("threads=4").environment({}) == {"GUNICORN_CMD_ARGS": "--threads 4"}
    assert parse_variant("env:MALLOC_ARENA_MAX=2").environment({"A": "1"}) == {
        "A": "1",
        "MALLOC_ARENA_MAX": "2",
    }
    for bad in ("preload=1", "workers=0", "workers=x", "env:=2", "env:A", "gc"):
        with pytest.raises(UsageError, match="--try"):
            parse_variant(bad)
