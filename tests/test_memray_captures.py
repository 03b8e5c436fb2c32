"""memray under gunicorn, for real: the Procfile command wrapped, the captures read."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from slugprof.measure.memray_availability import memray_status
from slugprof.measure.memray_captures import (
    CAPTURE_FILE_NAME,
    MEMRAY_THREADS_PER_PROCESS,
    CaptureSummary,
    read_captures,
)
from slugprof.measure.memray_command import wrap_command

pytestmark = pytest.mark.slow  # every test reads the captures of a served app

MIB = 1024 * 1024
HEAVY_BYTES = 40 * MIB

APP = """\
import json
import os

import heavy

open(os.path.join(os.environ["TEST_MARKERS"], str(os.getpid())), "w").close()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"held": len(heavy.BLOB)}).encode()]
"""


def within_ten_percent(measured: int, expected: int) -> bool:
    return abs(measured - expected) <= expected / 10


# --- gunicorn under memray, as a Procfile would start it --------------------------------------------


@dataclass(frozen=True)
class ServedApp:
    captures: Path
    summary: CaptureSummary
    master_pid: int
    worker_pids: tuple[int, ...]  # the two workers seen serving
    worker_threads: tuple[int, ...]
    killed_pid: int | None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(root: Path, *, preload: bool, kill_one_worker: bool = False, hold: float = 0.0) -> ServedApp:
    """Start the app's gunicorn under memray, wait until both workers serve, stop it as Heroku does."""
    app_dir, markers, captures = root / "app", root / "markers", root / "captures"
    for folder in (app_dir, markers, captures):
        folder.mkdir(parents=True)
    (app_dir / "app.py").write_text(APP)
    (app_dir / "heavy.py").write_text(f"BLOB = bytearray({HEAVY_BYTES})\n")
    preload_flag = "--preload " if preload else ""
    procfile_web = f"exec gunicorn --workers 2 --bind 127.0.0.1:$PORT {preload_flag}app:app"
    availability = memray_status(sys.executable)
    wrapped = wrap_command(
        procfile_web, interpreter=sys.executable, output_dir=captures, availability=availability
    )
    assert wrapped.wrapped, wrapped.note
    port = free_port()
    env = {**os.environ, "PORT": str(port), "TEST_MARKERS": str(markers), **wrapped.env}
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            wrapped.command,
            shell=True,
            cwd=app_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        master = psutil.Process(server.pid)  # the shell execs the master
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + log_path.read_text()
            workers = master.children()
            loaded = len(list(markers.iterdir())) >= (1 if preload else 2)
            if loaded and len(workers) == 2:
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response,
                ):
                    assert response.status == 200
                    break
            time.sleep(0.05)
        worker_pids = tuple(worker.pid for worker in workers)
        worker_threads = tuple(worker.num_threads() for worker in workers)
        time.sleep(hold)
        killed_pid = None
        if kill_one_worker:
            killed_pid = worker_pids[0]
            os.kill(killed_pid, signal.SIGKILL)
            time.sleep(0.3)
        os.killpg(server.pid, signal.SIGTERM)  # as the dyno manager does: every process of the dyno
        server.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    summary = read_captures(captures, app_dir=app_dir)
    return ServedApp(captures, summary, server.pid, worker_pids, worker_threads, killed_pid)


@pytest.fixture(scope="module")
def preloaded(tmp_path_factory: pytest.TempPathFactory) -> ServedApp:
    return serve(tmp_path_factory.mktemp("preload"), preload=True, kill_one_worker=True)


@pytest.fixture(scope="module")
def not_preloaded(tmp_path_factory: pytest.TempPathFactory) -> ServedApp:
    return serve(tmp_path_factory.mktemp("no-preload"), preload=False, hold=1.0)


def test_preload_puts_the_import_cost_in_the_master(preloaded: ServedApp) -> None:
    summary = preloaded.summary
    master = summary.process(preloaded.master_pid)
    assert master is not None and master.role == "master" and master.complete
    assert master.heap_peak_bytes >= HEAVY_BYTES
    heavy = {cost.module: cost.bytes for cost in master.imports}["heavy"]
    assert within_ten_percent(heavy, HEAVY_BYTES)
    assert master.top_sites[0].location == "heavy.py:1 <module>"
    assert master.top_sites[0].bytes == heavy
    for pid in preloaded.worker_pids:
        assert (preloaded.captures / f"{CAPTURE_FILE_NAME}.{pid}").exists()
        worker = summary.process(pid)
        assert worker is not None and worker.role == "worker"
        assert worker.heap_peak_bytes < MIB  # the app was loaded before the fork
        assert "heavy" not in {cost.module for cost in worker.imports}
    rows = {(cost.module, cost.role): cost.bytes for cost in summary.imports}
    assert rows[("heavy", "master")] == heavy
    assert ("heavy", "worker") not in rows
    assert summary.imports[0].module == "heavy"  # sorted by bytes


def test_a_killed_worker_leaves_a_readable_capture_and_a_note(preloaded: ServedApp) -> None:
    killed = preloaded.summary.process(preloaded.killed_pid or 0)
    assert killed is not None and not killed.complete
    assert any(
        f"pid {preloaded.killed_pid}:" in note and "killed" in note for note in preloaded.summary.notes
    )


def test_without_preload_each_worker_pays_for_its_imports(not_preloaded: ServedApp) -> None:
    summary = not_preloaded.summary
    master = summary.process(not_preloaded.master_pid)
    assert master is not None and "heavy" not in {cost.module for cost in master.imports}
    for pid in not_preloaded.worker_pids:
        assert (not_preloaded.captures / f"{CAPTURE_FILE_NAME}.{pid}").exists()
        worker = summary.process(pid)
        assert worker is not None and worker.role == "worker" and worker.complete
        assert worker.heap_peak_bytes >= HEAVY_BYTES
        heavy = {cost.module: cost.bytes for cost in worker.imports}["heavy"]
        assert within_ten_percent(heavy, HEAVY_BYTES)
    heavy_row = next(cost for cost in summary.imports if cost.module == "heavy")
    assert heavy_row.role == "worker" and within_ten_percent(heavy_row.bytes, HEAVY_BYTES)
    assert summary.notes == ()


def test_memray_adds_one_thread_per_tracked_process(not_preloaded: ServedApp) -> None:
    # A sync worker runs one thread of its own; memray adds the thread that records its RSS.
    assert not_preloaded.worker_threads == (1 + MEMRAY_THREADS_PER_PROCESS,) * 2


def test_roles_given_by_the_caller_win(not_preloaded: ServedApp) -> None:
    pid = not_preloaded.worker_pids[0]
    summary = read_captures(not_preloaded.captures, roles={pid: "other"})
    assert summary.process(pid) is not None
    assert summary.process(pid).role == "other"  # type: ignore[union-attr]
    assert ("heavy", "other") in {(cost.module, cost.role) for cost in summary.imports}


def test_bad_capture_files_are_skipped_with_a_note(not_preloaded: ServedApp, tmp_path: Path) -> None:
    data = (not_preloaded.captures / f"{CAPTURE_FILE_NAME}.{not_preloaded.worker_pids[0]}").read_bytes()
    (tmp_path / CAPTURE_FILE_NAME).write_bytes(data[:200])  # cut inside the header
    (tmp_path / f"{CAPTURE_FILE_NAME}.101").write_bytes(b"")
    (tmp_path / f"{CAPTURE_FILE_NAME}.102").write_bytes(b"not a memray capture" * 100)
    (tmp_path / f"{CAPTURE_FILE_NAME}.103").write_bytes(data[: len(data) // 10])  # cut in the records
    summary = read_captures(tmp_path)
    notes = "\n".join(summary.notes)
    for name in (CAPTURE_FILE_NAME, f"{CAPTURE_FILE_NAME}.101", f"{CAPTURE_FILE_NAME}.102"):
        assert f"{name}: unreadable" in notes
    (cut,) = summary.processes  # what the file holds is read, and said to be incomplete
    assert cut.file_name == f"{CAPTURE_FILE_NAME}.103"
    assert f"pid {cut.pid}: its capture file stops" in notes and "(truncated)" in notes
    assert read_captures(tmp_path / "nothing-here").notes[0].startswith("memray wrote no capture")
