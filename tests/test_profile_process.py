"""`profile --process NAME`: a Procfile process that serves no HTTP, run as a dyno runs it.

A real Celery worker (the in-memory broker: no server to run) and a plain clock loop are profiled end to
end: ready when their process tree settles, sent no requests, and fitted with the process model they
run (Celery's pool: one process per core the dyno reports, unless --concurrency says).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from clirun import run_slugprof as slugprof
from filetree import write_files

from slugprof.model import ProfileReport, WorkersFrom
from slugprof.model.saved import read_report, write_report
from slugprof.render.profile_terminal import render_profile_terminal
from slugprof.sources.dyno import dyno_sizes

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
POOL_HELD_MIB = 60  # each pool process writes this much as it starts: 8 of them pass a 512 MiB quota
CLOCK_HELD_MIB = 40
TASKS = f"""\
from celery import Celery
from celery.signals import worker_process_init

app = Celery("tasks", broker="memory://")
HELD = []


@worker_process_init.connect
def hold(**_):
    HELD.append(b"x" * ({POOL_HELD_MIB} * 1024 * 1024))  # written in the pool process: its own memory


@app.task
def add(x, y):
    return x + y
"""
CLOCK = f"""\
import time

HELD = b"x" * ({CLOCK_HELD_MIB} * 1024 * 1024)
while True:
    time.sleep(0.2)
"""
PROCFILE = """\
web: gunicorn app:app
worker: celery -A tasks worker --loglevel=INFO
fixed: celery -A tasks worker --concurrency 3 --loglevel=INFO
clock: python clock.py
once: python -c "print('done')"
restless: python restless.py
"""
RESTLESS = """\
import time

HELD = []
while True:  # never settles: its memory keeps changing
    HELD.append(b"x" * (4 * 1024 * 1024))
    time.sleep(0.1)
"""
APP = {
    "Procfile": PROCFILE,
    "tasks.py": TASKS,
    "clock.py": CLOCK,
    "restless.py": RESTLESS,
    "app.py": "app = None\n",
}


def _profile(app: Path, *arguments: str) -> ProfileReport:
    result = slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--format", "json", "-q", *arguments
    )
    assert result.returncode == 0, result.stderr
    assert write_report(read_report(result.stdout)) == result.stdout  # the saved contract holds
    report = read_report(result.stdout)
    assert isinstance(report, ProfileReport)
    return report


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("process") / "app", APP)


@pytest.fixture(scope="module")
def celery_report(app: Path) -> ProfileReport:
    return _profile(app, "--process", "worker")


def test_a_celery_worker_is_profiled_without_a_port_and_its_pool_processes_are_the_workers(
    celery_report: ProfileReport,
) -> None:
    report = celery_report
    assert report.app.process_type == "worker"
    assert report.requests is None  # Heroku routes no HTTP to it
    roles = [process.role for process in report.processes]
    assert roles.count("master") == 1
    assert roles.count("worker") == os.cpu_count()  # Celery's default here: this machine's cores
    assert 0 < report.boot_seconds < 30
    # Each pool process wrote POOL_HELD_MIB of its own: one more costs at least that, and not much more.
    assert POOL_HELD_MIB * MIB <= report.memory.worker_marginal_bytes < (POOL_HELD_MIB + 15) * MIB


def test_the_celery_fit_runs_one_pool_process_per_core_of_each_size(celery_report: ProfileReport) -> None:
    report = celery_report
    assert report.workers_from == WorkersFrom.CORES
    cores = {size.name: size.cores for size in dyno_sizes("cedar")}
    memory = report.memory
    for row in report.dyno_fit:
        assert row.workers == cores[row.dyno]
        assert row.predicted_bytes == memory.base_bytes + row.workers * memory.worker_marginal_bytes
    standard = next(row for row in report.dyno_fit if row.dyno == "standard-1x")
    assert standard.workers == 8  # nproc on a standard-1x (heroku-facts 4.1)
    assert standard.status == "r14"  # 8 x 60 MiB and the rest: over 512 MiB


def test_the_celery_findings_give_its_concurrency_not_web_concurrency(celery_report: ProfileReport) -> None:
    findings = {finding.id: finding for finding in celery_report.findings}
    over = findings["MEM500"]
    assert over.fix is not None
    standard = next(row for row in celery_report.dyno_fit if row.dyno == "standard-1x")
    assert 0 < standard.max_workers < 8
    assert f"--concurrency {standard.max_workers}" in over.fix.summary
    (edit,) = over.fix.edits
    assert edit.old == "worker: celery -A tasks worker --loglevel=INFO"
    assert edit.new == f"worker: celery -A tasks worker --concurrency {standard.max_workers} --loglevel=INFO"
    assert any("one per core standard-1x reports (8)" in line for line in over.evidence)
    assert "WEB_CONCURRENCY" not in over.fix.summary + (over.fix.command or "")
    # gunicorn's advice and the web process's deadlines do not apply to a Celery worker
    assert not {"MEM501", "MEM502", "MEM504", "MEM510", "MEM550", "MEM552"} & set(findings)
    assert "WEB630" in findings  # the files' rule says the same of the Procfile line


def test_the_terminal_report_says_the_worker_booted_without_r10(celery_report: ProfileReport) -> None:
    text = render_profile_terminal(celery_report, width=120)
    assert "booted in" in text and "no port, no R10" in text
    assert "one process per core of each size" in text


def test_a_celery_concurrency_in_the_command_runs_on_every_size(app: Path) -> None:
    report = _profile(app, "--process", "fixed")
    assert sum(1 for process in report.processes if process.role == "worker") == 3
    assert report.workers_from == WorkersFrom.APP
    assert {row.workers for row in report.dyno_fit} == {3}


def test_a_clock_process_is_one_process_judged_whole(app: Path) -> None:
    report = _profile(app, "--process", "clock")
    assert not report.worker_model and report.workers_from is None
    assert report.memory.peak_total_bytes >= CLOCK_HELD_MIB * MIB
    assert {row.predicted_bytes for row in report.dyno_fit} == {report.memory.peak_total_bytes}


def test_requests_are_refused_for_a_process_that_gets_no_http(app: Path) -> None:
    result = slugprof("profile", app, "--env", sys.executable, "--process", "clock", "--url", "/", "-q")
    assert result.returncode == 2
    assert "only the web process receives HTTP requests on Heroku" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_process_that_exits_at_once_or_never_settles_fails_with_its_reason(app: Path) -> None:
    once = slugprof("profile", app, "--env", sys.executable, "--process", "once", "--no-memray", "-q")
    assert once.returncode == 3
    assert "exited with status 0 before its process tree settled" in once.stderr
    restless = slugprof(
        "profile",
        app,
        "--env",
        sys.executable,
        "--process",
        "restless",
        "--no-memray",
        "-q",
        "--boot-timeout",
        "4",
    )
    assert restless.returncode == 3
    assert "did not settle within 4 s" in restless.stderr
