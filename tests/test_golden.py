"""Golden files: the terminal, JSON and Markdown renderings of a fixed analyze and profile report.

The reports come from the real pipeline (analyze on a small app the test writes) or are built field by
field (profile); the clock, the tool's version and the app's folder are injected so that the files
stay byte-for-byte stable. After an intended change of output, rewrite them with
`SLUGPROF_UPDATE_GOLDEN=1 pytest tests/test_golden.py` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.model import (
    AllocationSite,
    AnalyzeReport,
    DynoFit,
    Finding,
    ImportCost,
    Latency,
    MemoryMeasure,
    MemorySample,
    MemorySummary,
    MemrayMode,
    MemrayRun,
    ProcessProfile,
    ProcessSnapshot,
    ProfiledApp,
    ProfileReport,
    RequestStats,
    Severity,
    ToolInfo,
    WorkersFrom,
)
from slugprof.model.saved import read_report, write_report
from slugprof.render.markdown import render_markdown
from slugprof.render.profile_terminal import render_profile_terminal
from slugprof.render.terminal import render_terminal

GOLDEN = Path(__file__).parent / "golden"
CREATED = "2026-12-01T12:00:00+00:00"
TOOL = ToolInfo(version="0.0.0-golden")
MIB = 1024 * 1024


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SLUGPROF_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: create it with SLUGPROF_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def analyze_report(tmp_path_factory: pytest.TempPathFactory) -> AnalyzeReport:
    app = tmp_path_factory.mktemp("golden") / "app"
    (app / "static").mkdir(parents=True)
    (app / "tests").mkdir()
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / ".python-version").write_text("3.13\n")
    (app / "app.py").write_text("from flask import Flask\n\napp = Flask(__name__)\n" * 40)
    (app / "static" / "site.css").write_text("body { margin: 0; }\n" * 500)
    (app / "tests" / "test_app.py").write_text("def test_app():\n    assert True\n" * 50)
    (app / ".slugignore").write_text("tests\n*.psd\n")
    # The tar headers hold each file's mtime: fixed, so the compressed figures are too.
    for path in [app, *app.rglob("*")]:
        os.utime(path, (1_700_000_000, 1_700_000_000))
    options = AnalyzeOptions(
        app_root=app,
        settings=Settings(),
        resolve=True,
        offline=True,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )
    report = analyze(options, {})
    return dataclasses.replace(
        report,
        created=CREATED,
        tool=TOOL,
        app=dataclasses.replace(report.app, root="~/code/golden-app"),
        notes=tuple(note.replace(str(app), "APP") for note in report.notes),
    )


def profile_report() -> ProfileReport:
    snapshots = (
        ProcessSnapshot(
            pid=100, rss=60 * MIB, pss=40 * MIB, uss=30 * MIB, threads=2, anon=34 * MIB, private=29 * MIB
        ),
        ProcessSnapshot(
            pid=101, rss=55 * MIB, pss=25 * MIB, uss=12 * MIB, threads=1, anon=20 * MIB, private=11 * MIB
        ),
        ProcessSnapshot(
            pid=102, rss=56 * MIB, pss=26 * MIB, uss=13 * MIB, threads=1, anon=21 * MIB, private=12 * MIB
        ),
    )
    samples = (
        MemorySample(
            0.1,
            total_pss_bytes=80 * MIB,
            total_rss_bytes=160 * MIB,
            processes=snapshots,
            total_anon_bytes=68 * MIB,
        ),
        MemorySample(
            0.2,
            total_pss_bytes=91 * MIB,
            total_rss_bytes=171 * MIB,
            processes=snapshots,
            total_anon_bytes=75 * MIB,
        ),
    )

    def process(pid: int, role: str, uss: int, private: int) -> ProcessProfile:
        return ProcessProfile(
            pid=pid,
            role="master" if role == "master" else "worker",
            command=f"~/code/golden-app/.venv/bin/python -m gunicorn app:app ({role})",
            peak_rss_bytes=60 * MIB,
            peak_pss_bytes=40 * MIB,
            peak_uss_bytes=uss,
            peak_anon_bytes=private + 5 * MIB,
            peak_private_bytes=private,
            heap_peak_bytes=20 * MIB if role == "master" else None,
            threads_max=1,
            top_sites=(AllocationSite("app.py:3 <module>", 18 * MIB, 12),) if role == "master" else (),
            growth_bytes_per_second=None if role == "master" else 512.0,
            first_seen=0.1,
            last_seen=0.2,
        )

    return ProfileReport(
        tool=TOOL,
        created=CREATED,
        app=ProfiledApp(root="~/code/golden-app", process_type="web", command="gunicorn app:app"),
        dyno="standard-1x",
        web_concurrency="2",
        memray=MemrayRun(MemrayMode.APP),
        boot_seconds=0.412,
        shutdown_seconds=0.205,
        graceful_shutdown=True,
        memory=MemorySummary(
            peak_total_bytes=75 * MIB,
            measure=MemoryMeasure.ANONYMOUS,
            peak_total_pss_bytes=91 * MIB,
            peak_total_rss_bytes=171 * MIB,
            base_bytes=52 * MIB,
            worker_marginal_bytes=12 * MIB,
            samples=samples,
        ),
        processes=(
            process(100, "master", 30 * MIB, 29 * MIB),
            process(101, "worker", 12 * MIB, 11 * MIB),
            process(102, "worker", 12 * MIB, 11 * MIB),
        ),
        imports=(ImportCost(module="pandas", bytes=55 * MIB, role="master"),),
        requests=RequestStats(
            count=20, status_codes={200: 19, 500: 1}, latency_seconds=Latency(0.003, 0.014, 0.02)
        ),
        headroom=0.1,
        workers_from=WorkersFrom.PLATFORM,
        dyno_fit=(
            DynoFit("standard-1x", 512 * MIB, 2, 76 * MIB, "ok", 30, 1024 * MIB),
            DynoFit("eco", 512 * MIB, 2, 76 * MIB, "ok", 30),
            DynoFit("basic", 512 * MIB, 2, 76 * MIB, "ok", 30),
        ),
        notes=("1 of 20 requests did not answer 2xx/3xx",),
    )


def test_analyze_json(analyze_report: AnalyzeReport) -> None:
    text = write_report(analyze_report)
    check("analyze.json", text)
    assert read_report(text) == analyze_report


def test_analyze_terminal(analyze_report: AnalyzeReport) -> None:
    check("analyze.txt", render_terminal(analyze_report, width=100))


def test_analyze_terminal_in_colour(analyze_report: AnalyzeReport) -> None:
    text = render_terminal(analyze_report, color=True, width=100)
    assert "\x1b[" in text
    check("analyze.color.txt", text)


def test_profile_json() -> None:
    text = write_report(profile_report())
    check("profile.json", text)
    assert read_report(text) == profile_report()


def test_profile_terminal() -> None:
    check("profile.txt", render_profile_terminal(profile_report(), width=100))


def test_markdown_of_an_analysis_and_a_profile(analyze_report: AnalyzeReport) -> None:
    check("report.md", render_markdown(analyze_report, profile_report()))


def test_profile_terminal_brief_keeps_the_verdict_and_the_errors() -> None:
    error = Finding(id="MEM500", severity=Severity.ERROR, title="the dyno is over its quota")
    warning = Finding(id="MEM510", severity=Severity.WARNING, title="pandas is imported by each worker")
    report = dataclasses.replace(profile_report(), findings=(error, warning))
    full = render_profile_terminal(report, width=100)
    brief = render_profile_terminal(report, width=100, brief=True)
    assert "MEM510" in full and "Processes at their peaks" in full
    lines = brief.splitlines()
    assert lines[0].startswith("Peak dyno memory 75.0 MiB") and "WITHIN THE QUOTA" in lines[0]
    assert lines[1].strip().startswith("MEM500") and "MEM510" not in brief
    assert "Processes at their peaks" not in brief
