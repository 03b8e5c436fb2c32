"""One run of a Procfile process as a dyno runs it: start, sample, serve, stop, leave nothing.

A web process is ready when $PORT answers and its tree has settled; a process without a port (a
Celery worker, a clock) when its tree has settled: no process came or went and its memory held still.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from slugprof.errors import ToolFailure
from slugprof.heroku import R10_BOOT_TIMEOUT_SECONDS, SHUTDOWN_TIMEOUT_SECONDS
from slugprof.measure.sampler import TreeSampler, classify_roles
from slugprof.measure.traffic import (
    OPENAPI_PATH,
    app_failure,
    app_timed_out,
    drive_requests,
    openapi_routes,
    port_in_use,
    wait_until_listening,
    wait_until_serving,
)
from slugprof.model import MemorySample, ProcessRole, RequestStats, Route
from slugprof.processes import ManagedProcess
from slugprof.progress import NoProgress, Progress

SHELL = "/bin/sh"  # the dyno runs the Procfile command with `sh -c`
_POLL_SECONDS = 0.05
# The first answer comes from the first worker up; the others may still be importing the app.
# The tree is settled when its processes and its total PSS have not changed for a while.
_SETTLED_SECONDS = 0.5
_SETTLED_TOLERANCE = 0.02
_SETTLE_LIMIT_SECONDS = 10.0
# A process without a port says nothing when it is ready: its tree must hold still longer (a Celery
# worker forks its pool, then connects to its broker) before it is taken as booted.
_PORTLESS_SETTLED_SECONDS = 2.0


@dataclass(frozen=True)
class RunResult:
    # From the process's start until $PORT accepted a connection (R10 at 60 s); for a process without a
    # port, until its tree settled.
    boot_seconds: float
    shutdown_seconds: float  # from SIGTERM until the last process exited (or SIGKILL)
    graceful: bool  # every process exited within the shutdown timeout, without SIGKILL
    exit_code: int | None  # of the shell running the command (negative: killed by that signal)
    samples: tuple[MemorySample, ...]
    roles: dict[int, ProcessRole]
    commands: dict[int, str]
    requests: RequestStats | None
    output_tail: str
    pids: tuple[int, ...]  # every process seen in the tree
    # When each request was answered, in the samples' seconds and in order: growth per request is read
    # against it. Empty: none sent.
    answered_seconds: tuple[float, ...] = ()


def run_process(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    port: int | None,
    boot_timeout: float = R10_BOOT_TIMEOUT_SECONDS,
    requests: int = 0,
    routes: Sequence[Route] | None = None,
    routes_from: str = "",
    concurrency: int | None = None,
    duration: float = 0.0,
    sample_interval: float = 0.1,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT_SECONDS,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
    scratch: Sequence[Path] = (),
) -> RunResult:
    """Run `command` through `sh -c` in `cwd` with `env`, sample its tree, send it requests, keep it
    up `duration` seconds, then stop it as Heroku does: SIGTERM to every process, up to
    `shutdown_timeout` seconds, then SIGKILL. `port` None: a process that serves no HTTP (not `web`),
    ready when its tree settles, sent no requests.

    An app that exits before it is stopped raises AppFailure (a ToolFailure) with its own error.
    Whatever happens, every process of the run is gone when this returns or raises.

    `routes` are the requests sent, in turn; None: the GET routes without parameters of the app's
    OpenAPI document when it publishes one, else `GET /`. `routes_from` says where given routes came from.
    `scratch`: the caller's temporary folders (`slugprof-...`) the run writes into, removed with the
    run's own if slugprof is killed while the app runs.
    """
    if port is not None and port_in_use(port):
        raise ToolFailure(f"port {port} is already in use on this machine; choose another")

    progress.stage(f"Starting the process: {command}")
    # The run's own runtime folder: what a program puts in $XDG_RUNTIME_DIR (gunicorn 25.1+: its
    # control socket, unlinking one already there) stays out of the user's, and is removed after.
    with (
        tempfile.TemporaryDirectory(prefix="slugprof-runtime-", ignore_cleanup_errors=True) as runtime,
        ManagedProcess(
            [SHELL, "-c", command],
            cwd=cwd,
            env={**env, "XDG_RUNTIME_DIR": runtime},
            scratch=(runtime, *scratch),
        ) as process,
    ):
        sampler = TreeSampler(process.pid, sample_interval, started_at=process.started_at)
        sampler.start()
        roles: dict[int, ProcessRole] = {}
        try:
            if port is None:
                progress.stage("Waiting for the process tree to settle (it has no port to answer)")
                boot_seconds = _wait_until_settled(
                    sampler, process, window=_PORTLESS_SETTLED_SECONDS, limit=boot_timeout
                )
            else:
                boot_seconds = _wait_until_booted(sampler, process, port, routes, boot_timeout, progress)
            process.remember_descendants()
            roles.update(classify_roles(process.pid))

            stats, answered_at = None, list[float]()
            if requests > 0 and port is not None:
                sent, said = (tuple(routes), routes_from) if routes else _default_routes(port)
                progress.stage(f"Sending {requests} requests", total=requests)
                clients = concurrency or _enough_clients(roles)
                stats = drive_requests(
                    port, sent, requests, clients, progress=progress, answered_at=answered_at
                )
                stats = dataclasses.replace(stats, routes=tuple(r.shown() for r in sent), routes_from=said)
                _check_running(process)
            if duration > 0:
                progress.stage(f"Keeping the app up for {duration:g} s")
                _stay_up(process, duration)

            _check_running(process)
            sampler.sample_once()  # the state the app is stopped in, however short the run
            # Samples cover the running app only: while Python tears a worker down it touches
            # objects, copying shared pages, so the total rises during a shutdown it says nothing of.
            samples = sampler.stop()
            process.remember_descendants()
            roles.update({pid: role for pid, role in classify_roles(process.pid).items() if pid not in roles})
            progress.stage("Stopping the app: SIGTERM, as Heroku does")
            outcome = process.terminate_group(shutdown_timeout)
        finally:
            sampler.stop()
        for pid, role in sampler.roles().items():
            roles.setdefault(pid, role)
        output_tail = process.output_tail()

    return RunResult(
        boot_seconds=boot_seconds,
        shutdown_seconds=outcome.seconds,
        graceful=outcome.graceful,
        exit_code=outcome.exit_code,
        samples=tuple(samples),
        roles=roles,
        commands=sampler.commands,
        requests=stats,
        output_tail=output_tail,
        pids=sampler.pids,
        answered_seconds=tuple(moment - process.started_at for moment in answered_at),
    )


def _wait_until_booted(
    sampler: TreeSampler,
    process: ManagedProcess,
    port: int,
    routes: Sequence[Route] | None,
    boot_timeout: float,
    progress: Progress,
) -> float:
    """Wait until the web process listens, answers, and its workers have booted; the seconds it took
    to listen (what R10 judges)."""
    boot_seconds = wait_until_listening(port, process, boot_timeout)
    progress.stage(f"Listening on port {port} after {boot_seconds:.1f} s; waiting for an answer")
    wait_until_serving(port, routes[0].path if routes else "/", process, boot_timeout)
    progress.stage("Waiting for every worker to finish booting")
    _wait_until_settled(sampler, process)
    return boot_seconds


# Clients at a time by default: two per worker keeps each busy while the other's answer travels back, and
# at least 4, the count this runner always used, for a server of one process.
MIN_CLIENTS = 4


def _enough_clients(roles: Mapping[int, ProcessRole]) -> int:
    """Enough concurrent clients to keep every worker busy."""
    workers = sum(1 for role in roles.values() if role == "worker")
    return max(MIN_CLIENTS, 2 * workers)


def _default_routes(port: int) -> tuple[tuple[Route, ...], str]:
    """What to request when the user named nothing: the app's own GET routes, else its root."""
    found = openapi_routes(port)
    if found:
        return found, f"the app's OpenAPI document ({OPENAPI_PATH})"
    return (Route("GET", "/"),), "the default, GET /"


def _check_running(process: ManagedProcess, when: str = "before slugprof stopped it") -> None:
    if process.poll() is not None:
        raise app_failure(process, when)


def _stay_up(process: ManagedProcess, duration: float) -> None:
    deadline = time.monotonic() + duration
    while (remaining := deadline - time.monotonic()) > 0:
        _check_running(process)
        time.sleep(min(_POLL_SECONDS, remaining))


def _wait_until_settled(
    sampler: TreeSampler,
    process: ManagedProcess,
    *,
    window: float = _SETTLED_SECONDS,
    limit: float | None = None,
) -> float:
    """Wait until no process came or went and the total PSS stayed within 2% for `window` seconds (at
    least three samples): every worker has booted. Returns the seconds from the process's start to the
    settled window's first sample.

    `limit` None: a web process that already answers, given at most _SETTLE_LIMIT_SECONDS and taken as
    ready after it. Else the boot timeout of a process without a port: past it, it never settled.
    """
    window = max(window, 3 * sampler.interval)
    began = time.monotonic()
    while time.monotonic() - began < (limit if limit is not None else _SETTLE_LIMIT_SECONDS):
        _check_running(process, "before its process tree settled")
        recent = sampler.recent(window)
        if time.monotonic() - began >= window and _settled(recent, window):
            return recent[0].seconds
        time.sleep(min(_POLL_SECONDS, sampler.interval))
    if limit is None:
        return sampler.seconds_now()
    raise app_timed_out(
        process,
        f"the process tree did not settle within {limit:g} s of its start (processes kept coming and "
        "going, or its memory kept changing by more than 2%); give it longer with --boot-timeout",
    )


def _settled(samples: Sequence[MemorySample], window: float) -> bool:
    if len(samples) < 3 or samples[-1].seconds - samples[0].seconds < window * 0.9:
        return False
    pid_sets = {frozenset(snapshot.pid for snapshot in sample.processes) for sample in samples}
    totals = [sample.total_pss_bytes for sample in samples]
    return len(pid_sets) == 1 and max(totals) - min(totals) <= _SETTLED_TOLERANCE * max(totals)
