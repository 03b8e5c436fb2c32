"""MEM5xx: a Procfile process's memory, threads, boot and shutdown as the profile measured them.

Every rule reads the profile (`needs=Needs.PROFILE`): the dyno fit, what each worker paid at import, how
its memory moved, its threads, and the app's own files for what the command and `.env` ask for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from slugprof.heroku import R10_BOOT_TIMEOUT_SECONDS, SHUTDOWN_TIMEOUT_SECONDS
from slugprof.model import (
    DynoFit,
    DynoSize,
    Edit,
    Evidence,
    Fix,
    ImportCost,
    Location,
    MemoryMeasure,
    ProfileReport,
    Severity,
    WorkersFrom,
)
from slugprof.rules.registry import Hit, Needs, RuleInputs, append_edit, rule
from slugprof.rules.web_procfile import PROCFILE, arg_words, launches, rewritten
from slugprof.sources.dotenv import parse_dotenv
from slugprof.sources.dyno import DYNO_SIZES
from slugprof.sources.gunicorn_config import GunicornConfig, read_gunicorn_config
from slugprof.sources.launch import launch_of_command
from slugprof.sources.worker_count import CeleryWorker, celery_worker
from slugprof.units import format_binary

# An import, or data held at import, of this much in each worker is worth sharing: the buildpack's
# WEB_CONCURRENCY gives each process 256 MiB (heroku-facts 4.4), and a sixteenth of that paid again
# in every worker is what one preload turns into a single copy.
HEAVY_BYTES = 16 * 1024 * 1024
# A worker whose unique memory grows faster than this over a run of at least GROWTH_HINT_SECONDS is
# worth a look (a leak hint); shorter runs mostly see workers warming up.
GROWTH_HINT_BYTES_PER_SECOND = 256 * 1024
GROWTH_HINT_SECONDS = 20.0
# Growth with traffic worth a warning: 1 MiB per thousand requests is 84 MiB a day at one request a
# second, a standard-1x's 512 MiB quota in under a week.
GROWTH_PER_THOUSAND_HINT_BYTES = 1024 * 1024
# A local boot past this share of R10's 60 s has no margin left on a dyno: a standard-1x shares its
# host's CPU (compute 1x-4x, heroku-facts 4.1) and the slug is fetched and unpacked before the process
# starts (heroku-facts 5), so the same boot can take twice as long there.
NEAR_R10_FRACTION = 0.5
# Worker recycling for a growing worker: restart each after this many requests, each at its own count
# (up to JITTER more) so that the workers do not restart together. gunicorn's default, 0, never
# restarts; 1000 is a starting point to lower when the growth is fast (heroku-facts 5: gunicorn's own
# docs describe --max-requests / --max-requests-jitter for limiting a leak's impact).
MAX_REQUESTS = 1000
MAX_REQUESTS_JITTER = 100
# Heroku's own gunicorn config: 5 threads a worker, and a graceful timeout of 20 s, "under the 30 s dyno
# shutdown timeout" (heroku-facts 5).
HEROKU_THREADS = 5
HEROKU_GRACEFUL_TIMEOUT = 20
# glibc's malloc arenas for threaded workers: Heroku's "Tuning glibc Memory Behavior" sets 2
# (heroku-facts 9.3).
MALLOC_ARENA_MAX = 2

# Libraries that hang or break in a worker forked from a master that imported them: never preloaded.
FORK_UNSAFE: tuple[str, ...] = (
    "torch",  # pytorch/pytorch#49555, benoitc/gunicorn#2478: workers hang in their first inference
    "xgboost",  # dmlc/xgboost#8040 (>= 1.6, on Heroku): predict hangs forever under --preload
    "ctranslate2",  # OpenNMT/CTranslate2#539 (heroku-facts 9.3)
    "tensorflow",  # tensorflow/tensorflow#5448, #8220: its threads do not survive fork; sessions hang
    "grpc",  # grpc/grpc doc/fork_support.md: gRPC core is multithreaded "and hence doesn't support fork()"
)
# Imports that load a BLAS or OpenMP thread pool sized to the host's cores: numpy (OpenBLAS), scipy,
# torch (OpenMP), and the libraries that import numpy as they load (heroku-facts 9.3).
BLAS_IMPORTS: tuple[str, ...] = ("numpy", "scipy", "torch", "pandas", "sklearn", "statsmodels")
BLAS_VARIABLES: tuple[str, ...] = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_SITE = re.compile(r"^(?P<path>.+):(?P<line>\d+) (?P<function>\S+)$")


@dataclass(frozen=True)
class _Run:
    """What the rules read from a profile and the app's files, worked out once per rule."""

    report: ProfileReport
    fit: DynoFit | None  # the dyno it ran as
    size: DynoSize | None
    dotenv: dict[str, str]
    assigned: dict[str, str]  # the variables the command assigns or exports for its program
    gunicorn: GunicornConfig | None  # None: the command does not run gunicorn
    celery: CeleryWorker | None  # None: the command does not run a Celery worker
    fixed_workers: int | None  # the app's own count, whatever WEB_CONCURRENCY says

    @property
    def per_core(self) -> bool:
        """Each dyno runs one worker per core it reports (a Celery pool without --concurrency)."""
        return self.report.workers_from == WorkersFrom.CORES

    @property
    def one_process(self) -> bool:
        """An app without a worker model: no worker count to advise, its whole peak on each size."""
        return not self.report.worker_model

    @property
    def workers(self) -> int:
        """The workers Heroku runs on this dyno: the fit's count, else the count the run had."""
        if self.fit is not None:
            return self.fit.workers
        return sum(1 for process in self.report.processes if process.role == "worker")

    def set_for_the_process(self, name: str) -> bool:
        """Whether the app's `.env` or its Procfile command sets `name`."""
        return name in self.dotenv or name in self.assigned


def _run(inputs: RuleInputs) -> _Run:
    report = inputs.profile
    fit = next((row for row in report.dyno_fit if row.dyno == report.dyno), None)
    dotenv, _ = parse_dotenv(inputs.files.read_local_text(".env") or "")
    launch = launch_of_command(report.app.command)
    return _Run(
        report=report,
        fit=fit,
        size=_size(report.dyno),
        dotenv=dotenv,
        assigned=launch.assigned if launch is not None else {},
        gunicorn=read_gunicorn_config(report.app.command, inputs.files.read_text, environment=dotenv),
        celery=celery_worker(launch),
        fixed_workers=_app_count(report),
    )


def _app_count(report: ProfileReport) -> int | None:
    """The app's own worker count, kept on every size; None when the platform's or the cores' count runs."""
    if not report.worker_model or not report.dyno_fit:
        return None
    if report.workers_from is None:  # a report saved before it: the rows tell
        return fixed_workers(report.dyno_fit)
    return report.dyno_fit[0].workers if report.workers_from == WorkersFrom.APP else None


def _size(name: str) -> DynoSize | None:
    return next((size for size in DYNO_SIZES if size.name == name), None)


def fixed_workers(fits: Sequence[DynoFit]) -> int | None:
    """The app's own worker count when the fit keeps one count on every size (it ignores
    WEB_CONCURRENCY); None when each size runs the buildpack's WEB_CONCURRENCY for it."""
    for row in fits:
        size = _size(row.dyno)
        if size is not None and row.workers != size.workers:
            return row.workers
    return None


def _predicted(report: ProfileReport, workers: int) -> int:
    return report.memory.base_bytes + workers * report.memory.worker_marginal_bytes


def _procfile_edit(inputs: RuleInputs, flags: str) -> Edit | None:
    """The Procfile line of the profiled process with `flags` where its server reads options: after
    gunicorn's own words, or after a Celery command's `worker`; None for another program."""
    process_type = inputs.profile.app.process_type
    launch = next(
        (found for found in launches(inputs.files) if found.line.process.name == process_type), None
    )
    if launch is None or launch.server not in ("gunicorn", "celery"):
        return None
    after = None
    if launch.server == "celery":
        if "worker" not in launch.values:
            return None
        after = min(arg_words(launch, [launch.values.index("worker")]))
    return Edit(path=PROCFILE, old=launch.line.text, new=rewritten(launch, insert=flags, after=after))


def _dotenv_line(inputs: RuleInputs, name: str) -> int | None:
    text = inputs.files.read_local_text(".env") or ""
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=", line):
            return number
    return None


# --- MEM50x: the dyno fit and the worker count -----------------------------------------------------------


def _marginal_words(report: ProfileReport) -> str:
    anonymous = report.memory.measure == MemoryMeasure.ANONYMOUS
    return "the memory only it wrote" if anonymous else "its unique memory"


def _peak_words(report: ProfileReport) -> str:
    anonymous = report.memory.measure == MemoryMeasure.ANONYMOUS
    return "anonymous memory and swap, each page once" if anonymous else "summed PSS"


def _count_source(run: _Run) -> list[str]:
    """Where the worker count of the prediction comes from, and how the run's own count differs."""
    report, workers = run.report, run.workers
    if run.fixed_workers is not None:
        return [f"{workers} workers: the app's own count (its command or config fixes it)"]
    if run.per_core:
        cores = f" ({run.size.cores})" if run.size else ""
        return [
            f"{workers} pool processes: Celery's default concurrency, one per core {report.dyno} reports"
            f"{cores}, heroku-facts 4.1, 9.3"
        ]
    lines = [_platform_count(run)]
    dotenv = run.dotenv.get("WEB_CONCURRENCY")
    ran = sum(1 for process in report.processes if process.role == "worker")
    if dotenv is not None and dotenv != str(workers):
        lines.append(
            f"the run had {ran} from .env's WEB_CONCURRENCY={dotenv}, which `heroku local` reads and Heroku "
            "does not: the dyno runs the buildpack's count unless WEB_CONCURRENCY is a config var"
        )
    return lines


def _on_fir(run: _Run) -> bool:
    return run.size is not None and run.size.generation == "fir"


def _platform_count(run: _Run) -> str:
    """Where the count the dyno runs comes from when the app does not fix one."""
    if _on_fir(run):
        return (
            f"{run.workers} worker: gunicorn's default, since Fir sets no WEB_CONCURRENCY (heroku-facts "
            "9.4): set it as a config var to run more"
        )
    return f"{run.workers} workers: the buildpack's WEB_CONCURRENCY for {run.report.dyno} (heroku-facts 4.4)"


def _same_kind(run: _Run) -> list[DynoFit]:
    """The dyno-fit rows of the same kind (Common Runtime, Private or Shield) as the dyno it ran as."""
    kind = run.report.dyno.split("-", 1)[0] if run.report.dyno.startswith(("private-", "shield-")) else ""
    return [
        row
        for row in run.report.dyno_fit
        if (row.dyno.split("-", 1)[0] if row.dyno.startswith(("private-", "shield-")) else "") == kind
    ]


def _smallest_fitting(run: _Run) -> DynoFit | None:
    """The smallest dyno of the same kind that runs today's workers with the headroom to spare; for an
    app without a worker model, that holds its whole peak with the headroom to spare."""
    if run.one_process:
        room = 1.0 - run.report.headroom
        fitting = [row for row in _same_kind(run) if row.predicted_bytes <= row.quota_bytes * room]
    else:
        fitting = [row for row in _same_kind(run) if row.max_workers >= run.workers]
    return min(fitting, key=lambda row: row.quota_bytes, default=None)


def _one_process_fix(run: _Run) -> Fix:
    """An app without a worker model over its quota: a larger dyno, or less memory; no worker count."""
    report = run.report
    bigger = _smallest_fitting(run)
    if bigger is None:
        return Fix(summary="no dyno size of this kind holds its peak with the headroom: lower its memory")
    return Fix(
        summary=f"run it on {bigger.dyno}, which holds its peak with {report.headroom:.0%} to spare; or "
        "lower its memory",
        command=f"heroku ps:type {report.app.process_type}={bigger.dyno}",
    )


def _over_quota_fix(inputs: RuleInputs, run: _Run, fit: DynoFit) -> Fix:
    report, workers = run.report, run.workers
    bigger = _smallest_fitting(run)
    resize = ""
    if bigger is not None:
        resize = f"`heroku ps:type {report.app.process_type}={bigger.dyno}` runs {workers} workers"
        if run.fixed_workers is None and bigger.max_workers < bigger.workers:
            resize += f" with WEB_CONCURRENCY={workers} (its default, {bigger.workers}, does not fit)"
        resize += f" with {report.headroom:.0%} to spare"
    if fit.max_workers < 1:
        return Fix(summary=f"no worker count fits on {report.dyno}" + (f": {resize}" if resize else ""))
    if run.fixed_workers is not None:
        summary = f"run {fit.max_workers} workers where the app fixes its count (-w, or its config's workers)"
        return Fix(summary=summary + (f"; or {resize}" if resize else ""))
    if run.per_core:
        edit = _procfile_edit(inputs, f"--concurrency {fit.max_workers}")
        summary = (
            f"give Celery --concurrency {fit.max_workers}: that many pool processes fit on {report.dyno} "
            f"with {report.headroom:.0%} to spare"
        )
        return Fix(summary=summary + (f"; or {resize}" if resize else ""), edits=(edit,) if edit else ())
    summary = f"run {fit.max_workers} workers on {report.dyno}, which fit with {report.headroom:.0%} to spare"
    return Fix(
        summary=summary + (f"; or {resize}" if resize else ""),
        command=f"heroku config:set WEB_CONCURRENCY={fit.max_workers}",
    )


@rule(
    "MEM500",
    "dyno-memory-exceeded",
    Severity.ERROR,
    summary="At the worker count Heroku runs, the dyno it ran as is predicted over its memory quota "
    "(R14) or its restart threshold (R15).",
    why="Above the quota the dyno swaps and logs R14; at the R15 threshold (2x the quota on Cedar's "
    "standard and performance-M/L dynos, 1.2x above, 1x on Private and Shield) Heroku restarts it.",
    fix="Run the WEB_CONCURRENCY that fits (`heroku config:set WEB_CONCURRENCY=N`), or the smallest dyno "
    "that fits today's workers; the count comes from the buildpack unless WEB_CONCURRENCY is a config var.",
    source="heroku-facts 4.1 (quotas), 4.2 (R14, R15), 4.4 (the buildpack's WEB_CONCURRENCY)",
    needs=Needs.PROFILE,
)
def dyno_memory_exceeded(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    fit, size, report = run.fit, run.size, run.report
    if fit is None or size is None or fit.status == "ok":
        return
    threshold = fit.quota_bytes * size.r15_multiplier
    outcome = (
        f"over the R15 threshold {format_binary(threshold)}: the dyno restarts"
        if fit.status == "r15"
        else f"over its {format_binary(fit.quota_bytes)} quota: R14, the dyno swaps"
    )
    if run.one_process:
        yield _one_process_over(run, fit, size, outcome)
        return
    memory = report.memory
    evidence = [
        f"predicted {format_binary(fit.predicted_bytes)} = the rest of the dyno "
        f"{format_binary(memory.base_bytes)} + {fit.workers} x {format_binary(memory.worker_marginal_bytes)} "
        f"per worker ({_marginal_words(report)}, at its peak)",
        f"quota {format_binary(fit.quota_bytes)}; R15 at {size.r15_multiplier:g}x: "
        f"{format_binary(threshold)}",
        *_count_source(run),
        f"{fit.max_workers} workers fit on {report.dyno} with {report.headroom:.0%} headroom",
    ]
    yield Hit(
        title=f"{report.dyno} at {fit.workers} workers is predicted {format_binary(fit.predicted_bytes)}, "
        + outcome,
        evidence=tuple(evidence),
        evidence_class=Evidence.MEASURED,
        fix=_over_quota_fix(inputs, run, fit),
    )


def _one_process_over(run: _Run, fit: DynoFit, size: DynoSize, outcome: str) -> Hit:
    report = run.report
    threshold = fit.quota_bytes * size.r15_multiplier
    return Hit(
        title=f"{report.dyno}, one process, peaked at {format_binary(fit.predicted_bytes)}, {outcome}",
        evidence=(
            f"no master with workers ran: the fit is the whole process tree's peak, "
            f"{format_binary(fit.predicted_bytes)} ({_peak_words(report)})",
            f"quota {format_binary(fit.quota_bytes)}; R15 at {size.r15_multiplier:g}x: "
            f"{format_binary(threshold)}",
        ),
        evidence_class=Evidence.MEASURED,
        fix=_one_process_fix(run),
    )


@rule(
    "MEM501",
    "web-concurrency-in-dotenv",
    Severity.WARNING,
    summary=".env sets WEB_CONCURRENCY: `heroku local` reads it, Heroku does not.",
    why="Heroku takes config vars from `heroku config`, never from .env: on the dyno the buildpack sets "
    "WEB_CONCURRENCY for the dyno's size, so the app runs another count than the one tried locally.",
    fix="Set it as a config var: `heroku config:set WEB_CONCURRENCY=N` (keep .env for heroku local).",
    source="heroku-facts 3.6 (.profile.d/WEB_CONCURRENCY.sh), 4.4 (it skips a value already set)",
    needs=Needs.PROFILE,
)
def web_concurrency_in_dotenv(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    value = run.dotenv.get("WEB_CONCURRENCY")
    if value is None or run.size is None or run.one_process or run.celery is not None:
        return  # no workers, or Celery's pool, which WEB_CONCURRENCY does not size
    default = run.size.workers
    evidence = [
        f"Fir sets no WEB_CONCURRENCY: gunicorn runs {default} worker on {run.report.dyno} (heroku-facts 9.4)"
        if _on_fir(run)
        else f"the buildpack's WEB_CONCURRENCY on {run.report.dyno}: {default} (heroku-facts 4.4)"
    ]
    if run.fixed_workers is not None:
        evidence.append(f"the app runs {run.fixed_workers} workers whatever WEB_CONCURRENCY says")
    if value.isdigit() and run.fit is not None:
        predicted = _predicted(run.report, int(value))
        verdict = "fits" if predicted <= run.fit.quota_bytes else "is over"
        evidence.append(
            f"at {value} workers {run.report.dyno} is predicted {format_binary(predicted)}, which {verdict} "
            f"its {format_binary(run.fit.quota_bytes)} quota ({run.fit.max_workers} fit with "
            f"{run.report.headroom:.0%} headroom)"
        )
    runs = (
        f"the app fixes its own count ({run.fixed_workers})"
        if run.fixed_workers is not None
        else f"{run.report.dyno} runs {default} workers unless it is a config var"
    )
    yield Hit(
        title=f".env sets WEB_CONCURRENCY={value}, which Heroku does not read: {runs}",
        evidence=tuple(evidence),
        evidence_class=Evidence.MEASURED,
        location=Location(".env", _dotenv_line(inputs, "WEB_CONCURRENCY")),
        fix=Fix(
            summary="set it as a config var (keep .env for heroku local)",
            command=f"heroku config:set WEB_CONCURRENCY={value}",
        ),
    )


@rule(
    "MEM502",
    "workers-ignore-web-concurrency",
    Severity.INFO,
    summary="The app runs its own worker count whatever WEB_CONCURRENCY says, computed where the files do "
    "not show it (a count written in the command or config is WEB620's): every dyno size gets that count.",
    why="The buildpack sizes WEB_CONCURRENCY to the dyno (2 on 512 MiB, 4 on 1 GiB...); a fixed count "
    "wastes a larger dyno and may not fit a smaller one, and `heroku config:set WEB_CONCURRENCY` "
    "changes nothing.",
    fix="Let gunicorn take its count from WEB_CONCURRENCY (its default): drop -w/--workers, or write "
    '`workers = int(os.environ.get("WEB_CONCURRENCY", 1))` in its config.',
    source="heroku-facts 4.4 (the buildpack's WEB_CONCURRENCY), 5 (Heroku's config reads WEB_CONCURRENCY)",
    needs=Needs.PROFILE,
)
def fixed_worker_count(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    if run.fixed_workers is None or (run.gunicorn is not None and run.gunicorn.workers is not None):
        return  # a count written in the command or the config: WEB620 says so, from the files
    if run.celery is not None:
        return  # Celery's pool never reads WEB_CONCURRENCY: its count is its own (WEB630 reads it)
    wanted = run.report.web_concurrency or "unset"
    yield Hit(
        title=f"the app runs {run.fixed_workers} workers whatever WEB_CONCURRENCY says ({wanted}): the dyno "
        "fit keeps that count on every size",
        evidence=(f"the process saw WEB_CONCURRENCY={wanted} and started {run.fixed_workers} workers",),
        evidence_class=Evidence.MEASURED,
        fix=Fix(summary="take the count from WEB_CONCURRENCY: drop -w/--workers, or read it in the config"),
    )


@rule(
    "MEM503",
    "development-config-vars",
    Severity.WARNING,
    summary="The profile ran with config vars that turn development mode on (DEBUG=true, "
    "ENVIRONMENT=development, a reload flag): it measured a development server.",
    why="Development mode often turns on the reloader and off preload, and keeps debug data: Heroku's own "
    "sample app commits ENVIRONMENT=development in its .env, and profiled with it a worker cost 25.1 MiB "
    "where it costs 8.4 without. The dyno runs with the app's config vars, not with .env.",
    fix="Profile with what the dyno runs: --heroku-config APP, --no-env-file, or --set NAME=VALUE for each.",
    source="heroku-facts 4.3 (the dyno's config vars); Heroku's python-getting-started sample commits "
    "ENVIRONMENT=development in its .env",
    needs=Needs.PROFILE,
)
def development_config_vars(inputs: RuleInputs) -> Iterator[Hit]:
    switches = [var for var in inputs.profile.config_vars if var.development]
    if not switches:
        return
    names = ", ".join(var.name for var in switches)
    origins = sorted({var.origin for var in switches})
    yield Hit(
        title=f"the profile ran with {names} set for development (from {', '.join(origins)}): it measured "
        "a development server",
        evidence=tuple(
            f"{var.name} from {var.origin}: its value turns development mode on" for var in switches
        ),
        evidence_class=Evidence.MEASURED,
        location=Location(".env") if ".env" in origins else None,
        fix=Fix(
            summary="profile with the dyno's config vars instead",
            command="slugprof profile --heroku-config APP   (or --no-env-file, or --set "
            + " --set ".join(f"{var.name}=..." for var in switches)
            + ")",
        ),
    )


@rule(
    "MEM504",
    "fir-web-concurrency-unset",
    Severity.INFO,
    summary="On a Fir dyno nothing sets WEB_CONCURRENCY, so gunicorn runs its default of one worker where "
    "more fit.",
    why="Fir's buildpack sets no WEB_CONCURRENCY (Cedar's sizes it to the dyno), and gunicorn's default is "
    '`int(os.environ.get("WEB_CONCURRENCY", 1))`: the dyno serves one request at a time per thread.',
    fix="Set the count that fits as a config var: `heroku config:set WEB_CONCURRENCY=N`.",
    source="heroku-facts 3.11, 4.4 (no WEB_CONCURRENCY for Fir dynos), 9.4 (gunicorn's default)",
    needs=Needs.PROFILE,
)
def fir_web_concurrency_unset(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    fit = run.fit
    if not _on_fir(run) or fit is None or run.fixed_workers is not None or run.one_process or run.celery:
        return
    if run.set_for_the_process("WEB_CONCURRENCY") or fit.max_workers <= fit.workers:
        return
    report = run.report
    yield Hit(
        title=f"{report.dyno} runs {fit.workers} worker: Fir sets no WEB_CONCURRENCY, and {fit.max_workers} "
        f"fit with {report.headroom:.0%} to spare",
        evidence=(
            _platform_count(run),
            f"{fit.max_workers} workers fit in its {format_binary(fit.quota_bytes)} quota at "
            f"{format_binary(report.memory.worker_marginal_bytes)} per worker ({_marginal_words(report)})",
        ),
        evidence_class=Evidence.MEASURED,
        fix=Fix(
            summary=f"set WEB_CONCURRENCY on Fir: {fit.max_workers} workers fit on {report.dyno}",
            command=f"heroku config:set WEB_CONCURRENCY={fit.max_workers}",
        ),
    )


# --- MEM51x-52x: what each worker pays at import ---------------------------------------------------------


def _fork_unsafe_loaded(report: ProfileReport) -> list[str]:
    """The fork-unsafe libraries the workers load: by their import, or memory held in their files.
    Preloading the app would import them in the master, whichever of the app's imports pulls them in."""
    found = {cost.module for cost in report.imports if cost.role == "worker" and cost.module in FORK_UNSAFE}
    found.update(
        location.split("/", 1)[0]
        for location in _worker_sites(report)
        if location.split("/", 1)[0] in FORK_UNSAFE
    )
    return sorted(found)


def _worker_sites(report: ProfileReport) -> list[str]:
    workers = [process for process in report.processes if process.role == "worker"]
    return list(dict.fromkeys(site.location for process in workers for site in process.top_sites))


def _preload_fix(inputs: RuleInputs, run: _Run, names: str) -> Fix:
    if run.gunicorn is not None and run.gunicorn.preload:
        return Fix(
            summary=f"the app preloads, yet each worker imports {names} after the fork (in a request or "
            "a post_fork hook): import them at the top of the app's module so the master loads them once"
        )
    edit = _procfile_edit(inputs, "--preload")
    return Fix(
        summary=f"load {names} once in the master with gunicorn's --preload: the workers share one copy "
        "(fork's copy-on-write; pages a worker writes to are copied again)",
        edits=(edit,) if edit else (),
    )


def _fork_unsafe_fix(names: str, libraries: str) -> Fix:
    return Fix(
        summary=f"do not preload {names}: {libraries} hang or break in a worker forked after the import. "
        f"Run one worker with threads (WEB_CONCURRENCY=1 and --threads {HEROKU_THREADS}), or load them in "
        "gunicorn's post_fork hook; import them lazily where they are used when only some requests do",
        command="heroku config:set WEB_CONCURRENCY=1",
    )


def _measured_saving(
    report: ProfileReport, hint: str, matches: Callable[[str], bool]
) -> tuple[int | None, str]:
    """What a `--try` run of the fix freed of the dyno's peak, and the evidence line saying so; None and
    "not measured" when no such run served."""
    variant = next((v for v in report.variants if matches(v.name)), None)
    if variant is None:
        return None, f"saving not measured: `slugprof profile --try {hint}` measures it"
    if not variant.served or variant.peak_total_bytes is None:
        return None, f"--try {variant.name}: {variant.detail or 'the run did not serve'}"
    saving = report.memory.peak_total_bytes - variant.peak_total_bytes
    verb = "frees" if saving >= 0 else "adds"
    return saving, (
        f"--try {variant.name} measured: peak {format_binary(variant.peak_total_bytes)} against "
        f"{format_binary(report.memory.peak_total_bytes)}, it {verb} {format_binary(abs(saving))}"
    )


def _is_preload(name: str) -> bool:
    return name == "preload"


def _sets_one_of(variables: Sequence[str]) -> Callable[[str], bool]:
    """Whether a variant sets one of `variables` (`env:OPENBLAS_NUM_THREADS=1`)."""
    return lambda name: name.startswith("env:") and name[4:].partition("=")[0] in variables


def _import_hit(inputs: RuleInputs, run: _Run, costs: list[ImportCost]) -> Hit:
    workers = run.workers
    each = sum(cost.bytes for cost in costs)
    names = ", ".join(cost.module for cost in costs)
    evidence = [
        f"{cost.module}: {format_binary(cost.bytes)} in each worker, {format_binary(cost.bytes * workers)} "
        f"over {workers} workers"
        for cost in costs
    ]
    unsafe = _fork_unsafe_loaded(run.report)
    if unsafe:
        evidence.append(f"the workers load {', '.join(unsafe)}, which is not fork-safe (heroku-facts 9.3)")
    saving, said = _measured_saving(run.report, "preload", _is_preload)
    evidence.append(said)
    return Hit(
        title=f"each of {workers} workers pays {format_binary(each)} to import {names}: "
        f"{format_binary(each * workers)} in all",
        evidence=tuple(evidence),
        evidence_class=Evidence.MEASURED,
        fix=_fork_unsafe_fix(names, ", ".join(unsafe)) if unsafe else _preload_fix(inputs, run, names),
        memory_savings_bytes=saving if not unsafe else None,
    )


@rule(
    "MEM510",
    "heavy-imports-per-worker",
    Severity.WARNING,
    summary="Imports that cost each worker a lot (16 MiB or more, held at its heap peak): the dyno pays "
    "them once per worker.",
    why="Workers that import the app after the fork each hold their own copy; with --preload the master "
    "imports once and the workers share its pages. Libraries that hang after fork (torch, xgboost, "
    "ctranslate2, tensorflow, grpc) must not be preloaded.",
    fix="gunicorn --preload for fork-safe modules; for the others one worker with threads, or loading them "
    "in post_fork.",
    source="heroku-facts 4.4 (256 MiB per process), 5 (Heroku's config preloads), 9.3 (fork-unsafe "
    "libraries, preload savings)",
    needs=Needs.PROFILE,
)
def heavy_imports_per_worker(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    if run.workers < 2 or run.celery is not None:
        return  # one worker holds one copy; Celery imports the app before it forks its pool
    heavy = [cost for cost in run.report.imports if cost.role == "worker" and cost.bytes >= HEAVY_BYTES]
    if heavy:
        yield _import_hit(inputs, run, heavy)


@rule(
    "MEM520",
    "data-loaded-at-import",
    Severity.WARNING,
    summary="A line at the module level of an app file holds a lot of memory (16 MiB or more) in each "
    "worker: data loaded at import.",
    why="Each worker loads and holds its own copy; a dyno counts them all.",
    fix="Load it once in the master under --preload, read it lazily when a request needs it, or filter it "
    "in the database instead of holding it all.",
    source="heroku-facts 4.2-4.3 (every process of the dyno counts), 4.4 (256 MiB per process)",
    needs=Needs.PROFILE,
)
def data_loaded_at_import(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    if run.celery is not None:
        return  # Celery imports the app before it forks its pool: the advice here is gunicorn's
    workers = max(run.workers, 1)
    held: dict[str, int] = {}
    for process in run.report.processes:
        if process.role != "worker":
            continue
        for site in process.top_sites:
            held[site.location] = max(held.get(site.location, 0), site.bytes)
    for location, size in held.items():
        match = _SITE.match(location)
        if match is None or match["function"] != "<module>" or size < HEAVY_BYTES:
            continue
        if not inputs.files.exists(match["path"]):
            continue  # a library's module, or a file the dyno does not get
        saving, said = _measured_saving(run.report, "preload", _is_preload)
        yield Hit(
            title=f"{match['path']}:{match['line']} holds {format_binary(size)} at import in each worker "
            f"({format_binary(size * workers)} over {workers} workers)",
            evidence=(f"memray: held at the worker's heap peak, allocated at {location}", said),
            evidence_class=Evidence.MEASURED,
            memory_savings_bytes=saving,
            location=Location(match["path"], int(match["line"])),
            fix=Fix(
                summary="load it once in the master under --preload (the workers share it), read it lazily "
                "when a request needs it, or filter it in the database"
            ),
        )


_STAR_IMPORT = re.compile(r"^[ \t]*from[ \t]+([A-Za-z_]\w*)(?:\.[\w.]+)?[ \t]+import[ \t]+\*", re.MULTILINE)


@rule(
    "MEM521",
    "star-import-of-heavy-module",
    Severity.INFO,
    summary="An app file does `from X import *` of a module that costs 16 MiB or more at import: every "
    "submodule its `__all__` names is imported too, in each process that imports the file.",
    why="A star import loads what the package exports, not what the app uses; the profile measured the "
    "module's cost, and each worker that imports the file pays it.",
    fix="Import the names the file uses (`from X import a, b`), or the module (`import X`).",
    source="heroku-facts 4.4 (256 MiB per process)",
    needs=Needs.PROFILE,
)
def star_import_of_heavy_module(inputs: RuleInputs) -> Iterator[Hit]:
    costs = {cost.module: cost for cost in inputs.profile.imports if cost.bytes >= HEAVY_BYTES}
    if not costs:
        return
    for path in sorted(inputs.files.visible):
        if not path.endswith(".py"):
            continue
        text = inputs.files.read_text(path) or ""
        if "import *" not in text:
            continue
        for match in _STAR_IMPORT.finditer(text):
            cost = costs.get(match.group(1))
            if cost is None:
                continue
            line = text.count("\n", 0, match.start()) + 1
            where = "each worker" if cost.role == "worker" else "the master"
            yield Hit(
                title=f"{path}:{line} star-imports {cost.module} ({format_binary(cost.bytes)} at import in "
                f"{where})",
                evidence=(f"`{match.group(0).strip()}`; the profile measured {cost.module}'s import",),
                evidence_class=Evidence.MEASURED,
                location=Location(path, line),
                fix=Fix(summary=f"import the names it uses from {cost.module}, or `import {cost.module}`"),
            )


# --- MEM53x-54x: growth and threads ---------------------------------------------------------------------


@rule(
    "MEM530",
    "worker-memory-grows",
    Severity.WARNING,
    summary="A worker's unique memory grew steadily during a run of 20 s or more (256 KiB/s or faster).",
    why="A worker that keeps growing reaches the quota and swaps (R14), then restarts the dyno (R15).",
    fix="Recycle workers: gunicorn --max-requests N --max-requests-jitter M; and find the leak (a longer "
    "--duration tells it from a warm-up).",
    source="heroku-facts 4.2 (R14, R15), 5 (gunicorn's --max-requests / --max-requests-jitter)",
    needs=Needs.PROFILE,
)
def worker_memory_grows(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.profile
    samples = report.memory.samples
    span = samples[-1].seconds - samples[0].seconds if samples else 0.0
    if span < GROWTH_HINT_SECONDS:
        return
    growing = sorted(
        (p for p in report.processes if (p.growth_bytes_per_second or 0.0) > GROWTH_HINT_BYTES_PER_SECOND),
        key=lambda p: -(p.growth_bytes_per_second or 0.0),
    )
    if not growing:
        return
    fastest = growing[0].growth_bytes_per_second or 0.0
    flags = f"--max-requests {MAX_REQUESTS} --max-requests-jitter {MAX_REQUESTS_JITTER}"
    edit = _procfile_edit(inputs, flags)
    yield Hit(
        title=f"{len(growing)} worker{'s' if len(growing) > 1 else ''} grew by up to "
        f"{format_binary(fastest)}/s over {span:.0f} s",
        evidence=(
            *(f"worker {p.pid}: {format_binary(p.growth_bytes_per_second or 0.0)}/s" for p in growing),
            "keep it up longer (--duration) to tell a leak from a warm-up",
        ),
        evidence_class=Evidence.MEASURED,
        fix=Fix(
            summary=f"recycle each worker after about {MAX_REQUESTS} requests with gunicorn's {flags}",
            edits=(edit,) if edit else (),
        ),
    )


@rule(
    "MEM531",
    "memory-grows-per-request",
    Severity.WARNING,
    summary="The dyno's memory kept growing with the requests (1 MiB or more per thousand, over the second "
    "half of a run of 1000 requests or more).",
    why="Memory that grows with traffic, after the first requests have warmed the caches, reaches the "
    "quota (R14, swapping) and then the restart threshold (R15): at 1 MiB a thousand, an app serving one "
    "request a second adds 84 MiB a day.",
    fix="Recycle workers: gunicorn --max-requests N --max-requests-jitter M; and find what each request "
    "keeps (a module-level list or cache that is never emptied).",
    source="heroku-facts 4.2 (R14, R15), 5 (gunicorn's --max-requests / --max-requests-jitter)",
    needs=Needs.PROFILE,
)
def memory_grows_per_request(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    report, fit = run.report, run.fit
    growth = report.memory.growth_per_thousand_requests_bytes
    if growth is None or growth < GROWTH_PER_THOUSAND_HINT_BYTES:
        return
    evidence = [
        f"measured against {report.requests.count if report.requests else 0} requests: the headline figure "
        f"({_peak_words(report)}) rose {format_binary(growth)} per thousand over the run's second half"
    ]
    if fit is not None and fit.quota_bytes > report.memory.peak_total_bytes:
        room = fit.quota_bytes - report.memory.peak_total_bytes
        evidence.append(
            f"{format_binary(room)} under {report.dyno}'s quota at the run's peak: R14 after about "
            f"{room / growth * 1000:,.0f} more requests at this rate"
        )
    flags = f"--max-requests {MAX_REQUESTS} --max-requests-jitter {MAX_REQUESTS_JITTER}"
    edit = _procfile_edit(inputs, flags)
    yield Hit(
        title=f"the dyno's memory grew {format_binary(growth)} per thousand requests",
        evidence=tuple(evidence),
        evidence_class=Evidence.MEASURED,
        fix=Fix(
            summary=f"recycle each worker after about {MAX_REQUESTS} requests with gunicorn's {flags}, and "
            "find what each request keeps",
            edits=(edit,) if edit else (),
        ),
    )


def _thread_excess(run: _Run, roles: set[str]) -> list[str]:
    """Processes of `roles` running more threads than the command asks for, as evidence lines.

    Any thread above it counts: a pool sized to the host adds one thread per core but one, which is a
    single thread on a 2-core machine and 7 on a dyno that reports nproc 8 (heroku-facts 4.1).
    """
    lines = []
    asked = {"master": 1, "worker": run.gunicorn.known_worker_threads if run.gunicorn else None}
    for process in run.report.processes:
        expected = asked.get(process.role)
        if process.role in roles and expected is not None and process.threads_max > expected:
            lines.append(
                f"{process.role} {process.pid}: {process.threads_max} threads, where the command asks "
                f"for {expected}"
            )
    return lines


def _blas_importers(report: ProfileReport) -> dict[str, set[str]]:
    """Role -> the BLAS-loading modules imported there (by name, or memory held in their files)."""
    found: dict[str, set[str]] = {}
    for cost in report.imports:
        if cost.module in BLAS_IMPORTS:
            found.setdefault(cost.role, set()).add(cost.module)
    for process in report.processes:
        for site in process.top_sites:
            top = site.location.split("/", 1)[0]
            if top in BLAS_IMPORTS:
                found.setdefault(process.role, set()).add(top)
    return found


def _blas_fix(unset: Sequence[str]) -> Fix:
    assignments = " ".join(f"{name}=1" for name in unset)
    return Fix(
        summary="size the pools to one thread per process as config vars (and in .env for heroku local)",
        command=f"heroku config:set {assignments}",
        edits=(append_edit(".env", "".join(f"{name}=1\n" for name in unset)),),
    )


@rule(
    "MEM540",
    "blas-threads-per-core",
    Severity.WARNING,
    summary="numpy, scipy or torch is imported, its processes run more threads than the command asks for, "
    "and OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS are not set.",
    why="BLAS and OpenMP size their thread pools to the host's cores, and Cedar's shared dynos report "
    "nproc 8: each worker then holds 8 threads and their buffers.",
    fix="Set OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1 and MKL_NUM_THREADS=1 as config vars.",
    source="heroku-facts 4.1 (nproc 8 on standard dynos), 9.3 (BLAS pools sized to the host)",
    needs=Needs.PROFILE,
)
def blas_threads_per_core(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    unset = [name for name in BLAS_VARIABLES if not run.set_for_the_process(name)]
    importers = _blas_importers(run.report)
    if not unset or not importers:
        return
    excess = _thread_excess(run, set(importers))
    if not excess:
        return
    modules = sorted({module for found in importers.values() for module in found})
    evidence = [
        f"imported: {', '.join(modules)}",
        *excess,
        f"not set in .env or the Procfile: {', '.join(unset)}",
    ]
    if run.size is not None:
        evidence.append(
            f"on {run.report.dyno} nproc is {run.size.cores} (heroku-facts 4.1): a pool sized to it runs "
            f"{run.size.cores} threads in each process"
        )
    saving, said = _measured_saving(run.report, f"env:{unset[0]}=1", _sets_one_of(BLAS_VARIABLES))
    evidence.append(said)
    yield Hit(
        title=f"{', '.join(modules)} run thread pools sized to the host's cores: "
        f"{len(excess)} process{'es' if len(excess) > 1 else ''} with more threads than asked",
        evidence=tuple(evidence),
        evidence_class=Evidence.MEASURED,
        fix=_blas_fix(unset),
        memory_savings_bytes=saving,
    )


@rule(
    "MEM541",
    "threads-without-malloc-arena-max",
    Severity.INFO,
    summary="Threaded workers (gthread, or --threads above 1) without MALLOC_ARENA_MAX.",
    why="glibc gives threads their own malloc arenas, and each arena keeps freed memory: a threaded "
    "worker's memory grows with its threads.",
    fix="MALLOC_ARENA_MAX=2 as a config var.",
    source="heroku-facts 9.3 (Heroku's Tuning glibc Memory Behavior: MALLOC_ARENA_MAX=2)",
    needs=Needs.PROFILE,
)
def threads_without_malloc_arena_max(inputs: RuleInputs) -> Iterator[Hit]:
    run = _run(inputs)
    if run.gunicorn is None or not run.gunicorn.threaded or run.set_for_the_process("MALLOC_ARENA_MAX"):
        return
    where = run.gunicorn.config_path or "the command"
    saving, said = _measured_saving(
        run.report, f"env:MALLOC_ARENA_MAX={MALLOC_ARENA_MAX}", _sets_one_of(("MALLOC_ARENA_MAX",))
    )
    yield Hit(
        title=f"{run.gunicorn.threads_per_worker} threads per worker without MALLOC_ARENA_MAX",
        memory_savings_bytes=saving,
        evidence=(
            f"threads = {run.gunicorn.threads_per_worker} ({where})",
            "MALLOC_ARENA_MAX is not set in .env or the Procfile",
            said,
        ),
        evidence_class=Evidence.FILES,
        fix=Fix(
            summary=f"cap glibc's malloc arenas at {MALLOC_ARENA_MAX} (and in .env for heroku local)",
            command=f"heroku config:set MALLOC_ARENA_MAX={MALLOC_ARENA_MAX}",
            edits=(append_edit(".env", f"MALLOC_ARENA_MAX={MALLOC_ARENA_MAX}\n"),),
        ),
    )


# --- MEM55x: boot and shutdown ---------------------------------------------------------------------------

_BOOT_FIX = Fix(
    summary="bind $PORT sooner: move slow work (downloads, migrations, warm-ups) out of import time, into "
    "the release phase or a lazy first use; Heroku's boot timeout tool raises the limit for an app that "
    "needs it"
)


@rule(
    "MEM550",
    "boot-over-r10",
    Severity.ERROR,
    summary="The web process took longer than 60 s to bind $PORT.",
    why="Heroku stops a web process that has not bound $PORT within 60 s of launch (R10 boot timeout) and "
    "counts the dyno as crashed.",
    fix="Bind sooner: move slow work out of import time; or raise the limit with Heroku's boot timeout tool.",
    source="heroku-facts 5 (R10)",
    needs=Needs.PROFILE,
)
def boot_over_r10(inputs: RuleInputs) -> Iterator[Hit]:
    boot = inputs.profile.boot_seconds
    if boot > R10_BOOT_TIMEOUT_SECONDS and inputs.profile.app.serves_http:
        yield Hit(
            title=f"the web process took {boot:.0f} s to bind $PORT: Heroku stops it at "
            f"{R10_BOOT_TIMEOUT_SECONDS:.0f} s (R10 boot timeout)",
            evidence=(f"boot {boot:.1f} s here (measured with --boot-timeout above 60 s)",),
            evidence_class=Evidence.MEASURED,
            fix=_BOOT_FIX,
        )


@rule(
    "MEM552",
    "boot-near-r10",
    Severity.WARNING,
    summary="The web process took more than half of R10's 60 s to bind $PORT here.",
    why="A dyno boots slower than a laptop: a standard-1x shares its host's CPU, and the slug is fetched "
    "and unpacked first; what takes 30 s here can pass 60 s there (R10).",
    fix="Bind sooner: move slow work out of import time.",
    source="heroku-facts 4.1 (shared compute), 5 (R10; slug download before the process starts)",
    needs=Needs.PROFILE,
)
def boot_near_r10(inputs: RuleInputs) -> Iterator[Hit]:
    boot = inputs.profile.boot_seconds
    near = R10_BOOT_TIMEOUT_SECONDS * NEAR_R10_FRACTION
    if near < boot <= R10_BOOT_TIMEOUT_SECONDS and inputs.profile.app.serves_http:
        yield Hit(
            title=f"the web process took {boot:.0f} s to bind $PORT, over {near:.0f} s: close to R10's "
            f"{R10_BOOT_TIMEOUT_SECONDS:.0f} s on a slower dyno",
            evidence=(f"boot {boot:.1f} s here; R10 at {R10_BOOT_TIMEOUT_SECONDS:.0f} s",),
            evidence_class=Evidence.MEASURED,
            fix=_BOOT_FIX,
        )


@rule(
    "MEM551",
    "shutdown-not-graceful",
    Severity.WARNING,
    summary="The app did not exit within 30 s of SIGTERM and was killed.",
    why="Heroku sends SIGTERM to every process of a stopping dyno and SIGKILL 30 s later: requests in "
    "flight are lost, on every deploy and daily restart.",
    fix="Exit on SIGTERM; with gunicorn, a graceful timeout under 30 s (Heroku's config uses 20).",
    source="heroku-facts 5 (SIGTERM, 30 s, then SIGKILL; graceful_timeout = 20)",
    needs=Needs.PROFILE,
)
def shutdown_not_graceful(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.profile
    if report.graceful_shutdown:
        return
    edit = _procfile_edit(inputs, f"--graceful-timeout {HEROKU_GRACEFUL_TIMEOUT}")
    yield Hit(
        title=f"the app did not exit within {report.shutdown_seconds:.0f} s of SIGTERM and was killed, as "
        f"Heroku does after {SHUTDOWN_TIMEOUT_SECONDS:.0f} s: requests in flight are lost",
        evidence=(f"killed after {report.shutdown_seconds:.1f} s",),
        evidence_class=Evidence.MEASURED,
        fix=Fix(
            summary=f"exit on SIGTERM; with gunicorn, finish requests within {HEROKU_GRACEFUL_TIMEOUT} s",
            edits=(edit,) if edit else (),
        ),
    )


@rule(
    "MEM560",
    "no-request-answered",
    Severity.WARNING,
    summary="No request of the run was answered 2xx or 3xx: the figures are those of an app that served "
    "nothing.",
    why="What a worker holds once it has served (caches, connection pools, templates compiled, lazy "
    "imports) is not in a run whose every request failed or hit a missing page, so the peak and the "
    "worker cost understate the dyno.",
    fix="Request pages the app serves: --url PATH (repeatable), or --urls FILE with METHOD PATH [JSON body] "
    "lines.",
    source="the run's own answers",
    needs=Needs.PROFILE,
)
def no_request_answered(inputs: RuleInputs) -> Iterator[Hit]:
    requests = inputs.profile.requests
    if requests is None or requests.count == 0:
        return
    if any(200 <= status < 400 for status in requests.status_codes):
        return
    codes = ", ".join(f"{status or 'no answer'}: {count}" for status, count in requests.status_codes.items())
    routes = ", ".join(requests.routes) or "the routes asked"
    missing = set(requests.status_codes) == {404}
    yield Hit(
        title=f"every one of the {requests.count} requests "
        + ("hit a page the app does not have (404)" if missing else "failed")
        + ": the figures show an app that served nothing",
        evidence=(f"answers: {codes}", f"requested: {routes}"),
        evidence_class=Evidence.MEASURED,
        fix=Fix(summary="request pages the app serves: --url PATH, or --urls FILE"),
    )
