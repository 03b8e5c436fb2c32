"""`profile` as a pipeline: a Procfile process (`web` by default) started as a dyno starts it, measured.

Only `web` receives HTTP traffic on Heroku (heroku-facts 5): another process type (a Celery worker, a
clock) is sent no requests and is ready when its process tree settles.

Memory figures come from a run under the process-tree sampler alone. With memray, a second run under
`memray run --follow-fork` gives each process's heap peak and the cost of each import: memray itself
loads modules and adds a thread in every process it tracks, which would inflate the dyno figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.version import InvalidVersion, Version

from slugprof import __version__
from slugprof.config import Settings
from slugprof.errors import UsageError
from slugprof.heroku import DEFAULT_DYNO, R10_BOOT_TIMEOUT_SECONDS, WEB_PROCESS
from slugprof.measure.collectstatic import collectstatic_step, run_collectstatic
from slugprof.measure.dynofit import WorkerCost, fit_dynos, worker_cost
from slugprof.measure.memray_availability import app_interpreter_questions, memray_status
from slugprof.measure.memray_captures import ProcessCapture, read_captures
from slugprof.measure.memray_command import wrap_command
from slugprof.measure.runner import RunResult, run_process
from slugprof.measure.sampler import growth_per_thousand_requests, summarize_processes, worker_growth
from slugprof.measure.slug_copy import SlugCopy, slug_copy
from slugprof.measure.traffic import free_port, missing_program
from slugprof.model import (
    DynoSize,
    ImportCost,
    MemoryMeasure,
    MemorySample,
    MemorySummary,
    MemrayMode,
    MemrayRun,
    ProcessProfile,
    ProfiledApp,
    ProfileReport,
    Route,
    ToolInfo,
    VariantRun,
    WorkersFrom,
)
from slugprof.processes import AppFailure
from slugprof.progress import NoProgress, Progress
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.approot import app_root, command_in_report, saved_path
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.config_vars import ConfigSource, ConfigVars, read_config_vars
from slugprof.sources.dyno import dyno_by_name, dyno_environment, dyno_sizes
from slugprof.sources.environment import InterpreterQuestions, PythonEnvironment, find_environment
from slugprof.sources.gunicorn_config import read_gunicorn_config
from slugprof.sources.procfile import read_procfile
from slugprof.sources.variants import Variant
from slugprof.sources.worker_count import worker_count


@dataclass(frozen=True)
class ProfileOptions:
    app_root: Path
    process_type: str = WEB_PROCESS
    dyno: str = DEFAULT_DYNO
    environment: str | None = None  # --env
    memray: bool = True
    requests: int = 20
    routes: tuple[Route, ...] | None = None  # None: the app's OpenAPI GET routes, else GET /
    routes_from: str = ""  # where the routes came from: "--url", "--urls FILE"
    concurrency: int | None = None  # clients at a time; None: enough to keep every worker busy
    duration: float = 0.0
    headroom: float = 0.10
    boot_timeout: float = R10_BOOT_TIMEOUT_SECONDS  # R10: Heroku gives up there; --boot-timeout to see past
    port: int | None = None
    settings: Settings = field(default_factory=Settings)
    ignore: tuple[str, ...] = ()  # --ignore: rule ids to silence, with the settings' own
    variants: tuple[Variant, ...] = ()  # --try: runs again with one change each, measured
    config: ConfigSource = field(default_factory=ConfigSource)  # where the config vars come from


def profile(
    options: ProfileOptions, environ: Mapping[str, str], progress: Progress | None = None
) -> ProfileReport:
    from slugprof.rules import check_ignored

    progress = progress or NoProgress()
    root = app_root(options.app_root)
    ignore = check_ignored((*options.settings.ignore, *options.ignore), "ignore")  # before the app starts
    prepared = _prepare(root, options, environ)
    inventory = collect_app_files(root, progress)
    with slug_copy(root, inventory, progress) as copy:
        report = _profiled(prepared, copy, options, environ, progress)
    return _with_findings(report, BuildFiles.of(root, inventory), options.settings, ignore)


@dataclass(frozen=True)
class _Prepared:
    """What the run needs that the app's files and environment say, found before it starts."""

    command: str
    dyno: DynoSize
    environment: PythonEnvironment | None
    config: ConfigVars
    notes: tuple[str, ...]


def _prepare(root: Path, options: ProfileOptions, environ: Mapping[str, str]) -> _Prepared:
    process_types = read_procfile(root)
    if options.process_type not in process_types:
        declared = ", ".join(sorted(process_types)) or "nothing"
        raise UsageError(
            f"the Procfile has no {options.process_type!r} process; it declares: {declared} "
            "(choose one with --process)"
        )
    # One start of the app's interpreter answers both the environment's questions and memray's.
    questions = app_interpreter_questions() if options.memray else InterpreterQuestions()
    environment = find_environment(root, options.environment, environ, questions)
    config = read_config_vars(root, options.config, environ)
    notes = list(config.notes)
    if environment is None:
        notes.append(
            "no virtualenv found for the app (.venv, venv, env, $VIRTUAL_ENV or --env): its command runs "
            "with the PATH slugprof was started with"
        )
    command = process_types[options.process_type].command
    dyno = dyno_by_name(options.dyno, options.settings.fir_memory_unit)
    return _Prepared(command, dyno, environment, config, tuple(notes))


def _profiled(
    prepared: _Prepared,
    copy: SlugCopy,
    options: ProfileOptions,
    environ: Mapping[str, str],
    progress: Progress,
) -> ProfileReport:
    """The web process run from the slug's copy (under the sampler, then under memray), measured."""
    command, dyno, environment = prepared.command, prepared.dyno, prepared.environment
    root, folder = copy.source, copy.folder
    notes = list(prepared.notes)
    env_bin = os.path.dirname(environment.interpreter) if environment else None

    def dyno_env(port: int) -> dict[str, str]:
        return dyno_environment(
            folder,
            dyno,
            port=port,
            dotenv=prepared.config.values,
            base_env=environ,
            env_bin=env_bin,
            process_type=options.process_type,
        )

    port = options.port or free_port()
    env = dyno_env(port)
    notes.extend(_build_steps(copy, environment, env, progress))
    progress.stage(f"Profiling the {options.process_type} process (sampler)")
    run = _run(command, copy, environment, env, port, options, progress)
    memray = MemrayRun(MemrayMode.OFF)
    capture_by_role: dict[str, ProcessCapture] = {}
    imports: tuple[ImportCost, ...] = ()
    if options.memray:
        memray, capture_by_role, imports, memray_notes = _memray_pass(
            command, copy, environment, options, progress, dyno_env
        )
        notes.extend(memray_notes)

    measured = _measured_run(run, environment, folder, capture_by_role)
    processes, measure, cost = measured.processes, measured.measure, measured.cost
    peak_total, peak_pss, peak_rss = measured.peak_total, measured.peak_pss, measured.peak_rss
    if measure == MemoryMeasure.PSS and run.samples:
        notes.append(
            "this system's /proc gives no anonymous-memory figure (Pss_Anon): the peak is summed PSS, which "
            "also counts the file-backed pages (the interpreter, libraries, mapped files) a dyno does not"
        )
    workers = [process for process in processes if process.role == "worker"]
    variants = tuple(
        _variant_run(variant, command, copy, environment, dyno_env, options, progress)
        for variant in options.variants
    )
    web_concurrency = env.get("WEB_CONCURRENCY")
    gunicorn = read_gunicorn_config(command, _app_text(root), environment=env)
    count = worker_count(command, len(workers), env, gunicorn)
    table = dyno_sizes(dyno.generation, options.settings.fir_memory_unit)  # the dyno's generation's sizes
    fits = fit_dynos(
        cost,
        table,
        headroom=options.headroom,
        fixed_workers=count.fixed if count else None,
        per_core=count is not None and count.source == WorkersFrom.CORES,
    )
    notes.extend(_request_notes(run))
    report = ProfileReport(
        tool=ToolInfo(version=__version__),
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        app=ProfiledApp(root=saved_path(root), process_type=options.process_type, command=command),
        dyno=dyno.name,
        web_concurrency=web_concurrency,
        generation=dyno.generation,
        memray=memray,
        # Rounded to the millisecond: finer digits are noise, and the saved report stays readable.
        boot_seconds=round(run.boot_seconds, 3),
        shutdown_seconds=round(run.shutdown_seconds, 3),
        graceful_shutdown=run.graceful,
        memory=MemorySummary(
            peak_total_bytes=peak_total,
            measure=measure,
            peak_total_pss_bytes=peak_pss,
            peak_total_rss_bytes=peak_rss,
            growth_per_thousand_requests_bytes=growth_per_thousand_requests(
                run.samples, run.answered_seconds
            ),
            base_bytes=cost.base_bytes,
            worker_marginal_bytes=cost.marginal_bytes,
            samples=tuple(
                dataclasses.replace(sample, seconds=round(sample.seconds, 3)) for sample in run.samples
            ),
        ),
        processes=tuple(processes),
        imports=tuple(imports),
        requests=run.requests,
        headroom=options.headroom,
        worker_model=cost.worker_model,
        workers_from=count.source if count else None,
        dyno_fit=tuple(fits),
        notes=tuple(notes),
        config_vars=prepared.config.applied,
        variants=variants,
    )
    return report


@dataclass(frozen=True)
class _Measured:
    """What one run's samples say of the dyno's memory."""

    processes: tuple[ProcessProfile, ...]
    measure: MemoryMeasure
    peak_total: int  # the headline
    peak_pss: int
    peak_rss: int
    cost: WorkerCost


def _measured_run(
    run: RunResult,
    environment: PythonEnvironment | None,
    folder: Path,
    captures: Mapping[str, ProcessCapture],
) -> _Measured:
    growth = worker_growth(run.samples, run.roles)
    processes = tuple(
        _with_capture(
            dataclasses.replace(
                process,
                command=command_in_report(process.command, folder),
                growth_bytes_per_second=growth.get(process.pid),
            ),
            captures.get(process.role),
        )
        for process in summarize_processes(
            run.samples, run.roles, run.commands, _control_socket_threads(run, environment)
        )
    )
    measure = _measure(run.samples)
    peak_pss = max((sample.total_pss_bytes for sample in run.samples), default=0)
    anonymous = measure == MemoryMeasure.ANONYMOUS
    peak_total = max((s.headline_bytes for s in run.samples), default=0) if anonymous else peak_pss
    peak_rss = max((sample.total_rss_bytes for sample in run.samples), default=0)
    workers = [process for process in processes if process.role == "worker"]
    cost = worker_cost(peak_total, [_worker_marginal(process) for process in workers])
    return _Measured(processes, measure, peak_total, peak_pss, peak_rss, cost)


def _variant_run(
    variant: Variant,
    command: str,
    copy: SlugCopy,
    environment: PythonEnvironment | None,
    dyno_env: Callable[[int], dict[str, str]],
    options: ProfileOptions,
    progress: Progress,
) -> VariantRun:
    """The app run again under the sampler with `variant` applied; a failure is its outcome, not an error."""
    port = free_port()
    env = variant.environment(dyno_env(port))
    progress.stage(f"Trying {variant.name}: the {options.process_type} process again")
    try:
        run = _run(command, copy, environment, env, port, options, progress)
    except AppFailure as failure:
        return VariantRun(variant.name, served=False, detail=f"the app failed with it: {failure}")
    measured = _measured_run(run, environment, copy.folder, {})
    answered = run.requests is None or any(200 <= code < 400 for code in run.requests.status_codes)
    return VariantRun(
        variant.name,
        served=answered,
        detail="" if answered else "no request was answered 2xx or 3xx: the app did not serve with it",
        peak_total_bytes=measured.peak_total,
        worker_marginal_bytes=measured.cost.marginal_bytes,
        base_bytes=measured.cost.base_bytes,
        workers=sum(1 for process in measured.processes if process.role == "worker"),
        boot_seconds=round(run.boot_seconds, 3),
    )


def _build_steps(
    copy: SlugCopy, environment: PythonEnvironment | None, env: Mapping[str, str], progress: Progress
) -> list[str]:
    """The build steps that change what runs, in the slug's copy: Django's collectstatic."""
    paths = [file.path for file in copy.inventory.included]
    step = collectstatic_step(paths, environment.site_packages if environment else None, env, copy.folder)
    if environment is None or not step.runs:
        django = any(path.rsplit("/", 1)[-1] == "manage.py" for path in paths)
        return [f"collectstatic did not run: {step.reason}"] if django else []
    progress.stage("Running collectstatic, as the build does")
    added = run_collectstatic(step, copy.folder, environment.interpreter, env)
    return [f"{step.reason}, in slugprof's copy of the slug: {added} files added"]


def _measure(samples: Sequence[MemorySample]) -> MemoryMeasure:
    """The anonymous total when every sample has it, else summed PSS (one figure for the whole run)."""
    if samples and all(sample.total_anon_bytes is not None for sample in samples):
        return MemoryMeasure.ANONYMOUS
    return MemoryMeasure.PSS


def _worker_marginal(process: ProcessProfile) -> int:
    """What one more such worker adds: the memory only it wrote, else (no such figure) its USS."""
    return process.peak_private_bytes if process.peak_private_bytes is not None else process.peak_uss_bytes


def _with_findings(
    report: ProfileReport, files: BuildFiles, settings: Settings, ignore: tuple[str, ...]
) -> ProfileReport:
    """The report with what the rules say about the run and the app's files: the verdicts and the advice
    come from rules, not from the pipeline."""
    from slugprof.rules import RuleInputs, run_rules

    inputs = RuleInputs(files=files, profile_report=report, settings=settings)
    findings, _, rules_run = run_rules(inputs, ignore)
    return dataclasses.replace(report, findings=findings, rules=rules_run)


def _run(
    command: str,
    copy: SlugCopy,
    environment: PythonEnvironment | None,
    env: Mapping[str, str],
    port: int,
    options: ProfileOptions,
    progress: Progress,
    scratch: tuple[Path, ...] = (),
) -> RunResult:
    """The process run from the slug's copy; a failure for want of a file the slug lacks names it.
    `scratch`: more temporary folders the run writes into (memray's captures), besides the copy's."""
    try:
        return run_process(
            command,
            cwd=copy.folder,
            env=env,
            port=port if options.process_type == WEB_PROCESS else None,
            boot_timeout=options.boot_timeout,
            requests=options.requests,
            routes=options.routes,
            routes_from=options.routes_from,
            concurrency=options.concurrency,
            duration=options.duration,
            progress=progress,
            scratch=(copy.scratch, *scratch),
        )
    except AppFailure as failure:
        said = _not_installed(failure, environment) or copy.absent_from_slug(
            f"{failure.output_tail}\n{failure}"
        )
        if said is None:
            raise
        raise AppFailure(
            f"{failure}; {said}", output_tail=failure.output_tail, app_exit_status=failure.app_exit_status
        ) from None


def _not_installed(failure: AppFailure, environment: PythonEnvironment | None) -> str | None:
    """For a program the shell could not find: which environment the command ran with, and what to
    install there."""
    program = missing_program(failure.output_tail) if failure.app_exit_status == 127 else None
    if program is None:
        return None
    if environment is None:
        return (
            f"no virtualenv was found for the app (.venv, venv, env, $VIRTUAL_ENV or --env), so {program} "
            "was looked for on slugprof's own PATH: create one with `python -m venv .venv && "
            ".venv/bin/python -m pip install -r requirements.txt`, or give --env"
        )
    return (
        f"the command ran with the app's environment ({environment.how_found}: {environment.interpreter}), "
        f"which has no {program}: install it there with "
        f"`{environment.interpreter} -m pip install {program}`, and list it in the app's requirements "
        "(the dyno installs only those)"
    )


def _memray_pass(
    command: str,
    copy: SlugCopy,
    environment: PythonEnvironment | None,
    options: ProfileOptions,
    progress: Progress,
    dyno_env: Callable[[int], dict[str, str]],
) -> tuple[MemrayRun, dict[str, ProcessCapture], tuple[ImportCost, ...], list[str]]:
    """A second run under memray: the capture with the largest heap of each role, import costs, notes.

    Never fails the profile for memray's sake: when memray cannot run, the sampler's figures stand
    alone.
    """
    port = free_port()
    env = dyno_env(port)
    interpreter = (
        environment.interpreter
        if environment
        else shutil.which("python3", path=env.get("PATH")) or shutil.which("python", path=env.get("PATH"))
    )
    if interpreter is None:
        return MemrayRun(MemrayMode.UNAVAILABLE, "no Python interpreter on PATH"), {}, (), []
    availability = memray_status(interpreter, environment)
    if availability.status == "unavailable":
        return MemrayRun(MemrayMode.UNAVAILABLE, availability.reason), {}, (), [availability.reason]
    with tempfile.TemporaryDirectory(prefix="slugprof-memray-") as scratch:
        captures = Path(scratch) / "captures"
        captures.mkdir()
        wrapped = wrap_command(
            command, interpreter=interpreter, output_dir=captures, availability=availability, environment=env
        )
        if not wrapped.wrapped:
            return MemrayRun(MemrayMode.UNAVAILABLE, wrapped.note), {}, (), [wrapped.note]
        env.update(wrapped.env)
        progress.stage(f"Profiling the {options.process_type} process again, under memray")
        run = _run(wrapped.command, copy, environment, env, port, options, progress, (Path(scratch),))
        summary = read_captures(captures, roles=run.roles, app_dir=copy.folder)
    capture_by_role: dict[str, ProcessCapture] = {}
    for capture in summary.processes:
        known = capture_by_role.get(capture.role)
        if known is None or capture.heap_peak_bytes > known.heap_peak_bytes:
            capture_by_role[capture.role] = capture
    notes = list(summary.notes)
    if wrapped.note:
        notes.append(wrapped.note)
    return MemrayRun(MemrayMode(availability.status)), capture_by_role, summary.imports, notes


def _with_capture(process: ProcessProfile, capture: ProcessCapture | None) -> ProcessProfile:
    """A process of the sampler's run, with the heap figures of the memray run's process in its role
    (pids differ between the two runs; for workers, the one with the largest heap)."""
    if capture is None:
        return process
    return dataclasses.replace(process, heap_peak_bytes=capture.heap_peak_bytes, top_sites=capture.top_sites)


def _control_socket_threads(run: RunResult, environment: PythonEnvironment | None) -> dict[int, int]:
    """gunicorn 25.1+ runs a control-socket thread in its master that a dyno's count should not show."""
    version = _gunicorn_version(environment)
    if version is None or version < Version("25.1"):
        return {}
    return {
        pid: 1
        for pid, role in run.roles.items()
        if role == "master" and "--no-control-socket" not in run.commands.get(pid, "")
    }


def _gunicorn_version(environment: PythonEnvironment | None) -> Version | None:
    try:
        if environment is not None:
            found = next(
                iter(metadata.distributions(name="gunicorn", path=list(environment.site_packages))), None
            )
            text = found.version if found else None
        else:
            text = metadata.version("gunicorn")
        return Version(text) if text else None
    except (metadata.PackageNotFoundError, InvalidVersion):
        return None


def _app_text(root: Path) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        try:
            return (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    return read


def _request_notes(run: RunResult) -> list[str]:
    """Facts about the run that are not advice: the requests that failed."""
    if run.requests is None:
        return []
    failed = sum(count for status, count in run.requests.status_codes.items() if not 200 <= status < 400)
    return [f"{failed} of {run.requests.count} requests did not answer 2xx/3xx"] if failed else []
