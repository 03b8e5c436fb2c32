"""An app without a worker model (`python app.py`, Streamlit, one uvicorn process): no master, no
workers, so the dyno fit is the whole process tree's peak on each size, with no worker count.

The app is a real `http.server` on $PORT, profiled end to end; the rules and renderers read its saved
report, refitted to a larger peak where a test needs one over a quota.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import run_slugprof as slugprof
from filetree import write_files

from slugprof.measure.dynofit import fit_dynos, worker_cost
from slugprof.model import Finding, ProfileReport
from slugprof.model.saved import read_report, write_report
from slugprof.render.html import render_html
from slugprof.render.markdown import render_markdown
from slugprof.render.profile_terminal import render_profile_terminal
from slugprof.rules import RuleInputs, run_rules
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.dyno import dyno_sizes

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
HELD_MIB = 30
SERVER = f"""\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

HELD = b"x" * ({HELD_MIB} * 1024 * 1024)  # written, so it is the process's own anonymous memory


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Hello).serve_forever()
"""
APP = {
    "Procfile": "web: python app.py\n",
    "app.py": SERVER,
    # Heroku does not read .env; for an app with workers MEM501 says so. This one starts none.
    ".env": "WEB_CONCURRENCY=3\n",
}


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ProfileReport]:
    app = write_files(tmp_path_factory.mktemp("one") / "app", APP)
    result = slugprof("profile", app, "--env", sys.executable, "--no-memray", "--format", "json", "-q")
    assert result.returncode == 0, result.stderr
    assert write_report(read_report(result.stdout)) == result.stdout  # the saved contract holds
    report = read_report(result.stdout)
    assert isinstance(report, ProfileReport)
    return app, report


def test_the_fit_of_a_plain_python_server_is_its_whole_peak_with_no_workers(
    profiled: tuple[Path, ProfileReport],
) -> None:
    _, report = profiled
    document: dict[str, Any] = json.loads(write_report(report))
    assert document["worker_model"] is False
    assert {process["role"] for process in document["processes"]} == {"other"}
    assert report.requests is not None and report.requests.status_codes.get(200)
    peak = document["memory"]["peak_total_bytes"]
    assert peak >= HELD_MIB * MIB
    fits = document["dyno_fit"]
    assert {fit["dyno"] for fit in fits} == {size.name for size in dyno_sizes("cedar")}
    for fit in fits:
        assert (fit["workers"], fit["max_workers"]) == (0, 0), fit
        assert fit["predicted_bytes"] == peak, fit
        assert fit["status"] == "ok"  # 30 MiB and an interpreter, against 512 MiB and more


def refit(
    report: ProfileReport, peak: int, dyno: str = "standard-1x", generation: str = "cedar"
) -> ProfileReport:
    """The report as if its one process had peaked at `peak`, on `dyno` of `generation`."""
    cost = worker_cost(peak, [])
    fits = fit_dynos(cost, dyno_sizes(generation), headroom=report.headroom)
    memory = dataclasses.replace(report.memory, peak_total_bytes=peak, base_bytes=cost.base_bytes)
    return dataclasses.replace(report, memory=memory, dyno_fit=tuple(fits), dyno=dyno, generation=generation)


def findings(report: ProfileReport, app: Path) -> dict[str, Finding]:
    files = BuildFiles.of(app, collect_app_files(app))
    found, _, _ = run_rules(RuleInputs(files=files, profile_report=report), ())
    return {finding.id: finding for finding in found}


# Advice on a worker count: "run 3 workers", "2 workers fit", WEB_CONCURRENCY, gunicorn's -w.
WORKER_ADVICE = re.compile(r"\d+ workers?\b|WEB_CONCURRENCY|--workers|-w \d")


def _words(finding: Finding) -> str:
    fix = finding.fix
    parts = [finding.title, *finding.evidence]
    if fix is not None:
        parts += [fix.summary, fix.command or ""]
    return " ".join(parts)


def test_mem500_judges_the_whole_peak_and_advises_a_larger_dyno_not_workers(
    profiled: tuple[Path, ProfileReport],
) -> None:
    app, report = profiled
    found = findings(report, app)
    assert not {"MEM500", "MEM501", "MEM502", "MEM504"} & set(found)  # .env's WEB_CONCURRENCY included
    # 700 MiB on a 512 MiB standard-1x: above the quota, below R15 at twice it.
    over = findings(refit(report, 700 * MIB), app)
    mem500 = over["MEM500"]
    assert "R14" in mem500.title and "one process" in mem500.title
    assert not WORKER_ADVICE.search(_words(mem500)), _words(mem500)
    assert mem500.fix is not None
    # standard-2x: 1 GiB less the 10% headroom holds 700 MiB; nothing smaller of the kind does.
    assert mem500.fix.command == "heroku ps:type web=standard-2x"
    assert not {"MEM501", "MEM502"} & set(over)
    # 1,100 MiB: over R15 (2 x 512 MiB) as well.
    assert "R15" in findings(refit(report, 1100 * MIB), app)["MEM500"].title


def test_on_fir_no_rule_asks_for_web_concurrency(profiled: tuple[Path, ProfileReport]) -> None:
    app, report = profiled
    on_fir = refit(report, report.memory.peak_total_bytes, dyno="dyno-1c-0.5gb", generation="fir")
    found = findings(on_fir, app)
    assert not {"MEM500", "MEM501", "MEM502", "MEM504"} & set(found)
    too_big = findings(refit(report, 600 * MIB, dyno="dyno-1c-0.5gb", generation="fir"), app)
    assert not WORKER_ADVICE.search(_words(too_big["MEM500"]))


def _fit_section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def test_every_renderer_shows_one_process_and_no_worker_counts(profiled: tuple[Path, ProfileReport]) -> None:
    _, report = profiled
    terminal = render_profile_terminal(report, width=160)
    fit = _fit_section(terminal, "Dyno fit", "requests (")
    assert "one process" in fit and "worker" not in fit
    assert "one more worker" not in terminal and "one process: no master with workers ran" in terminal
    markdown = render_markdown(None, report)
    fit = _fit_section(markdown, "<summary>Dyno fit", "</details>")
    assert "one process" in fit.lower() and "worker" not in fit.replace("no master with workers", "")
    html = render_html(None, report)
    fit = _fit_section(html, '<section id="dyno-fit">', "</section>")
    headings = re.findall(r"<th[^>]*>([^<]*)</th>", fit)
    assert headings == ["dyno", "quota", "predicted", ""]
    assert "one process" in fit and "worker" not in fit
    assert "one more worker" not in html
