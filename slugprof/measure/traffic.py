"""Readiness and traffic: wait for the app's port, send it GET requests, explain why it died."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from slugprof.model import Latency, RequestStats, Route, RouteLatency
from slugprof.processes import AppFailure, ManagedProcess
from slugprof.progress import NoProgress, Progress

LOOPBACK = "127.0.0.1"
_POLL_SECONDS = 0.02

# What Heroku's router adds to every request reaching a dyno (the client's side of TLS included).
_ROUTER_HEADERS = {
    "Connection": "close",
    "User-Agent": "slugprof",
    "X-Forwarded-For": LOOPBACK,
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Port": "443",
}


def free_port() -> int:
    """A TCP port nothing listens on now (the OS's choice), for the app's $PORT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((LOOPBACK, port)) == 0


def wait_until_listening(port: int, process: ManagedProcess, timeout: float) -> float:
    """Seconds from the process's start until `port` accepts a connection on the loopback.

    Raises AppFailure as soon as the process exits (with the app's own error), or when `timeout`
    seconds since its start pass first: Heroku's R10 boot timeout is 60 s.
    """
    deadline = process.started_at + timeout
    while True:
        if process.poll() is not None:
            raise app_failure(process, f"before listening on port {port}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return time.monotonic() - process.started_at
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise app_timed_out(
                process,
                f"the app did not listen on port {port} within {timeout:g} s of its start "
                "(Heroku stops a web dyno that has not bound $PORT after 60 s: R10)",
            )
        time.sleep(_POLL_SECONDS)


def wait_until_serving(port: int, path: str, process: ManagedProcess, timeout: float) -> float:
    """Seconds from the process's start until a GET of `path` gets an HTTP response (any status).

    A server that binds its port before its workers import the app (gunicorn without --preload)
    accepts connections even when the app cannot load: this is where that shows.
    """
    deadline = process.started_at + timeout
    while True:
        if process.poll() is not None:
            raise app_failure(process, "before answering a request")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise app_timed_out(
                process,
                f"the app listened on port {port} but did not answer GET {path} "
                f"within {timeout:g} s of its start",
            )
        # One attempt may wait for all the time left: a slow first answer is not worth re-asking
        # (each new attempt would queue one more request), and a server that dies resets it.
        status, _ = _send(port, Route("GET", path), remaining)
        if status:
            return time.monotonic() - process.started_at
        time.sleep(_POLL_SECONDS)


def drive_requests(
    port: int,
    routes: Sequence[Route],
    count: int,
    concurrency: int = 4,
    timeout: float = 10.0,
    *,
    progress: Progress | None = None,
    answered_at: list[float] | None = None,
) -> RequestStats:
    """`count` requests to the loopback, `concurrency` at a time, cycling through `routes`.

    Each request has its own connection, so requests spread over the server's workers as new
    connections do on a dyno. Status 0 counts connection errors and timeouts. `answered_at` gets the
    time.monotonic() of each answer, in order: what the memory's growth per request is read against.
    """
    progress = progress or NoProgress()
    if count <= 0 or not routes:
        return RequestStats(count=0, status_codes={}, latency_seconds=Latency(p50=0.0, p95=0.0, max=0.0))
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    by_route: dict[int, list[tuple[int, float]]] = {}
    executor = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="slugprof-request")
    try:
        futures = {
            executor.submit(_send, port, routes[index % len(routes)], timeout): index % len(routes)
            for index in range(count)
        }
        for future in as_completed(futures):
            status, latency = future.result()
            if answered_at is not None:
                answered_at.append(time.monotonic())
            statuses[status] += 1
            latencies.append(latency)
            by_route.setdefault(futures[future], []).append((status, latency))
            progress.advance()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    latencies.sort()
    return RequestStats(
        concurrency=max(1, concurrency),
        per_route=tuple(_route_latency(routes[index], by_route[index]) for index in sorted(by_route)),
        count=count,
        status_codes=dict(sorted(statuses.items())),
        # Rounded to 0.1 ms: finer digits are noise, and the saved report stays readable.
        latency_seconds=Latency(
            p50=round(_percentile(latencies, 0.50), 4),
            p95=round(_percentile(latencies, 0.95), 4),
            max=round(latencies[-1], 4),
        ),
    )


def _route_latency(route: Route, answers: Sequence[tuple[int, float]]) -> RouteLatency:
    seconds = sorted(latency for _, latency in answers)
    return RouteLatency(
        route=route.shown(),
        count=len(answers),
        answered=sum(1 for status, _ in answers if 200 <= status < 400),
        p50=round(_percentile(seconds, 0.50), 4),
        p95=round(_percentile(seconds, 0.95), 4),
    )


def _send(port: int, route: Route, timeout: float) -> tuple[int, float]:
    status, _, seconds = _exchange(port, route, timeout)
    return status, seconds


def _exchange(port: int, route: Route, timeout: float) -> tuple[int, bytes, float]:
    """One request on its own connection: its status (0 for a connection error), body and seconds."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    headers = {**_ROUTER_HEADERS, "X-Request-Id": str(uuid.uuid4())}
    body = route.body.encode("utf-8") if route.body is not None else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(route.method, route.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        status, data = 0, b""
    finally:
        connection.close()
    return status, data, time.perf_counter() - began


# FastAPI publishes its OpenAPI document here by default (FastAPI `openapi_url="/openapi.json"`).
OPENAPI_PATH = "/openapi.json"
MAX_OPENAPI_ROUTES = 10  # enough to spread requests over an app's pages; the rest add little


def openapi_routes(port: int, timeout: float = 10.0) -> tuple[Route, ...]:
    """The GET routes without parameters that the app's OpenAPI document lists, in its order; none
    when it publishes no document there."""
    status, data, _ = _exchange(port, Route("GET", OPENAPI_PATH), timeout)
    if status != 200:
        return ()
    try:
        document = json.loads(data)
    except ValueError:
        return ()
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return ()
    routes = [Route("GET", path) for path, item in paths.items() if _plain_get(path, item)]
    return tuple(routes[:MAX_OPENAPI_ROUTES])


def _plain_get(path: object, item: object) -> bool:
    """A GET operation whose path has no template and that requires no parameter."""
    if not isinstance(path, str) or "{" in path or not path.startswith("/") or not isinstance(item, dict):
        return False
    operation = item.get("get")
    if not isinstance(operation, dict):
        return False
    parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
    required = [p for p in parameters if isinstance(p, dict) and p.get("required")]
    return not required and "requestBody" not in operation


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


# --- why the app died: its own error, picked out of the server's output ------------------------


def app_failure(process: ManagedProcess, when: str) -> AppFailure:
    """The AppFailure for a process that exited on its own `when` ("before listening on port 5000")."""
    status = process.poll()
    tail = process.output_tail()
    not_found = _command_not_found(tail) if status == 127 else None
    if not_found is not None:
        message = f"the web command could not start: {not_found} (is it installed in the app's environment?)"
    elif status == 126:
        message = f"the web command could not start (not executable): {_last_line(tail)}"
    else:
        error = app_error(tail, process.cwd) or "it printed nothing"
        if status is not None and status < 0:
            message = f"the app was killed by {_signal_name(-status)} {when}: {error}"
        elif status is not None and 128 < status < 128 + 65:  # the shell's way to say so
            message = f"the app was killed by {_signal_name(status - 128)} (status {status}) {when}: {error}"
        else:
            message = f"the app exited with status {status} {when}: {error}"
    return AppFailure(message, output_tail=tail, app_exit_status=status)


def app_timed_out(process: ManagedProcess, message: str) -> AppFailure:
    tail = process.output_tail()
    error = app_exception(tail, process.cwd)  # a traceback only: a log line would mislead here
    if error:
        message += f"; its last exception: {error}"
    return AppFailure(message, output_tail=tail)


_SHELL_NOT_FOUND = re.compile(r"^(?:\S*sh:\s*(?:line\s*)?\d*:?\s*)?(?P<name>.+?): (?:command )?not found$")
_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)')
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
_GUNICORN_LOG = re.compile(r"^\[[^\]]+\] \[\d+\] \[(?P<level>[A-Z]+)\] (?P<message>.*)$")
_LEVEL_LOG = re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<message>.*)$")
_HALT_REASON = re.compile(r"<HaltServer '(?P<reason>[^']+)' \d+>")
# The server's own words around an app's failure, which never say what the app did.
_GENERIC_ERRORS = re.compile(
    r"^(Exception in worker process|Worker \(pid:\d+\) (exited with code|was sent)|Shutting down: Master"
    r"|Reason: |Worker exiting|Unhandled exception in main loop)"
)
_STDLIB_FILE = re.compile(r"^<frozen |[/\\]lib[/\\]python3\.\d+[/\\](?!(site|dist)-packages[/\\])[^/\\]+")
_SERVER_FILE = re.compile(r"[/\\](gunicorn|uvicorn|uvicorn_worker|waitress|hypercorn|daphne)[/\\]")
_INTERNAL_EXCEPTIONS = frozenset({"SystemExit", "KeyboardInterrupt", "HaltServer"})


@dataclass(frozen=True)
class _Traceback:
    frames: tuple[tuple[str, int], ...]  # (file, line), outermost first
    exception: str  # "ModuleNotFoundError: No module named 'nope'"

    @property
    def exception_type(self) -> str:
        return self.exception.split(":", 1)[0].strip()


def app_error(output: str, cwd: str | None = None) -> str | None:
    """The app's own error in a server's output, as one line: the exception and where it was raised.

    gunicorn prints the app's traceback, then its own HaltServer traceback: the app's is reported.
    Without a traceback: the last ERROR log line that is not the server's boilerplate (uvicorn's
    "Error loading ASGI app"), else the last line that is neither a log line nor part of a
    traceback (gunicorn's "Failed to find attribute"), after gunicorn's halt reason when it gave one.
    """
    exception = app_exception(output, cwd)
    if exception is not None:
        return exception
    lines = output.splitlines()
    _, traceback_lines = _tracebacks(lines)
    halt_reason = None
    match = _HALT_REASON.search(output)
    if match:
        halt_reason = match.group("reason").rstrip(".")
    error_logs: list[str] = []
    plain: list[str] = []
    for number, line in enumerate(lines):
        if number in traceback_lines or not line.strip():
            continue
        log = _GUNICORN_LOG.match(line) or _LEVEL_LOG.match(line)
        if log is None:
            plain.append(line.strip())
        elif log.group("level") in {"ERROR", "CRITICAL"} and not _GENERIC_ERRORS.match(log.group("message")):
            error_logs.append(log.group("message").strip())
    detail = (error_logs or plain or [""])[-1]
    if detail and halt_reason:
        return _clip(f"{halt_reason}: {detail}")
    if detail:
        return _clip(detail)
    if halt_reason:
        return halt_reason
    return _clip(_last_line(output)) or None


def app_exception(output: str, cwd: str | None = None) -> str | None:
    """The first exception in `output` that is not the server's own, with where it was raised."""
    chains, _ = _tracebacks(output.splitlines())
    for chain in chains:
        for traceback in reversed(chain):
            if not _is_internal(traceback.exception_type):
                return _describe(traceback, cwd)
    return None


def _tracebacks(lines: Sequence[str]) -> tuple[list[list[_Traceback]], set[int]]:
    """The tracebacks in `lines`, those chained by "During handling..." or "The above exception..."
    together, outermost first; and the numbers of the lines they take."""
    chains: list[list[_Traceback]] = []
    used: set[int] = set()
    chain: list[_Traceback] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != _TRACEBACK:
            index += 1
            continue
        used.add(index)
        traceback, index = _read_traceback(lines, index + 1, used)
        if traceback is not None:
            chain.append(traceback)
        chained = _chain_line(lines, index)
        if chained is not None:
            used.add(chained)
            index = chained + 1
            continue
        if chain:
            chains.append(chain)
        chain = []
    if chain:
        chains.append(chain)
    return chains, used


def _read_traceback(lines: Sequence[str], index: int, used: set[int]) -> tuple[_Traceback | None, int]:
    """The traceback whose frames start at `index` (None when it ends without an exception line), and
    the index after its last line; the lines it takes are added to `used`."""
    frames: list[tuple[str, int]] = []
    while index < len(lines):
        line = lines[index]
        frame = _FRAME.match(line)
        if frame:
            frames.append((frame.group("file"), int(frame.group("line"))))
            used.add(index)
        elif line[:1].isspace():
            used.add(index)  # source line, carets
        elif line.strip() and _EXCEPTION.match(line):
            used.add(index)
            return _Traceback(tuple(frames), line.strip()), index + 1
        elif not line.strip():
            break  # a traceback has no blank line: it ended without an exception line
        # else: a line another process wrote in the middle of this traceback
        index += 1
    return None, index + 1


def _chain_line(lines: Sequence[str], index: int) -> int | None:
    """The index of the line chaining the next traceback to the one before `index`, past blank lines."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index < len(lines) and lines[index].strip() in _CHAINED:
        return index
    return None


def _is_internal(exception_type: str) -> bool:
    return exception_type.startswith("gunicorn.") or exception_type.rsplit(".", 1)[-1] in _INTERNAL_EXCEPTIONS


def _describe(traceback: _Traceback, cwd: str | None) -> str:
    # Frames of the import machinery and the rest of the standard library say nothing about the app.
    real_frames = [frame for frame in traceback.frames if not _STDLIB_FILE.search(frame[0])]
    exception = _clip(traceback.exception)
    if not real_frames:
        return exception
    raised = real_frames[-1]
    app_frames = [frame for frame in real_frames if _in_app(frame[0], cwd)]
    if not app_frames and _SERVER_FILE.search(raised[0]):
        return exception  # the server's own code loading the app: the message says it all
    where = _where(raised, cwd)
    if app_frames and app_frames[-1] != raised:
        where += f", called from {_where(app_frames[-1], cwd)}"
    return f"{exception} ({where})"


def _in_app(file: str, cwd: str | None) -> bool:
    if cwd is None or not os.path.isabs(file):
        return not os.path.isabs(file)
    relative = os.path.relpath(file, cwd)
    parts = relative.split(os.sep)
    return parts[0] != ".." and "site-packages" not in parts and "dist-packages" not in parts


def _where(frame: tuple[str, int], cwd: str | None) -> str:
    file, line = frame
    if cwd is not None and os.path.isabs(file) and _in_app(file, cwd):
        file = os.path.relpath(file, cwd)
    return f"{file}, line {line}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def missing_program(output: str) -> str | None:
    """The program the shell said it could not find (`gunicorn` of `sh: 1: gunicorn: not found`)."""
    for line in reversed(output.splitlines()):
        match = _SHELL_NOT_FOUND.match(line.strip())
        if match:
            return match.group("name").rsplit("/", 1)[-1]
    return None


def _command_not_found(output: str) -> str | None:
    for line in reversed(output.splitlines()):
        if _SHELL_NOT_FOUND.match(line.strip()):
            return line.strip()
    return None


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
