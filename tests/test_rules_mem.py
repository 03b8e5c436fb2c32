"""The MEM5xx rules: each fires on its evidence and stays silent without it.

Most tests start from one real profile (real gunicorn, real workers, real memray) of an app whose
workers each import a module that holds 40 MiB at import, and vary it with `dataclasses.replace`; the
app's files are varied in a copy of its folder. End-to-end tests run `slugprof profile` itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import run_slugprof as slugprof
from filetree import write_files

from slugprof.measure.dynofit import WorkerCost, fit_dynos
from slugprof.model import AllocationSite, Finding, ImportCost, Location, ProfileReport, Severity, WorkersFrom
from slugprof.model.saved import read_report
from slugprof.render.profile_terminal import render_profile_terminal
from slugprof.rules import RuleInputs, run_rules
from slugprof.rules.mem_profile import (
    GROWTH_HINT_SECONDS,
    HEAVY_BYTES,
    MAX_REQUESTS,
    MAX_REQUESTS_JITTER,
    fixed_workers,
)
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.dyno import DYNO_SIZES
from slugprof.sources.gunicorn_config import read_gunicorn_config
from slugprof.sources.launch import launch_of_command

MIB = 1024 * 1024
HELD_MIB = 40
HELLO = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""
HEAVY_APP = {
    "Procfile": "web: gunicorn app:app\n",
    "app.py": "import heavy  # noqa\n" + HELLO,
    "heavy.py": f"BLOB = bytearray({HELD_MIB} * 1024 * 1024)\n",
}
SAMPLE_APPS = Path(__file__).resolve().parent.parent / "sample_apps"


def profile_json(app: Path, *extra: str) -> dict[str, Any]:
    result = slugprof("profile", app, "--env", sys.executable, "--format", "json", "-q", *extra)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def as_report(document: dict[str, Any]) -> ProfileReport:
    report = read_report(json.dumps(document))
    assert isinstance(report, ProfileReport)
    return report


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ProfileReport]:
    """The app whose workers each import `heavy` (40 MiB held at import), profiled once, with memray."""
    app = write_files(tmp_path_factory.mktemp("heavy") / "app", HEAVY_APP)
    report = as_report(profile_json(app, "--requests", "4"))
    assert report.memray.mode.value in ("app", "borrowed"), report.memray
    return app, report


def findings(report: ProfileReport, app: Path, ignore: tuple[str, ...] = ()) -> dict[str, list[Finding]]:
    """The findings of every rule over `report` and the files of `app`, by rule id."""
    files = BuildFiles.of(app, collect_app_files(app))
    found, _, _ = run_rules(RuleInputs(files=files, profile_report=report), ignore)
    by_id: dict[str, list[Finding]] = {}
    for finding in found:
        by_id.setdefault(finding.id, []).append(finding)
    return by_id


def variant(app: Path, tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of `app` with `files` written over it."""
    copy = tmp_path / "variant"
    shutil.copytree(app, copy)
    return write_files(copy, files)


def refit(report: ProfileReport, marginal: int, fixed: int | None = None) -> ProfileReport:
    """The report as if each worker cost `marginal` bytes: the dyno fit worked out again."""
    cost = WorkerCost(report.memory.base_bytes, marginal, 2)
    fits = fit_dynos(cost, DYNO_SIZES, headroom=report.headroom, fixed_workers=fixed)
    memory = dataclasses.replace(report.memory, worker_marginal_bytes=marginal)
    source = WorkersFrom.APP if fixed is not None else report.workers_from  # as the pipeline says it
    return dataclasses.replace(report, memory=memory, dyno_fit=tuple(fits), workers_from=source)


def with_command(
    app: Path, report: ProfileReport, tmp_path: Path, command: str
) -> tuple[ProfileReport, Path]:
    """The report of the same run under another Procfile command, and the app with that Procfile."""
    copy = variant(app, tmp_path, {"Procfile": f"web: {command}\n"})
    return dataclasses.replace(report, app=dataclasses.replace(report.app, command=command)), copy


def with_workers(report: ProfileReport, **changes: Any) -> ProfileReport:
    processes = tuple(
        dataclasses.replace(process, **changes) if process.role == "worker" else process
        for process in report.processes
    )
    return dataclasses.replace(report, processes=processes)


# --- End to end: real gunicorn, real memray ---------------------------------------------------------


@pytest.mark.slow
def test_each_workers_import_of_40_mib_is_named_by_mem510_and_mem520(
    heavy: tuple[Path, ProfileReport],
) -> None:
    _, report = heavy
    costs = {(cost.module, cost.role): cost.bytes for cost in report.imports}
    assert abs(costs[("heavy", "worker")] - HELD_MIB * MIB) / (HELD_MIB * MIB) < 0.10, report.imports[:4]
    by_id = {finding.id: finding for finding in report.findings}  # the pipeline's own findings
    imports = by_id["MEM510"]
    assert "heavy" in imports.title and imports.severity == Severity.WARNING
    assert imports.fix is not None
    assert [(edit.path, edit.new) for edit in imports.fix.edits] == [
        ("Procfile", "web: gunicorn --preload app:app")
    ]
    data = by_id["MEM520"]
    assert data.location == Location("heavy.py", 1)
    assert "heavy.py:1" in data.title
    text = render_profile_terminal(report, width=200)
    assert "MEM510" in text and "MEM520" in text and "Findings (" in text


@pytest.mark.slow
def test_the_flask_sample_app_has_no_memory_warning_or_error() -> None:
    report = profile_json(SAMPLE_APPS / "flask_basic", "--url", "/", "--url", "/health", "--requests", "10")
    serious = [
        (f["id"], f["title"])
        for f in report["findings"]
        if f["id"].startswith("MEM") and f["severity"] in ("warning", "error")
    ]
    assert serious == []
    # Its gthread workers (5 threads in gunicorn.conf.py) run without MALLOC_ARENA_MAX: worth knowing.
    assert [f["severity"] for f in report["findings"] if f["id"] == "MEM541"] == ["info"]


@pytest.mark.slow
def test_profile_ignore_silences_a_rule_and_counts_it(tmp_path: Path) -> None:
    app = write_files(tmp_path / "app", HEAVY_APP)
    report = as_report(profile_json(app, "--requests", "2", "--ignore", "mem510"))
    assert "MEM510" not in {finding.id for finding in report.findings}
    assert "MEM520" in {finding.id for finding in report.findings}
    assert report.rules.ignored_rules == ("MEM510",)
    assert report.rules.silenced == 1
    assert "1 finding silenced (MEM510)" in render_profile_terminal(report, width=200)


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a BLAS pool sized to one core adds no thread")
def test_numpy_in_each_worker_sizes_its_pool_to_the_host(tmp_path: Path) -> None:
    """numpy's OpenBLAS starts a thread per core but one as it loads, in each worker that imports it."""
    app = write_files(
        tmp_path / "app", {"Procfile": "web: gunicorn app:app\n", "app.py": "import numpy  # noqa\n" + HELLO}
    )
    if any(os.environ.get(name) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        pytest.skip("this environment sizes the pools itself")
    report = profile_json(app, "--requests", "2")
    workers = [p for p in report["processes"] if p["role"] == "worker"]
    assert all(p["threads_max"] > 1 for p in workers), workers
    blas = [f for f in report["findings"] if f["id"] == "MEM540"]
    assert len(blas) == 1, report["findings"]
    assert blas[0]["fix"]["command"] == (
        "heroku config:set OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1"
    )


def test_an_unknown_rule_to_ignore_stops_before_the_app_starts(tmp_path: Path) -> None:
    app = write_files(tmp_path / "app", {"Procfile": "web: python -c 'import time; time.sleep(600)'\n"})
    result = slugprof("profile", app, "--env", sys.executable, "-q", "--no-memray", "--ignore", "MEM999")
    assert result.returncode == 2
    assert "MEM999" in result.stderr and "Traceback" not in result.stderr


# --- MEM500-502: the dyno fit and the worker count -------------------------------------------------------


@pytest.mark.slow
def test_mem500_is_silent_when_the_dyno_fits(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    assert next(row for row in report.dyno_fit if row.dyno == "standard-1x").status == "ok"
    assert "MEM500" not in findings(report, app)


@pytest.mark.slow
def test_mem500_gives_the_count_that_fits_and_the_smallest_dyno(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    marginal = 300 * MIB
    over = refit(report, marginal)
    [finding] = findings(over, app)["MEM500"]
    assert finding.severity == Severity.ERROR
    assert "R14" in finding.title and "2 workers" in finding.title
    base = report.memory.base_bytes
    fitting = int((512 * MIB * 0.9 - base) // marginal)
    assert finding.fix is not None
    assert finding.fix.command == f"heroku config:set WEB_CONCURRENCY={fitting}"
    candidates = [
        size
        for size in DYNO_SIZES
        if not size.name.startswith(("private-", "shield-"))
        and (size.memory_bytes * 0.9 - base) // marginal >= 2
    ]
    smallest = min(candidates, key=lambda size: size.memory_bytes)
    assert f"heroku ps:type web={smallest.name}" in finding.fix.summary
    assert any("the buildpack's WEB_CONCURRENCY for standard-1x" in line for line in finding.evidence)


@pytest.mark.slow
def test_mem500_says_r15_above_twice_the_quota(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    [finding] = findings(refit(report, 600 * MIB), app)["MEM500"]
    assert "R15" in finding.title and "restarts" in finding.title


@pytest.mark.slow
def test_mem500_says_the_run_took_its_count_from_dotenv(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    app, report = heavy
    copy = variant(app, tmp_path, {".env": "WEB_CONCURRENCY=3\n"})
    [finding] = findings(refit(report, 300 * MIB), copy)["MEM500"]
    assert any(".env's WEB_CONCURRENCY=3" in line and "heroku local" in line for line in finding.evidence)


@pytest.mark.slow
def test_mem500_with_a_fixed_count_does_not_offer_web_concurrency(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    [finding] = findings(refit(report, 300 * MIB, fixed=2), app)["MEM500"]
    assert finding.fix is not None and finding.fix.command is None
    assert "fixes its count" in finding.fix.summary


@pytest.mark.slow
def test_mem501_fires_on_web_concurrency_in_dotenv(heavy: tuple[Path, ProfileReport], tmp_path: Path) -> None:
    app, report = heavy
    assert "MEM501" not in findings(report, app)
    copy = variant(app, tmp_path, {".env": "SECRET_KEY=x\nWEB_CONCURRENCY=3\n"})
    [finding] = findings(report, copy)["MEM501"]
    assert finding.location == Location(".env", 2)
    assert finding.fix is not None and finding.fix.command == "heroku config:set WEB_CONCURRENCY=3"
    assert "standard-1x runs 2 workers" in finding.title


@pytest.mark.slow
def test_mem502_fires_on_a_fixed_worker_count(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    assert "MEM502" not in findings(report, app)
    [finding] = findings(refit(report, report.memory.worker_marginal_bytes, fixed=3), app)["MEM502"]
    assert finding.severity == Severity.INFO and "3 workers" in finding.title


@pytest.mark.slow
def test_mem502_leaves_a_count_written_in_the_procfile_to_web620(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    app, report = heavy
    fixed = refit(report, report.memory.worker_marginal_bytes, fixed=3)
    written, copy = with_command(app, fixed, tmp_path, f"{fixed.app.command} -w 3")
    found = findings(written, copy)
    assert "MEM502" not in found and "WEB620" in found


# --- MEM510-520: what each worker pays at import -------------------------------------------------------


@pytest.mark.slow
def test_mem510_is_silent_when_the_master_imports(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    in_master = tuple(dataclasses.replace(cost, role="master") for cost in report.imports)
    assert "MEM510" not in findings(dataclasses.replace(report, imports=in_master), app)


@pytest.mark.slow
def test_mem510_is_silent_below_its_threshold_and_with_one_worker(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    small = tuple(
        dataclasses.replace(cost, bytes=HEAVY_BYTES - 1) if cost.module == "heavy" else cost
        for cost in report.imports
    )
    assert "MEM510" not in findings(dataclasses.replace(report, imports=small), app)
    assert "MEM510" not in findings(refit(report, report.memory.worker_marginal_bytes, fixed=1), app)


@pytest.mark.slow
def test_mem510_never_advises_preload_for_a_library_that_hangs_after_fork(
    heavy: tuple[Path, ProfileReport],
) -> None:
    app, report = heavy
    torch = tuple(
        dataclasses.replace(cost, module="torch") if cost.module == "heavy" else cost
        for cost in report.imports
    )
    [finding] = findings(dataclasses.replace(report, imports=torch), app)["MEM510"]
    assert finding.fix is not None
    assert finding.fix.edits == ()
    assert finding.fix.command == "heroku config:set WEB_CONCURRENCY=1"
    assert "do not preload" in finding.fix.summary and "post_fork" in finding.fix.summary


@pytest.mark.slow
def test_mem510_sees_a_fork_unsafe_library_behind_another_import(heavy: tuple[Path, ProfileReport]) -> None:
    """`import sentence_transformers` costs its own name, and the memory it holds sits in torch's files."""
    app, report = heavy
    site = AllocationSite("torch/nn/modules/module.py:12 <module>", 2 * MIB, 3)
    loaded = with_workers(report, top_sites=(site,))
    [finding] = findings(loaded, app)["MEM510"]
    assert finding.fix is not None and "do not preload" in finding.fix.summary


@pytest.mark.slow
def test_mem510_when_the_app_preloads_says_the_import_comes_after_the_fork(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    preloaded, copy = with_command(*heavy, tmp_path, "gunicorn --preload app:app")
    [finding] = findings(preloaded, copy)["MEM510"]
    assert finding.fix is not None and finding.fix.edits == ()
    assert "after the fork" in finding.fix.summary


@pytest.mark.slow
def test_mem520_is_silent_for_small_sites_library_files_and_functions(
    heavy: tuple[Path, ProfileReport],
) -> None:
    app, report = heavy
    for site in (
        AllocationSite("heavy.py:1 <module>", HEAVY_BYTES - 1, 1),
        AllocationSite("somelib/data.py:1 <module>", 100 * MIB, 1),
        AllocationSite("heavy.py:1 load", 100 * MIB, 1),
    ):
        assert "MEM520" not in findings(with_workers(report, top_sites=(site,)), app), site


@pytest.mark.slow
def test_mem521_names_a_star_import_of_the_module_the_profile_found_heavy(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    app, report = heavy
    assert "MEM521" not in findings(report, app)  # app.py does `import heavy`
    starred = variant(
        app, tmp_path, {"views.py": '"""Views."""\nfrom heavy import *  # noqa\nfrom os import *\n'}
    )
    [finding] = findings(report, starred)["MEM521"]  # os costs nothing: only heavy is named
    assert finding.location == Location("views.py", 2)
    assert finding.title.startswith("views.py:2 star-imports heavy (")
    assert finding.title.endswith(" MiB at import in each worker)")
    cost = next(cost for cost in report.imports if cost.module == "heavy")
    assert abs(cost.bytes - HELD_MIB * MIB) < 0.1 * HELD_MIB * MIB  # the bytearray heavy.py holds


# --- MEM530-541: growth and threads ------------------------------------------------------------------------


def _spanning(report: ProfileReport, seconds: float) -> ProfileReport:
    samples = report.memory.samples
    last = dataclasses.replace(samples[-1], seconds=samples[0].seconds + seconds)
    memory = dataclasses.replace(report.memory, samples=(*samples[:-1], last))
    return dataclasses.replace(report, memory=memory)


@pytest.mark.slow
def test_mem530_fires_on_steady_growth_over_a_long_run(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    assert "MEM530" not in findings(report, app)
    growing = with_workers(_spanning(report, GROWTH_HINT_SECONDS + 10), growth_bytes_per_second=float(MIB))
    [finding] = findings(growing, app)["MEM530"]
    assert finding.fix is not None
    flags = f"--max-requests {MAX_REQUESTS} --max-requests-jitter {MAX_REQUESTS_JITTER}"
    assert [edit.new for edit in finding.fix.edits] == [f"web: gunicorn {flags} app:app"]
    # A short run, or slow growth, says nothing.
    short = with_workers(_spanning(report, GROWTH_HINT_SECONDS - 5), growth_bytes_per_second=float(MIB))
    assert "MEM530" not in findings(short, app)
    slow = with_workers(_spanning(report, GROWTH_HINT_SECONDS + 10), growth_bytes_per_second=100 * 1024.0)
    assert "MEM530" not in findings(slow, app)


def _numpy_in_workers(report: ProfileReport, threads: int) -> ProfileReport:
    imports = (*report.imports, ImportCost(module="numpy", bytes=6 * MIB, role="worker"))
    return with_workers(dataclasses.replace(report, imports=imports), threads_max=threads)


@pytest.mark.slow
def test_mem540_fires_on_blas_threads_and_stays_silent_once_sized(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    app, report = heavy
    assert "MEM540" not in findings(report, app)
    pooled = _numpy_in_workers(report, threads=3)
    [finding] = findings(pooled, app)["MEM540"]
    assert finding.fix is not None and "OPENBLAS_NUM_THREADS=1" in (finding.fix.command or "")
    assert "MEM540" not in findings(_numpy_in_workers(report, threads=1), app)
    sized = variant(app, tmp_path, {".env": "OPENBLAS_NUM_THREADS=1\nOMP_NUM_THREADS=1\nMKL_NUM_THREADS=1\n"})
    assert "MEM540" not in findings(pooled, sized)


@pytest.mark.slow
def test_mem540_counts_the_threads_a_gthread_worker_asks_for(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    report, threaded = with_command(*heavy, tmp_path, "gunicorn --threads 4 app:app")
    assert "MEM540" not in findings(_numpy_in_workers(report, threads=5), threaded)  # main + 4
    assert "MEM540" in findings(_numpy_in_workers(report, threads=7), threaded)


@pytest.mark.slow
def test_mem541_fires_on_threads_without_malloc_arena_max(
    heavy: tuple[Path, ProfileReport], tmp_path: Path
) -> None:
    app, report = heavy
    assert "MEM541" not in findings(report, app)  # sync workers
    threaded = variant(app, tmp_path, {"gunicorn.conf.py": 'worker_class = "gthread"\nthreads = 5\n'})
    [finding] = findings(report, threaded)["MEM541"]
    assert finding.severity == Severity.INFO and "5 threads" in finding.title
    assert finding.fix is not None and finding.fix.command == "heroku config:set MALLOC_ARENA_MAX=2"
    write_files(threaded, {".env": "MALLOC_ARENA_MAX=2\n"})
    assert "MEM541" not in findings(report, threaded)


# --- MEM550-552: boot and shutdown -----------------------------------------------------------------------


@pytest.mark.slow
def test_boot_rules_fire_past_r10_and_near_it(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    quick = findings(report, app)
    assert "MEM550" not in quick and "MEM552" not in quick
    late = findings(dataclasses.replace(report, boot_seconds=61.0), app)
    assert "MEM550" in late and "MEM552" not in late
    near = findings(dataclasses.replace(report, boot_seconds=45.0), app)
    assert "MEM552" in near and "MEM550" not in near


@pytest.mark.slow
def test_mem551_fires_when_the_app_is_killed_at_shutdown(heavy: tuple[Path, ProfileReport]) -> None:
    app, report = heavy
    assert "MEM551" not in findings(report, app)
    killed = dataclasses.replace(report, graceful_shutdown=False, shutdown_seconds=30.0)
    [finding] = findings(killed, app)["MEM551"]
    assert finding.fix is not None
    assert [edit.new for edit in finding.fix.edits] == ["web: gunicorn --graceful-timeout 20 app:app"]


# --- Quick: what the command and its config ask for ------------------------------------------------------


def _no_file(path: str) -> str | None:
    return None


def test_gunicorn_flags_are_read_in_all_their_spellings() -> None:
    config = read_gunicorn_config("gunicorn -w4 --threads=8 -k gthread --preload app:app", _no_file)
    assert config is not None
    assert (config.workers, config.threads, config.worker_class, config.preload) == (4, 8, "gthread", True)
    config = read_gunicorn_config("python -m gunicorn --workers 3 app:app", _no_file)
    assert config is not None and config.workers == 3 and config.threaded is False
    assert read_gunicorn_config("uvicorn main:app --port $PORT", _no_file) is None


def test_the_config_file_gives_literals_and_the_flags_win() -> None:
    files = {
        "conf/g.py": 'import os\nworkers = int(os.environ.get("WEB_CONCURRENCY", 2))\nthreads = 5\n'
        "preload_app = True\n"
    }
    config = read_gunicorn_config("gunicorn -c conf/g.py --threads 2 app:app", files.get)
    assert config is not None
    assert (config.workers, config.threads, config.preload, config.config_path) == (
        None,
        2,
        True,
        "conf/g.py",
    )
    assert config.known_worker_threads == 3  # the main thread and gthread's pool of 2


def test_a_worker_class_it_does_not_know_has_no_expected_thread_count() -> None:
    config = read_gunicorn_config("gunicorn -k uvicorn.workers.UvicornWorker main:app", _no_file)
    assert config is not None and config.known_worker_threads is None


def _assigned(command: str) -> dict[str, str]:
    launch = launch_of_command(command)
    assert launch is not None
    return launch.assigned


def test_variables_set_in_the_command_itself() -> None:
    assert _assigned("OMP_NUM_THREADS=1 MALLOC_ARENA_MAX=2 gunicorn app:app") == {
        "OMP_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }
    # The shell's words, split by the project's shell reader: quotes, and the command after `cd &&`.
    assert _assigned("cd site && WEB_CONCURRENCY='3' gunicorn app:app") == {"WEB_CONCURRENCY": "3"}
    config = read_gunicorn_config('cd site && gunicorn --workers "2" app:app', _no_file)
    assert config is not None and config.workers == 2


def test_a_fixed_count_is_seen_in_the_dyno_fit() -> None:
    cost = WorkerCost(100 * MIB, 20 * MIB, 2)
    assert fixed_workers(fit_dynos(cost, DYNO_SIZES)) is None
    assert fixed_workers(fit_dynos(cost, DYNO_SIZES, fixed_workers=2)) == 2
