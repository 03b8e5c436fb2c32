"""Growth per thousand requests: a real gunicorn app that keeps a known allocation per request.

The app keeps 20 KiB of written bytes per request in a module-level list; the profile's growth per
thousand requests must recover that allocation (1000 x its size in memory), and an app that keeps
nothing must show none (and no MEM531).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from clirun import run_slugprof as slugprof
from filetree import write_files

from slugprof.model import ProfileReport
from slugprof.model.saved import read_report
from slugprof.render.profile_terminal import render_profile_terminal

pytestmark = pytest.mark.slow

KEPT_BYTES = 20 * 1024
APP = """\
KEPT = []


def app(environ, start_response):
    KEPT.append(b"x" * {kept})  # kept for good: the allocation each request leaves behind
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""
# What one kept object costs: the bytes object as the allocator holds it, and its slot in the list.
PER_REQUEST = sys.getsizeof(b"x" * KEPT_BYTES) + 8


def _profile(app: Path, *arguments: str) -> ProfileReport:
    result = slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--format", "json", "-q", *arguments
    )
    assert result.returncode == 0, result.stderr
    report = read_report(result.stdout)
    assert isinstance(report, ProfileReport)
    return report


def _app(root: Path, kept: int) -> Path:
    return write_files(root, {"Procfile": "web: gunicorn app:app\n", "app.py": APP.format(kept=kept)})


def test_growth_per_thousand_requests_recovers_a_known_allocation(tmp_path: Path) -> None:
    report = _profile(_app(tmp_path / "leaky", KEPT_BYTES), "--requests", "2000")
    growth = report.memory.growth_per_thousand_requests_bytes
    assert growth is not None
    expected = 1000 * PER_REQUEST
    assert abs(growth - expected) <= 0.10 * expected, (growth, expected)
    finding = next(f for f in report.findings if f.id == "MEM531")
    assert finding.fix is not None
    (edit,) = finding.fix.edits
    assert edit.new == "web: gunicorn --max-requests 1000 --max-requests-jitter 100 app:app"
    assert "per thousand requests" in render_profile_terminal(report, width=120)


def test_an_app_that_keeps_nothing_shows_no_growth_and_a_short_run_says_how_to_measure(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path / "steady", 0)
    report = _profile(app, "--requests", "5000")  # this app answers fast: more requests to sample them
    growth = report.memory.growth_per_thousand_requests_bytes
    assert growth is not None and abs(growth) < 1024 * 1024
    assert "MEM531" not in {finding.id for finding in report.findings}
    short = _profile(app)  # the default 20 requests
    assert short.memory.growth_per_thousand_requests_bytes is None
    assert "send --requests 1000 or more" in render_profile_terminal(short, width=120)
