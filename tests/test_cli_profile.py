"""`slugprof profile` end to end: real gunicorn, real workers, real memray, as a user runs it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from clirun import run_slugprof as slugprof

from slugprof.model.saved import read_report, write_report

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
HELLO = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


def make_app(root: Path, procfile: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Procfile").write_text(procfile)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def profile_json(app: Path, *extra: str) -> dict[str, Any]:
    result = slugprof("profile", app, "--env", sys.executable, "--format", "json", "-q", *extra)
    assert result.returncode == 0, result.stderr
    # The saved contract: the document reads back as a ProfileReport and writes back to the same text.
    assert write_report(read_report(result.stdout)) == result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_profile_reports_the_dyno_and_each_process(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", "web: gunicorn app:app\n", {"app.py": HELLO})
    report = profile_json(app, "--no-memray", "--requests", "6")
    roles = [p["role"] for p in report["processes"]]
    assert roles.count("master") == 1
    assert roles.count("worker") == 2  # standard-1x: WEB_CONCURRENCY=2, as the buildpack sets it
    assert report["web_concurrency"] == "2"
    assert report["requests"]["count"] == 6
    assert report["requests"]["status_codes"] == {"200": 6}
    memory = report["memory"]
    assert 0 < memory["peak_total_bytes"] < memory["peak_total_rss_bytes"]
    assert memory["samples"], "the sampler took no sample"
    assert {fit["dyno"] for fit in report["dyno_fit"]} >= {"standard-1x", "performance-2xl", "private-l"}
    assert report["boot_seconds"] < 30
    assert report["graceful_shutdown"] is True
    assert report["memray"] == {"mode": "off", "reason": None}


def test_known_allocation_per_worker_moves_the_total(tmp_path: Path) -> None:
    """Each worker holds 60 MiB after the fork: the peak total must rise by about 2 x 60 MiB."""
    baseline = profile_json(
        make_app(tmp_path / "base", "web: gunicorn app:app\n", {"app.py": HELLO}), "--no-memray"
    )
    holder = (
        HELLO
        + "\nHELD = None\n\ndef post_fork_hold():\n    global HELD\n    HELD = bytearray(60 * 1024 * 1024)\n"
    )
    config = "from app import post_fork_hold\n\ndef post_fork(server, worker):\n    post_fork_hold()\n"
    heavy = profile_json(
        make_app(
            tmp_path / "heavy",
            "web: gunicorn -c conf.py app:app\n",
            {"app.py": holder, "conf.py": config},
        ),
        "--no-memray",
    )
    grown = heavy["memory"]["peak_total_bytes"] - baseline["memory"]["peak_total_bytes"]
    expected = 2 * 60 * MIB
    assert heavy["memory"]["measure"] == "anonymous"  # this kernel gives Pss_Anon
    assert abs(grown - expected) / expected < 0.05, (grown, expected)
    marginal = heavy["memory"]["worker_marginal_bytes"] - baseline["memory"]["worker_marginal_bytes"]
    assert abs(marginal - 60 * MIB) < 3 * MIB, marginal  # what one more such worker adds


def test_file_backed_pages_the_workers_read_leave_the_dyno_figure_alone(tmp_path: Path) -> None:
    """Each worker maps a 64 MiB file and reads every page of it: the pages are resident in both, and
    summed PSS counts them (64 MiB, shared), but they are page cache to the dyno's cgroup, which R14
    does not count: the headline stays where it was, within a few MiB."""
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(64 * MIB))
    reader = (
        HELLO + "\nimport mmap\n\nMAPPED = []\n\n"
        "def post_fork_read():\n"
        f"    with open({str(data)!r}, 'rb') as handle:\n"
        "        mapped = mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)\n"
        "    MAPPED.append(mapped)\n"
        "    return sum(mapped[offset] for offset in range(0, len(mapped), mmap.PAGESIZE))\n"
    )
    config = "from app import post_fork_read\n\ndef post_fork(server, worker):\n    post_fork_read()\n"
    files = {"app.py": reader, "conf.py": config}
    plain = {"app.py": reader, "conf.py": "def post_fork(server, worker):\n    pass\n"}
    without = profile_json(
        make_app(tmp_path / "plain", "web: gunicorn -c conf.py app:app\n", plain), "--no-memray"
    )
    mapped = profile_json(
        make_app(tmp_path / "mapped", "web: gunicorn -c conf.py app:app\n", files), "--no-memray"
    )
    pss_grown = mapped["memory"]["peak_total_pss_bytes"] - without["memory"]["peak_total_pss_bytes"]
    headline_moved = mapped["memory"]["peak_total_bytes"] - without["memory"]["peak_total_bytes"]
    assert pss_grown > 56 * MIB, pss_grown  # the file, counted once over the two workers
    assert abs(headline_moved) < 4 * MIB, headline_moved
    workers = [p for p in mapped["processes"] if p["role"] == "worker"]
    assert all(p["peak_rss_bytes"] - p["peak_anon_bytes"] > 60 * MIB for p in workers)


def test_a_resource_tracker_beside_the_workers_is_not_a_worker(tmp_path: Path) -> None:
    # With --preload the master imports the app, which starts multiprocessing's resource tracker: a child
    # of the master as the workers are, but no worker (a uvicorn master starts one the same way).
    tracker = "from multiprocessing import resource_tracker\nresource_tracker.ensure_running()\n"
    app = make_app(tmp_path / "app", "web: gunicorn --preload app:app\n", {"app.py": tracker + HELLO})
    report = profile_json(app, "--no-memray", "--requests", "2")
    roles = [(p["command"], p["role"]) for p in report["processes"]]
    helpers = [role for command, role in roles if "resource_tracker" in command]
    assert helpers == ["other"], roles
    assert [role for _, role in roles].count("worker") == 2, roles  # standard-1x: WEB_CONCURRENCY=2
    assert report["dyno_fit"][0]["workers"] == 2


def test_memray_finds_the_import_that_costs(tmp_path: Path) -> None:
    heavy_module = "BLOB = bytearray(30 * 1024 * 1024)\n"
    app = make_app(
        tmp_path / "app",
        "web: gunicorn --preload app:app\n",
        {"app.py": "import heavy  # noqa\n" + HELLO, "heavy.py": heavy_module},
    )
    report = profile_json(app, "--requests", "4")
    assert report["memray"]["mode"] in ("app", "borrowed")
    costs = {cost["module"]: cost for cost in report["imports"]}
    assert "heavy" in costs, report["imports"][:5]
    assert abs(costs["heavy"]["bytes"] - 30 * MIB) / (30 * MIB) < 0.10
    assert costs["heavy"]["role"] == "master"  # --preload: imported once, shared by the workers
    master = next(p for p in report["processes"] if p["role"] == "master")
    assert master["heap_peak_bytes"] >= 30 * MIB


def test_no_web_process_is_a_usage_error(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", "worker: python worker.py\n", {})
    result = slugprof("profile", app, "--env", sys.executable, "-q")
    assert result.returncode == 2
    assert "no 'web' process" in result.stderr and "worker" in result.stderr
    assert "Traceback" not in result.stderr


def test_app_that_raises_at_import_fails_fast_with_its_error(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", "web: gunicorn app:app\n", {"app.py": "import nope_not_installed\n"})
    started = time.monotonic()
    result = slugprof("profile", app, "--env", sys.executable, "-q", "--no-memray")
    assert time.monotonic() - started < 30
    assert result.returncode == 3
    assert "nope_not_installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_that_does_not_exist(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", "web: no-such-server --bind 0.0.0.0:$PORT\n", {})
    result = slugprof("profile", app, "--env", sys.executable, "-q", "--no-memray")
    assert result.returncode == 3
    assert "not found" in result.stderr
    # The fix in words: which environment the command ran with, and what to install there.
    assert (
        f"the command ran with the app's environment (--env: {sys.executable}), which has no no-such-server"
        in result.stderr
    )
    assert f"`{sys.executable} -m pip install no-such-server`" in result.stderr


def test_ctrl_c_leaves_no_process_behind(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", "web: gunicorn app:app\n", {"app.py": HELLO})
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WEB_CONCURRENCY")}
    command = [sys.executable, "-m", "slugprof", "profile", str(app), "--env", sys.executable, "-q"]
    process = subprocess.Popen(
        [*command, "--no-memray", "--duration", "60"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = psutil.Process(process.pid).children(recursive=True)
        seen.update(child.pid for child in children)
        if sum("gunicorn" in " ".join(_cmdline(child)) for child in children) >= 3:
            break
        time.sleep(0.2)
    assert len(seen) >= 3, "the app never started"
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    time.sleep(0.5)
    alive = [
        pid for pid in seen if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == [], f"left behind: {alive}"


def test_sigkill_of_slugprof_leaves_no_process_behind(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the watchdog kills the app's group, workers (grandchildren) included,
    then removes the run's temporary folders (the slug's copy, the runtime folder)."""
    marker = f"run-{uuid.uuid4().hex}"
    app = make_app(
        tmp_path / "app", "web: gunicorn -w 3 app:app\n", {"app.py": HELLO, ".env": f"KILL_TEST={marker}\n"}
    )
    scratch = tmp_path / "tmp"  # slugprof's temporary folders go here, to be counted
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WEB_CONCURRENCY")}
    env["TMPDIR"] = str(scratch)
    command = [sys.executable, "-m", "slugprof", "profile", str(app), "--env", sys.executable, "-q"]
    process = subprocess.Popen(
        [*command, "--no-memray", "--duration", "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_marked(marker)) < 4:  # the shell or master, 3 workers
        seen.update(child.pid for child in psutil.Process(process.pid).children(recursive=True))
        time.sleep(0.1)
    marked = _marked(marker)
    assert len(marked) >= 4, f"the app never started its workers: {marked}"
    made = sorted(path.name for path in scratch.glob("slugprof-*") if path.is_dir())
    assert any(name.startswith("slugprof-slug-") for name in made), made
    assert any(name.startswith("slugprof-runtime-") for name in made), made
    seen.update(marked)
    seen.update(child.pid for child in psutil.Process(process.pid).children(recursive=True))
    process.kill()
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_alive(seen) or _marked(marker) or any(scratch.iterdir())):
        time.sleep(0.1)
    left, marked = _alive(seen), _marked(marker)
    for pid in {*left, *marked}:  # a failing run must not leave them to the next tests either
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    assert left == [], f"left behind: {left}"
    assert marked == [], f"left behind, with the app's environment: {marked}"
    assert sorted(path.name for path in scratch.iterdir()) == [], "temporary folders left behind"


def test_a_profile_writes_nothing_in_the_users_home_or_runtime_folder(tmp_path: Path) -> None:
    """gunicorn 25.1+ opens its control socket in $XDG_RUNTIME_DIR, else in ~/.gunicorn: the run's own."""
    app = make_app(tmp_path / "app", "web: gunicorn app:app\n", {"app.py": HELLO})
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    users_own = runtime / "gunicorn.ctl"  # the control socket of a gunicorn the user runs meanwhile
    users_own.write_text("in use")
    inode = users_own.stat().st_ino
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WEB_CONCURRENCY", "XDG_CACHE_HOME")
    }
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "slugprof",
            "profile",
            str(app),
            "--env",
            sys.executable,
            "-q",
            "--requests",
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(home.rglob("*")) == []
    assert sorted(runtime.rglob("*")) == [users_own]
    assert users_own.stat().st_ino == inode, "the user's own gunicorn lost its control socket"


def _marked(marker: str) -> list[int]:
    """Live processes whose environment holds the app's config var `KILL_TEST=marker`."""
    found = []
    for candidate in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if candidate.environ().get("KILL_TEST") == marker and candidate.status() != psutil.STATUS_ZOMBIE:
                found.append(candidate.pid)
    return found


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in sorted(pids):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
    return alive


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def test_the_flask_sample_app_as_a_dyno_runs_it() -> None:
    """sample_apps/flask_basic: gthread workers, --preload in its gunicorn.conf.py, two routes."""
    app = Path(__file__).resolve().parent.parent / "sample_apps" / "flask_basic"
    report = profile_json(app, "--url", "/", "--url", "/health", "--requests", "10")
    assert report["requests"]["status_codes"] == {"200": 10}
    workers = [p for p in report["processes"] if p["role"] == "worker"]
    assert len(workers) == 2
    assert max(p["threads_max"] for p in workers) > 1  # gthread: a pool of request threads per worker
    master = next(p for p in report["processes"] if p["role"] == "master")
    # preload_app: the app is imported once in the master, so a worker's unique memory is small.
    assert max(p["peak_uss_bytes"] for p in workers) < master["peak_uss_bytes"]
    assert report["memray"]["mode"] in ("app", "borrowed")
    # Saved commands name paths relative to the app root, never this machine's folders.
    assert all(str(app) not in process["command"] for process in report["processes"])
    assert any(cost["role"] == "master" for cost in report["imports"])
    assert master["top_sites"], "memray gave no allocation sites for the master"


def test_an_app_that_never_binds_port_stops_at_the_boot_timeout(tmp_path: Path) -> None:
    app = make_app(tmp_path / "app", 'web: python -c "import time; time.sleep(600)"\n', {})
    started = time.monotonic()
    result = slugprof("profile", app, "--env", sys.executable, "-q", "--no-memray", "--boot-timeout", "2")
    assert time.monotonic() - started < 20
    assert result.returncode == 3
    assert "R10" in result.stderr
