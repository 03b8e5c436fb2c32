"""memray under gunicorn, for real: wrapping Procfile commands, lending memray, reading the captures."""

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

from slugprof.measure.memray_capture import (
    CAPTURE_FILE_NAME,
    LENT_FOLDER_NAME,
    MEMRAY_THREADS_PER_PROCESS,
    CaptureSummary,
    InterpreterProbe,
    MemrayAvailability,
    SourceFiles,
    attribute_import,
    availability_from_probe,
    memray_status,
    read_captures,
    wrap_command,
)

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
    assert all(
        process.memray_threads == MEMRAY_THREADS_PER_PROCESS for process in not_preloaded.summary.processes
    )


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


# --- lending slugprof's memray to an app environment without it ---------------------------------------


def make_venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    return folder / "bin" / "python"


def test_the_test_environment_has_memray() -> None:
    availability = memray_status(sys.executable)
    assert availability.status == "app"
    assert availability.memray_version and availability.lent_paths == ()


def test_a_fresh_venv_borrows_memray_and_runs_under_it(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    availability = memray_status(str(python))
    assert availability.status == "borrowed", availability.reason
    lent_names = {Path(path).name.split("-")[0].split(".")[0] for path in availability.lent_paths}
    assert {"memray", "rich", "jinja2", "textual"} <= lent_names
    assert not lent_names & {"gunicorn", "psutil", "pytest", "slugprof", "packaging", "mypy"}

    app_dir, captures = tmp_path / "app", tmp_path / "captures"
    app_dir.mkdir()
    captures.mkdir()
    (app_dir / "heavy.py").write_text(f"BLOB = bytearray({10 * MIB})\n")
    (app_dir / "main.py").write_text("import sys\nimport heavy\nprint(sys.modules['memray'].__file__)\n")
    wrapped = wrap_command(
        "python main.py",
        interpreter=str(python),
        output_dir=captures,
        availability=availability,
        environment={"PYTHONPATH": "/elsewhere"},
    )
    lent_folder = captures / LENT_FOLDER_NAME
    assert wrapped.env == {"PYTHONPATH": f"{lent_folder}{os.pathsep}/elsewhere"}
    assert sorted(entry.name for entry in lent_folder.iterdir()) == sorted(
        Path(path).name for path in availability.lent_paths
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(
        wrapped.command, shell=True, cwd=app_dir, env={**env, **wrapped.env}, capture_output=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout.decode().strip().startswith(str(lent_folder / "memray"))
    summary = read_captures(captures, app_dir=app_dir)
    (process,) = summary.processes
    assert process.role == "other"
    heavy = {cost.module: cost.bytes for cost in process.imports}["heavy"]
    assert within_ten_percent(heavy, 10 * MIB)


def fake_distribution(venv: Path, name: str, version: str) -> None:
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    info = site_packages / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_the_apps_own_dependencies_are_kept_when_memray_accepts_them(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv")
    fake_distribution(tmp_path / "venv", "rich", "99.0")  # recent enough for memray and textual
    fake_distribution(tmp_path / "venv", "Jinja2", "2.0")  # older than memray's jinja2>=2.9
    availability = memray_status(str(python))
    assert availability.status == "borrowed"
    lent_names = {Path(path).name for path in availability.lent_paths}
    assert "rich" not in lent_names and "jinja2" in lent_names
    assert "Jinja2" in availability.reason and "in place of the app's own" in availability.reason


def probe(version: tuple[int, int], memray_version: str | None = None) -> InterpreterProbe:
    return InterpreterProbe(
        "cpython", version, ".cpython-311-x86_64-linux-gnu.so", "x86_64", memray_version, None, {}
    )


def test_an_interpreter_that_cannot_borrow_is_told_how_to_install_memray(tmp_path: Path) -> None:
    interpreter = str(tmp_path / "venv" / "bin" / "python")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "pip").touch()
    availability = availability_from_probe(interpreter, probe((3, 12)), probe((3, 11), "1.20.0"))
    assert availability.status == "unavailable"
    assert "Python is 3.12 (slugprof runs 3.11)" in availability.reason
    assert f"`{tmp_path / 'venv' / 'bin' / 'pip'} install memray`" in availability.reason
    assert availability.reason.endswith("profiling continues with the sampler alone")
    app_memray = availability_from_probe(interpreter, probe((3, 12), "1.19.0"), probe((3, 11), "1.20.0"))
    assert app_memray.status == "app" and "slugprof reads captures with memray 1.20.0" in app_memray.reason


def test_memray_does_not_run_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    availability = memray_status("python")
    assert availability.status == "unavailable"
    assert availability.reason == "memray does not run on Windows: profiling continues with the sampler alone"


def test_an_interpreter_that_does_not_exist() -> None:
    availability = memray_status("/no/such/python")
    assert availability.status == "unavailable" and "program not found" in availability.reason


# --- wrapping Procfile commands ---------------------------------------------------------------------

APP_MEMRAY = MemrayAvailability("app", "/app/.venv/bin/python", "memray 1.20.0 from the app's environment")
OUT = Path("/captures")
MEMRAY_RUN = "-m memray run --follow-fork -q --force --no-compress -o /captures/capture.bin"
MEMRAY = f"/app/.venv/bin/python {MEMRAY_RUN}"


def wrap(command: str, **environment: str) -> tuple[str, str]:
    wrapped = wrap_command(
        command,
        interpreter="/app/.venv/bin/python",
        output_dir=OUT,
        availability=APP_MEMRAY,
        environment=environment,
    )
    assert wrapped.env == {}
    assert wrapped.wrapped == (wrapped.command != command)
    return wrapped.command, wrapped.note


@pytest.mark.parametrize(
    ("procfile", "expected"),
    [
        (
            "gunicorn app:app --workers 3 --bind 0.0.0.0:$PORT --log-file -",
            f"{MEMRAY} -m gunicorn app:app --workers 3 --bind 0.0.0.0:$PORT --log-file -",
        ),
        (
            "WEB_CONCURRENCY=2 ALLOW='*' exec .venv/bin/gunicorn -c 'conf/g unicorn.py' app:app",
            f"WEB_CONCURRENCY=2 ALLOW='*' exec {MEMRAY} -m gunicorn -c 'conf/g unicorn.py' app:app",
        ),
        ("python -m gunicorn app:app", f"{MEMRAY} -m gunicorn app:app"),
        ("python3 -u app.py --port $PORT", f"/app/.venv/bin/python -u {MEMRAY_RUN} app.py --port $PORT"),
        ("python -X dev -m mysite.server", f"/app/.venv/bin/python -X dev {MEMRAY_RUN} -m mysite.server"),
        (
            "uvicorn main:app --host 0.0.0.0 --port $PORT",
            f"{MEMRAY} -m uvicorn main:app --host 0.0.0.0 --port $PORT",
        ),
        ("waitress-serve --port=$PORT app:app", f"{MEMRAY} -m waitress --port=$PORT app:app"),
        ("hypercorn main:app -b 0.0.0.0:$PORT", f"{MEMRAY} -m hypercorn main:app -b 0.0.0.0:$PORT"),
        ("flask --app hello run --port $PORT", f"{MEMRAY} -m flask --app hello run --port $PORT"),
        (
            "cd backend && python manage.py migrate; gunicorn p.wsgi",
            f"cd backend && python manage.py migrate; {MEMRAY} -m gunicorn p.wsgi",
        ),
        (
            "newrelic-admin run-program gunicorn app:app",
            f"newrelic-admin run-program {MEMRAY} -m gunicorn app:app",
        ),
        ("gunicorn app:app 2>&1", f"{MEMRAY} -m gunicorn app:app 2>&1"),
    ],
)
def test_commands_memray_can_follow(procfile: str, expected: str) -> None:
    assert wrap(procfile) == (expected, "")


@pytest.mark.parametrize(
    ("procfile", "environment", "reason"),
    [
        ("uvicorn main:app --workers 4", {}, "uvicorn starts its 4 workers with spawn"),
        (
            "uvicorn main:app --port $PORT",
            {"WEB_CONCURRENCY": "2"},
            "uvicorn starts its 2 workers with spawn",
        ),
        ("python -m uvicorn main:app --workers=3", {}, "uvicorn starts its 3 workers with spawn"),
        ("hypercorn -w 2 main:app", {}, "hypercorn starts its 2 workers with spawn"),
        ("flask run --debug", {}, "flask's reloader"),
        ("python manage.py runserver 0.0.0.0:$PORT", {}, "Django's runserver reloads"),
        ("bin/start-server --port $PORT", {}, "start-server is not a Python program"),
        ("node server.js", {}, "node is not a Python program"),
        ("gunicorn app:app | tee log.txt", {}, "not a pipeline or background job"),
        ("gunicorn 'app:app", {}, "cannot parse the command"),
        ("FOO=1", {}, "the command runs no program"),
    ],
)
def test_commands_memray_cannot_follow_are_left_alone(
    procfile: str, environment: dict[str, str], reason: str
) -> None:
    command, note = wrap(procfile, **environment)
    assert command == procfile
    assert reason in note and note.endswith("profiling continues with the sampler alone")


def test_without_memray_the_command_is_unchanged() -> None:
    unavailable = MemrayAvailability("unavailable", "python", "memray does not run on Windows: ...")
    wrapped = wrap_command("gunicorn app:app", interpreter="python", output_dir=OUT, availability=unavailable)
    assert (wrapped.command, wrapped.wrapped, wrapped.note) == ("gunicorn app:app", False, unavailable.reason)


# --- attributing allocations to imports -------------------------------------------------------------

BOOTSTRAP = [
    ("_find_and_load", "<frozen importlib._bootstrap>", 1176),
    ("_load_unlocked", "<frozen importlib._bootstrap>", 690),
    ("exec_module", "<frozen importlib._bootstrap_external>", 940),
    ("_call_with_frames_removed", "<frozen importlib._bootstrap>", 241),
]
SITE = "/venv/lib/python3.11/site-packages"
GUNICORN = [
    ("<module>", f"{SITE}/gunicorn/__main__.py", 10),
    ("import_app", f"{SITE}/gunicorn/util.py", 420),
    ("import_module", "/usr/lib/python3.11/importlib/__init__.py", 126),
]


def imported(file_name: str, line: int = 1) -> list[tuple[str, str, int]]:
    return [*BOOTSTRAP, ("<module>", file_name, line)]


def test_import_attribution(tmp_path: Path) -> None:
    app = str(tmp_path / "app.py")
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").touch()
    models = str(tmp_path / "mypkg" / "models.py")
    files = SourceFiles(tmp_path)
    pandas_in_app = [*GUNICORN, *imported(app), *imported(f"{SITE}/pandas/__init__.py")]
    numpy_in_pandas = [
        *pandas_in_app,
        *imported(f"{SITE}/numpy/core/multiarray.py"),
        ("f", f"{SITE}/numpy/x.py", 3),
    ]
    assert attribute_import(numpy_in_pandas, files) == "pandas"
    assert (
        attribute_import([*GUNICORN, *imported(app), *imported(str(tmp_path / "heavy.py"))], files) == "heavy"
    )
    assert attribute_import([*GUNICORN, *imported(app), *imported(models)], files) == "mypkg"
    assert attribute_import([*GUNICORN, *imported(app), ("load", models, 5)], files) == "app"
    django_setup = [("setup", f"{SITE}/django/__init__.py", 24), ("import_module", f"{SITE}/x.py", 1)]
    assert (
        attribute_import(
            [*GUNICORN, *imported(app), *django_setup, *imported(f"{SITE}/rest_framework/a.py")], files
        )
        == "rest_framework"
    )
    assert attribute_import([*GUNICORN, *imported(f"{SITE}/gunicorn/workers/sync.py")], files) == "gunicorn"
    assert attribute_import([*imported("<frozen os>")], files) == "os"
    assert attribute_import([*GUNICORN, ("handle", app, 9)], files) is None  # a request, not an import
    lazy = [*GUNICORN, ("handle", app, 9), *imported(f"{SITE}/yaml/__init__.py")]
    assert attribute_import(lazy, files) == "yaml"
