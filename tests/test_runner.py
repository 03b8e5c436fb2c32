"""The web process as a dyno runs it: real gunicorn, real workers, real signals, no mocks."""

from __future__ import annotations

import _thread
import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from slugprof.errors import ToolFailure
from slugprof.measure.runner import RunResult, run_process
from slugprof.measure.sampler import _roles_from_tree, classify_roles, summarize_processes, worker_growth
from slugprof.measure.traffic import app_error, free_port
from slugprof.model import MemorySample, ProcessProfile, ProcessRole, ProcessSnapshot, Route
from slugprof.processes import AppFailure, ManagedProcess, run_command
from slugprof.sources.dyno import dyno_by_name, dyno_environment

MIB = 1024 * 1024
GUNICORN = f"{shlex.quote(sys.executable)} -m gunicorn"

HELLO = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""
# Every process that imports it holds 50 MiB, written so that it is resident, not just reserved.
ALLOCATES_50_MIB = "BLOB = bytearray(b'\\x01') * (50 * 1024 * 1024)\n" + HELLO
EXTRA_THREADS = (
    "import threading, time\n"
    "def _idle():\n"
    "    while True:\n"
    "        time.sleep(1)\n"
    "for _ in range(3):\n"
    "    threading.Thread(target=_idle, daemon=True).start()\n"
) + HELLO
RAISES_AT_IMPORT = "import os\nimport nope_not_installed\n" + HELLO
SYNTAX_ERROR = "def app(environ, start_response:\n    return []\n"
IGNORES_SIGTERM = """
import http.server, os, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
http.server.HTTPServer(("", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""
MUTE_SERVER = """
import os, socket, time
server = socket.create_server(("", int(os.environ["PORT"])))
connections = []
while True:
    connections.append(server.accept())
"""
# gunicorn's access log with the pid of the worker that answered each request
ACCESS_LOG_PIDS = "--access-logfile - --access-logformat 'answered-by=%(p)s'"


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for one small app; every process that ran in it must be gone at the end."""
    folder = tmp_path / "app"
    folder.mkdir()
    yield folder
    assert _processes_in(folder) == []


def _processes_in(folder: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cwd", "cmdline", "status"]):
        if process.info["cwd"] == str(folder) and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{process.info['pid']}: {' '.join(process.info['cmdline'] or [])}")
    return found


def write_app(folder: Path, source: str) -> None:
    (folder / "app.py").write_text(source, encoding="utf-8")


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "PORT"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "true"
    return env


def run(folder: Path, command: str, **options: Any) -> RunResult:
    port = free_port()
    env = {**base_env(), "PORT": str(port)}
    options.setdefault("shutdown_timeout", 10.0)
    return run_process(command, cwd=folder, env=env, port=port, **options)


def profiles(result: RunResult, extra_threads: dict[int, int] | None = None) -> list[ProcessProfile]:
    return summarize_processes(result.samples, result.roles, result.commands, extra_threads or {})


def by_role(result: RunResult, role: str) -> list[ProcessProfile]:
    return [profile for profile in profiles(result) if profile.role == role]


def peak_sample(result: RunResult) -> MemorySample:
    return max(result.samples, key=lambda sample: sample.total_pss_bytes)


def peak_pss(result: RunResult) -> int:
    return peak_sample(result).total_pss_bytes


def assert_all_gone(pids: Iterator[int] | tuple[int, ...], folder: Path) -> None:
    """No pid of the run is alive (a pid reused by an unrelated process does not run in `folder`)."""
    for pid in pids:
        try:
            process = psutil.Process(pid)
            alive = process.status() != psutil.STATUS_ZOMBIE and process.cwd() == str(folder)
        except psutil.Error:
            alive = False
        assert not alive, f"process {pid} outlived the run"


# --- a normal run -----------------------------------------------------------------------------


@pytest.mark.slow
def test_sync_workers_serve_requests_and_stop_gracefully(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    result = run(app_dir, f"{GUNICORN} -w 3 {ACCESS_LOG_PIDS} app:app", requests=40, duration=0.4)

    assert 0 < result.boot_seconds < 10
    assert result.graceful and result.shutdown_seconds < 5
    assert result.requests is not None and result.requests.status_codes == {200: 40}
    latency = result.requests.latency_seconds
    assert 0 < latency.p50 <= latency.p95 <= latency.max

    master = by_role(result, "master")
    workers = by_role(result, "worker")
    assert len(master) == 1 and len(workers) == 3
    assert master[0].command.endswith("-m gunicorn -w 3 " + ACCESS_LOG_PIDS.replace("'", "") + " app:app")
    assert by_role(result, "other")[0].command.startswith("/bin/sh -c ")  # the dyno's shell
    # New connections reach several workers, as the router's do.
    answered_by = set(re.findall(r"answered-by=<(\d+)>", result.output_tail))
    assert len(answered_by) >= 2 and answered_by <= {str(worker.pid) for worker in workers}

    seconds = [sample.seconds for sample in result.samples]
    assert seconds == sorted(seconds) and len(seconds) >= 4
    peak = peak_sample(result)
    assert len(peak.processes) == 5 and peak.total_pss_bytes == sum(process.pss for process in peak.processes)
    assert peak.total_pss_bytes < peak.total_rss_bytes  # forked workers share the interpreter's pages
    assert set(worker_growth(result.samples, result.roles)) <= {worker.pid for worker in workers}

    # gunicorn's master runs a control-socket thread that the caller subtracts.
    assert master[0].threads_max == 2
    adjusted = profiles(result, extra_threads={master[0].pid: 1})
    assert {profile.role: profile.threads_max for profile in adjusted} == {
        "master": 1,
        "worker": 1,
        "other": 1,
    }
    assert_all_gone(result.pids, app_dir)


@pytest.mark.slow
def test_gthread_workers_count_their_threads(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    result = run(app_dir, f"{GUNICORN} -k gthread --threads 4 -w 2 app:app", requests=60, duration=0.3)
    workers = by_role(result, "worker")
    assert len(workers) == 2
    assert result.requests is not None and result.requests.status_codes == {200: 60}
    assert 2 <= max(worker.threads_max for worker in workers) <= 5  # the main thread + up to 4


@pytest.mark.slow
def test_threads_started_at_import_with_and_without_preload(app_dir: Path) -> None:
    write_app(app_dir, EXTRA_THREADS)
    separate = run(app_dir, f"{GUNICORN} -w 2 app:app", duration=0.4)
    assert [worker.threads_max for worker in by_role(separate, "worker")] == [4, 4]
    assert by_role(separate, "master")[0].threads_max == 2  # main + control socket

    preloaded = run(app_dir, f"{GUNICORN} --preload -w 2 app:app", duration=0.4)
    assert by_role(preloaded, "master")[0].threads_max == 5  # main + control socket + 3 of the app's
    assert [worker.threads_max for worker in by_role(preloaded, "worker")] == [1, 1]  # fork keeps one


# --- memory: the dyno's total is the sum of PSS ------------------------------------------------


@pytest.mark.slow
def test_known_allocation_moves_the_peak_total_by_workers_times_50_mib(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    baseline = run(app_dir, f"{GUNICORN} -w 3 app:app", duration=0.5)
    write_app(app_dir, ALLOCATES_50_MIB)
    allocating = run(app_dir, f"{GUNICORN} -w 3 app:app", duration=0.5)

    expected = 3 * 50 * MIB
    moved = peak_pss(allocating) - peak_pss(baseline)
    assert abs(moved - expected) <= 0.10 * expected, f"moved {moved / MIB:.1f} MiB, expected 150"
    for worker in by_role(allocating, "worker"):
        assert worker.peak_uss_bytes >= 50 * MIB


@pytest.mark.slow
def test_preload_shares_pages_so_pss_total_is_well_below_rss_total(app_dir: Path) -> None:
    write_app(app_dir, ALLOCATES_50_MIB)
    result = run(app_dir, f"{GUNICORN} --preload -w 3 app:app", duration=0.5)
    peak = peak_sample(result)
    assert len(by_role(result, "worker")) == 3 and len(peak.processes) == 5  # sh, master, 3 workers
    # 4 processes map the master's 50 MiB: RSS counts it 4 times, PSS once.
    assert peak.total_pss_bytes < 0.6 * peak.total_rss_bytes
    assert peak.total_rss_bytes - peak.total_pss_bytes > 3 * 45 * MIB
    assert 50 * MIB < peak.total_pss_bytes < 50 * MIB + 80 * MIB
    for worker in by_role(result, "worker"):
        assert worker.peak_uss_bytes < 20 * MIB  # the blob is the master's, shared copy-on-write


@pytest.mark.slow
def test_web_concurrency_from_the_dyno_reaches_gunicorn(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    port = free_port()
    env = dyno_environment(
        app_dir, dyno_by_name("standard-2x"), port=port, dotenv={}, base_env=base_env(), env_bin=None
    )
    result = run_process(f"{GUNICORN} app:app", cwd=app_dir, env=env, port=port, requests=4, duration=0.3)
    assert len(by_role(result, "worker")) == 4  # WEB_CONCURRENCY=4 on a 1 GiB dyno
    assert "GET / HTTP/1.1" in result.output_tail  # GUNICORN_CMD_ARGS="--access-logfile -"


# --- failures: prompt, in the app's own words ---------------------------------------------------


@pytest.mark.parametrize("preload", ["", "--preload "])
@pytest.mark.slow
def test_app_that_raises_at_import_fails_fast_with_its_exception(app_dir: Path, preload: str) -> None:
    write_app(app_dir, RAISES_AT_IMPORT)
    began = time.monotonic()
    with pytest.raises(AppFailure) as failure:
        run(app_dir, f"{GUNICORN} {preload}-w 2 app:app", requests=5, duration=5)
    assert time.monotonic() - began < 10
    message = str(failure.value)
    assert "ModuleNotFoundError: No module named 'nope_not_installed' (app.py, line 2)" in message
    assert "HaltServer" not in message and "\n" not in message
    assert "Traceback (most recent call last)" in failure.value.output_tail
    assert isinstance(failure.value, ToolFailure) and failure.value.exit_code == 3


@pytest.mark.slow
def test_app_with_a_syntax_error(app_dir: Path) -> None:
    write_app(app_dir, SYNTAX_ERROR)
    with pytest.raises(AppFailure, match=r"SyntaxError: .* \(app.py, line 1\)"):
        run(app_dir, f"{GUNICORN} -w 2 app:app")


def test_command_that_does_not_exist(app_dir: Path) -> None:
    with pytest.raises(ToolFailure, match=r"could not start: .*nosuch_server_command: not found"):
        run(app_dir, "nosuch_server_command --bind 0.0.0.0:$PORT app:app")


@pytest.mark.slow
def test_app_that_never_binds_its_port_times_out_as_r10(app_dir: Path) -> None:
    began = time.monotonic()
    with pytest.raises(AppFailure, match=r"did not listen on port \d+ within 1 s .*R10"):
        run(app_dir, f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(60)'", boot_timeout=1)
    assert time.monotonic() - began < 5


@pytest.mark.slow
def test_app_that_listens_but_never_answers(app_dir: Path) -> None:
    (app_dir / "mute.py").write_text(MUTE_SERVER, encoding="utf-8")
    with pytest.raises(AppFailure, match=r"listened on port \d+ but did not answer GET /health within 1.5 s"):
        run(
            app_dir,
            f"{shlex.quote(sys.executable)} mute.py",
            boot_timeout=1.5,
            routes=[Route("GET", "/health")],
        )


def test_busy_port_is_refused_before_starting(app_dir: Path) -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        with pytest.raises(ToolFailure, match=f"port {port} is already in use"):
            run_process("true", cwd=app_dir, env=base_env(), port=port)


# --- stopping: SIGTERM, wait, SIGKILL; nothing left behind --------------------------------------


@pytest.mark.slow
def test_server_that_ignores_sigterm_is_killed_after_the_timeout(app_dir: Path) -> None:
    (app_dir / "server.py").write_text(IGNORES_SIGTERM, encoding="utf-8")
    result = run(app_dir, f"{shlex.quote(sys.executable)} server.py", shutdown_timeout=0.5)
    assert not result.graceful
    assert 0.5 <= result.shutdown_seconds < 2
    assert set(result.roles.values()) == {"other"}  # no workers: not a master either
    assert_all_gone(result.pids, app_dir)


class KillAWorker:
    """A progress display that SIGKILLs one gunicorn worker when the app is up."""

    def __init__(self) -> None:
        self.killed: int | None = None

    def stage(self, description: str, total: int | None = None) -> None:
        if description.startswith("Keeping the app up"):
            roles = {}
            for child in psutil.Process().children():
                roles.update(classify_roles(child.pid))
            self.killed = next(pid for pid, role in roles.items() if role == "worker")
            os.kill(self.killed, signal.SIGKILL)

    def advance(self, amount: int = 1) -> None:
        return None


@pytest.mark.slow
def test_worker_killed_mid_run_is_replaced_and_the_run_reports(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    progress = KillAWorker()
    result = run(app_dir, f"{GUNICORN} -w 2 app:app", duration=1.5, progress=progress)
    assert result.graceful
    workers = by_role(result, "worker")
    assert progress.killed in {worker.pid for worker in workers}
    assert len(workers) == 3  # the killed one and its replacement, both with their role
    killed = next(worker for worker in workers if worker.pid == progress.killed)
    assert killed.last_seen < result.samples[-1].seconds
    assert_all_gone(result.pids, app_dir)


class KillTheMaster:
    """A progress display that SIGKILLs gunicorn's master when the app is up: the app crashed."""

    def stage(self, description: str, total: int | None = None) -> None:
        if description.startswith("Keeping the app up"):
            roles = {}
            for child in psutil.Process().children():
                roles.update(classify_roles(child.pid))
            os.kill(next(pid for pid, role in roles.items() if role == "master"), signal.SIGKILL)

    def advance(self, amount: int = 1) -> None:
        return None


@pytest.mark.slow
def test_app_that_dies_mid_run_fails_the_run_and_its_orphans_are_killed(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    with pytest.raises(AppFailure, match="before slugprof stopped it"):
        run(app_dir, f"{GUNICORN} -w 2 app:app", duration=5, progress=KillTheMaster())
    # the fixture checks that the two orphaned workers are gone


class InterruptWhenUp:
    """A progress display whose user presses Ctrl-C once the app is up; it notes the tree first."""

    def __init__(self, stage_prefix: str) -> None:
        self.stage_prefix = stage_prefix
        self.seen: list[psutil.Process] = []

    def stage(self, description: str, total: int | None = None) -> None:
        if description.startswith(self.stage_prefix):
            self.seen = psutil.Process().children(recursive=True)
            raise KeyboardInterrupt

    def advance(self, amount: int = 1) -> None:
        return None


@pytest.mark.parametrize("stage", ["Keeping the app up", "Stopping the app"])
@pytest.mark.slow
def test_ctrl_c_from_the_progress_display_leaves_no_process(app_dir: Path, stage: str) -> None:
    write_app(app_dir, HELLO)
    progress = InterruptWhenUp(stage)
    with pytest.raises(KeyboardInterrupt):
        run(app_dir, f"{GUNICORN} -w 2 app:app", duration=0.3, progress=progress)
    assert len(progress.seen) >= 4  # sh, master, 2 workers
    assert_all_gone(tuple(process.pid for process in progress.seen), app_dir)


@pytest.mark.slow
def test_ctrl_c_arriving_in_the_main_thread_leaves_no_process(app_dir: Path) -> None:
    write_app(app_dir, HELLO)
    seen: list[psutil.Process] = []

    def press_ctrl_c() -> None:
        seen.extend(psutil.Process().children(recursive=True))
        _thread.interrupt_main()

    timer = threading.Timer(1.0, press_ctrl_c)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(app_dir, f"{GUNICORN} -w 2 app:app", requests=20, duration=10)
    finally:
        timer.cancel()
    assert len(seen) >= 4
    assert_all_gone(tuple(process.pid for process in seen), app_dir)


DRIVER = """
import os, sys
from pathlib import Path
from slugprof.measure.runner import run_process

class Announce:
    def stage(self, description, total=None):
        if description.startswith("Keeping the app up"):
            print("up", flush=True)

    def advance(self, amount=1):
        pass

run_process(sys.argv[1], cwd=Path.cwd(), env=os.environ, port=int(os.environ["PORT"]), duration=60,
                progress=Announce())
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.slow
def test_slugprof_stopped_by_a_signal_leaves_no_process(app_dir: Path, signum: int) -> None:
    write_app(app_dir, HELLO)
    (app_dir / "driver.py").write_text(DRIVER, encoding="utf-8")
    env = {**base_env(), "PORT": str(free_port())}
    with subprocess.Popen(
        [sys.executable, "driver.py", f"{GUNICORN} -w 2 app:app"],
        cwd=app_dir,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as driver:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "up"
        seen = psutil.Process(driver.pid).children(recursive=True)
        driver.send_signal(signum)
        assert driver.wait(timeout=10) == 128 + signum  # SystemExit, after the cleanup ran
    assert len(seen) >= 4
    assert_all_gone(tuple(process.pid for process in seen), app_dir)


# A process that leaves the app's group (its own session), then sleeps: only the pid slugprof saw
# names it once slugprof is gone.
LEAVES_THE_GROUP = "import os, time\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(60)\n"
KILLED_DRIVER = """
import os, sys, time
from slugprof.processes import ManagedProcess

process = ManagedProcess([sys.executable, "leaver.py"], cwd=os.getcwd(), env=os.environ)
while not any(os.getpgid(child.pid) != process.pgid for child in process.remember_descendants()):
    time.sleep(0.02)
print("up", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_slugprof_killed_by_sigkill_leaves_no_process_even_one_that_left_the_group(app_dir: Path) -> None:
    (app_dir / "leaver.py").write_text(LEAVES_THE_GROUP, encoding="utf-8")
    (app_dir / "driver.py").write_text(KILLED_DRIVER, encoding="utf-8")
    with subprocess.Popen(
        [sys.executable, "driver.py"], cwd=app_dir, env=base_env(), stdout=subprocess.PIPE, text=True
    ) as driver:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "up"
        seen = tuple(child.pid for child in psutil.Process(driver.pid).children(recursive=True))
        driver.kill()  # SIGKILL: no handler, no atexit, no context manager runs
        assert driver.wait(timeout=10) == -signal.SIGKILL
    assert len(seen) >= 3  # the watchdog, the app and the process that left its group
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _processes_in(app_dir):
        time.sleep(0.05)
    try:
        assert_all_gone(seen, app_dir)
    finally:  # a failing run must not leave them to the next tests
        for pid in seen:
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).cwd() == str(app_dir):
                    psutil.Process(pid).kill()


def test_the_watchdog_is_gone_once_the_app_is_stopped(app_dir: Path) -> None:
    with ManagedProcess(["/bin/sh", "-c", "sleep 60"], cwd=app_dir, env=base_env()) as process:
        watchdogs = [
            child
            for child in psutil.Process().children()
            if any(part.endswith("watchdog.py") for part in child.cmdline())
        ]
        assert len(watchdogs) == 1
        assert process.group_alive()
    assert process.poll() == -signal.SIGKILL
    assert not watchdogs[0].is_running()  # told `done`, exited and reaped with the app's group


# --- what the samples say (no processes) --------------------------------------------------------


def test_roles_look_through_shells() -> None:
    names = {1: "sh", 2: "bash", 3: "nginx", 4: "python3", 5: "python3", 6: "python3", 7: "nginx"}
    # sh -c "bin/start-nginx gunicorn ...": the script starts nginx (with a worker) and gunicorn
    parents = {1: None, 2: 1, 3: 2, 7: 3, 4: 2, 5: 4, 6: 4}
    assert _roles_from_tree(1, parents, names) == {
        1: "other",
        2: "other",
        3: "other",
        7: "other",
        4: "master",
        5: "worker",
        6: "worker",
    }
    # a lone server process: no master, no workers
    assert _roles_from_tree(1, {1: None, 4: 1}, names) == {1: "other", 4: "other"}
    # the server is the root itself (`exec gunicorn ...`)
    assert _roles_from_tree(4, {4: None, 5: 4, 6: 4}, names) == {4: "master", 5: "worker", 6: "worker"}


def _sample(seconds: float, *processes: tuple[int, int, int, int, int]) -> MemorySample:
    snapshots = tuple(ProcessSnapshot(*values) for values in processes)
    return MemorySample(
        seconds=seconds,
        total_pss_bytes=sum(snapshot.pss for snapshot in snapshots),
        total_rss_bytes=sum(snapshot.rss for snapshot in snapshots),
        processes=snapshots,
    )


def test_summaries_and_growth_from_samples() -> None:
    # (pid, rss, pss, uss, threads); worker 11 grows 1 MiB a second, worker 12 is flat
    samples = [
        _sample(t, (10, 30 * MIB, 20 * MIB, 15 * MIB, 2), (11, 20 * MIB, 8 * MIB, (4 + t) * MIB, 1 + t),
                (12, 20 * MIB, 8 * MIB, 4 * MIB, 1))
        for t in range(5)
    ]  # fmt: skip
    roles: dict[int, ProcessRole] = {10: "master", 11: "worker", 12: "worker"}
    summary = summarize_processes(samples, roles, {10: "gunicorn"}, {10: 1, 11: 1})
    assert [(p.pid, p.role, p.threads_max, p.peak_uss_bytes) for p in summary] == [
        (10, "master", 1, 15 * MIB),
        (11, "worker", 4, 8 * MIB),
        (12, "worker", 1, 4 * MIB),
    ]
    assert summary[0].command == "gunicorn" and summary[1].command == ""
    assert (summary[1].first_seen, summary[1].last_seen) == (0, 4)
    growth = worker_growth(samples, roles)
    assert growth[11] == pytest.approx(MIB)
    assert growth[12] == pytest.approx(0)
    assert 10 not in growth


def test_app_error_picks_the_last_exception_of_a_chain_and_plain_server_errors() -> None:
    chained = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/mysite/settings.py", line 3, in <module>\n'
        "    KEY = os.environ['SECRET_KEY']\n"
        "KeyError: 'SECRET_KEY'\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/app/mysite/settings.py", line 5, in <module>\n'
        "    raise ImproperlyConfigured('set SECRET_KEY') from error\n"
        "django.core.exceptions.ImproperlyConfigured: set SECRET_KEY\n"
        "[2026-01-01 00:00:00 +0000] [7] [ERROR] Reason: Worker failed to boot.\n"
    )
    assert app_error(chained, "/srv/app") == (
        "django.core.exceptions.ImproperlyConfigured: set SECRET_KEY (mysite/settings.py, line 5)"
    )
    uvicorn = (
        "INFO:     Started server process [9]\n"
        'ERROR:    Error loading ASGI app. Could not import module "main".\n'
    )
    assert app_error(uvicorn) == 'Error loading ASGI app. Could not import module "main".'
    assert app_error("") is None


@pytest.mark.slow
def test_a_short_command_that_times_out_is_ended_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(ToolFailure, match="did not finish within 2 s"):
        run_command([sys.executable, "-c", script], timeout=2)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _running(grandchild):
        assert time.monotonic() < deadline, f"process {grandchild}, started by the command, outlived it"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_kernels_rollup_gives_what_psutil_gives_and_the_anonymous_share() -> None:
    # Ground truth: psutil's own reading of this process, taken right after ours (an idle test process:
    # its memory moves by far less than a MiB between the two reads).
    from slugprof.measure.sampler import _from_rollup, _smaps_rollup

    rollup = _smaps_rollup(os.getpid())
    if rollup is None or "Pss_Anon" not in rollup:
        pytest.skip("this kernel's smaps_rollup has no Pss_Anon")
    ours = _from_rollup(os.getpid(), rollup, threads=1)
    theirs = psutil.Process().memory_full_info()
    assert abs(ours.pss - theirs.pss) < MIB and abs(ours.uss - theirs.uss) < MIB
    assert abs(ours.rss - theirs.rss) < MIB
    assert ours.anon is not None and ours.private is not None
    assert 0 < ours.anon < ours.pss and 0 < ours.private <= ours.uss


def test_without_pss_anon_the_anonymous_figures_are_unknown_not_zero() -> None:
    # An older kernel: the rollup has Rss and Pss but no Pss_Anon. The sample's anonymous total is then
    # unknown, and the headline falls back to summed PSS.
    from slugprof.measure.sampler import _from_rollup
    from slugprof.model import MemorySample

    old_kernel = {"Rss": 50 * MIB, "Pss": 30 * MIB, "Private_Clean": 2 * MIB, "Private_Dirty": 10 * MIB}
    snapshot = _from_rollup(7, old_kernel, threads=1)
    assert (snapshot.pss, snapshot.uss, snapshot.anon, snapshot.private) == (30 * MIB, 12 * MIB, None, None)
    sample = MemorySample(0.1, total_pss_bytes=30 * MIB, total_rss_bytes=50 * MIB, processes=(snapshot,))
    assert sample.headline_bytes == 30 * MIB


COMMAND_DRIVER = """
import sys
from slugprof.processes import run_command

print("running", flush=True)
run_command(["sh", "-c", "sleep 60 & sleep 60"], timeout=120, guarded=True)
"""


@pytest.mark.slow
def test_a_guarded_command_dies_with_slugprof_even_by_sigkill(tmp_path: Path) -> None:
    """collectstatic and sdist builds run the app's or a package's code: a SIGKILL of slugprof ends them."""
    driver_file = tmp_path / "driver.py"
    driver_file.write_text(COMMAND_DRIVER, encoding="utf-8")
    with subprocess.Popen([sys.executable, str(driver_file)], stdout=subprocess.PIPE, text=True) as driver:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "running"
        deadline = time.monotonic() + 10
        sleeps: list[psutil.Process] = []
        while time.monotonic() < deadline and len(sleeps) < 2:
            sleeps = [p for p in psutil.Process(driver.pid).children(recursive=True) if p.name() == "sleep"]
            time.sleep(0.05)
        assert len(sleeps) == 2, "the command never started"
        driver.kill()
        driver.wait(timeout=10)
    _, alive = psutil.wait_procs(sleeps, timeout=5)
    for process in alive:  # a failing run must not leave them to the next tests
        process.kill()
    assert alive == [], f"left behind: {[p.pid for p in alive]}"
