"""The one place that starts processes."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from slugprof.errors import ToolFailure


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_command(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    guarded: bool = False,
) -> CommandResult:
    """Run a short command to completion and capture its output.

    Raises ToolFailure when the program does not exist or does not finish in `timeout` seconds.
    A non-zero exit status is returned, not raised: callers decide what it means. The command runs in
    its own process group, so a timeout or a Ctrl-C ends what it started too (a resolver's build
    backend, an interpreter's children), not only the program itself. `guarded`: a watchdog kills that
    group if slugprof itself is killed meanwhile (for the app's own code, such as its collectstatic; it
    costs an interpreter's start, so the quick commands go without).
    """
    watchdog = _Watchdog.start() if guarded else None
    try:
        return _run_to_completion(argv, cwd, env, timeout, watchdog)
    finally:
        if watchdog is not None:
            watchdog.done()


def _run_to_completion(
    argv: Sequence[str],
    cwd: str | None,
    env: Mapping[str, str] | None,
    timeout: float,
    watchdog: _Watchdog | None,
) -> CommandResult:
    try:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=os.name == "posix",
        )
    except FileNotFoundError as error:
        raise ToolFailure(f"cannot run {argv[0]!r}: program not found") from error
    except PermissionError as error:
        raise ToolFailure(f"cannot run {argv[0]!r}: permission denied") from error
    if watchdog is not None:
        watchdog.tell("group", popen.pid)  # start_new_session: the command leads its own group
    try:
        stdout, stderr = popen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as error:
        _end_command(popen)
        raise ToolFailure(f"{argv[0]!r} did not finish within {timeout:.0f} s") from error
    except BaseException:
        _end_command(popen)
        raise
    return CommandResult(popen.returncode, stdout, stderr)


def _end_command(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command's whole process group and reap the command."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(popen.pid, signal.SIGKILL)
        else:
            popen.kill()
    for stream in (popen.stdout, popen.stderr):
        if stream is not None:
            stream.close()
    popen.wait()


# --- long-lived processes: the app's web process and everything it forks ----------------------

_OUTPUT_TAIL_BYTES = 64 * 1024
_POLL_SECONDS = 0.02
_KILL_WAIT_SECONDS = 5.0


class AppFailure(ToolFailure):
    """The app (not slugprof) failed: it did not boot, crashed or could not be started.

    `output_tail` is the end of what the app printed, for a `--verbose` display.
    """

    def __init__(self, message: str, *, output_tail: str = "", app_exit_status: int | None = None) -> None:
        super().__init__(message)
        self.output_tail = output_tail
        self.app_exit_status = app_exit_status


@dataclass(frozen=True)
class ShutdownOutcome:
    graceful: bool  # every process of the group exited before the timeout, without SIGKILL
    seconds: float  # from SIGTERM until the last process was gone (or until SIGKILL)
    exit_code: int | None  # the root process's status as subprocess reports it (negative: a signal)


# Started processes whose group is not known to be gone yet: killed at interpreter exit, whatever
# path led there (an exception that skipped a context manager, SIGTERM or SIGHUP to slugprof).
_LIVE: dict[int, ManagedProcess] = {}
_SAVED_HANDLERS: dict[int, Any] = {}
_ATEXIT_REGISTERED = False


class ManagedProcess:
    """A long-lived program started in its own session (so its own process group), output to a file.

    Use it as a context manager: on exit, whatever happened inside, the whole group is killed with
    SIGKILL and reaped. `terminate_group` is the graceful way out (SIGTERM, wait, then SIGKILL).
    A watchdog process (slugprof/watchdog.py), started first, kills the group and the descendants
    seen if slugprof dies without stopping it, even by SIGKILL, which no handler can catch, and then
    removes the `scratch` folders (slugprof's temporary folders of the run).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str],
        scratch: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        if os.name != "posix":
            raise ToolFailure("running the app needs a POSIX system (Linux or macOS); this is " + os.name)
        self.argv = tuple(argv)
        self.cwd = os.fspath(cwd)
        self._output = tempfile.TemporaryFile(mode="a+b", prefix="slugprof-output-")  # noqa: SIM115
        self._known: dict[int, psutil.Process] = {}
        self.started_at = time.monotonic()
        self._watchdog = _Watchdog.start()
        try:
            self._popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            self._output.close()
            self._watchdog.done()
            raise ToolFailure(f"cannot start {argv[0]!r}: {error.strerror}") from error
        self.pid = self._popen.pid
        self.pgid = self._popen.pid  # start_new_session: the child leads a new session and group
        self._watchdog.tell("group", self.pgid)
        for folder in scratch:  # slugprof's temporary folders of the run: removed if slugprof dies
            if "\n" not in os.fspath(folder):
                self._watchdog.tell("remove", os.fspath(folder))
        _register(self)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def poll(self) -> int | None:
        """The root process's exit status once it has exited (and been reaped), else None."""
        return self._popen.poll()

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def output_tail(self, max_bytes: int = _OUTPUT_TAIL_BYTES) -> str:
        """The end of what the group printed so far (stdout and stderr interleaved)."""
        if self._output.closed:
            return ""
        fd = self._output.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - max_bytes)
        data = os.pread(fd, size - start, start)  # pread: the children share the file offset
        text = data.decode("utf-8", errors="replace")
        if start > 0 and "\n" in text:
            text = text.split("\n", 1)[1]  # drop the partial first line
        return text

    def remember_descendants(self) -> list[psutil.Process]:
        """Note every live descendant, so that one that leaves the group is still killed at the end."""
        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        for child in descendants:
            if child.pid not in self._known:
                self._known[child.pid] = child
                self._watchdog.tell("pid", child.pid)
        return descendants

    def group_alive(self) -> bool:
        """Whether any process of the group (or a remembered descendant) still runs (zombies do not)."""
        self._popen.poll()
        if self._popen.returncode is None:
            return True
        return bool(self._survivors())

    def terminate_group(self, timeout: float) -> ShutdownOutcome:
        """Stop as Heroku stops a dyno: SIGTERM to every process, `timeout` s to exit, then SIGKILL."""
        self.remember_descendants()
        began = time.monotonic()
        self._signal_all(signal.SIGTERM)
        deadline = began + timeout
        while self.group_alive():
            if time.monotonic() >= deadline:
                seconds = time.monotonic() - began
                self.kill_group()
                return ShutdownOutcome(graceful=False, seconds=seconds, exit_code=self._popen.returncode)
            time.sleep(_POLL_SECONDS)
        return ShutdownOutcome(
            graceful=True, seconds=time.monotonic() - began, exit_code=self._popen.returncode
        )

    def kill_group(self) -> None:
        """SIGKILL the group and every remembered descendant; return once they are gone and reaped."""
        self.remember_descendants()
        self._signal_all(signal.SIGKILL)
        deadline = time.monotonic() + _KILL_WAIT_SECONDS
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            self._signal_all(signal.SIGKILL)  # anything forked between the first kill and now
        if self._popen.returncode is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=_KILL_WAIT_SECONDS)  # only a process stuck in the kernel
        if not self.group_alive():
            self._watchdog.done()  # else the watchdog, left without `done`, keeps killing a while
        _unregister(self)

    def close(self) -> None:
        """Kill whatever is left of the group and drop the output file."""
        try:
            self.kill_group()
        finally:
            self._output.close()

    def _signal_all(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)
        for process in list(self._known.values()):
            with contextlib.suppress(psutil.Error):
                process.send_signal(signum)  # psutil refuses a pid that was reused meanwhile

    def _survivors(self) -> list[int]:
        survivors = [pid for pid in _group_members(self.pgid) if _running(pid)]
        for pid, process in self._known.items():
            if pid not in survivors and _process_running(process):
                survivors.append(pid)
        return survivors


class _Watchdog:
    """slugprof/watchdog.py run in a session of its own, told what to kill through its stdin."""

    _SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "watchdog.py")

    def __init__(self, popen: subprocess.Popen[bytes] | None) -> None:
        self._popen = popen

    @classmethod
    def start(cls) -> _Watchdog:
        """The watchdog, or one that does nothing when no interpreter can run it (then Ctrl-C, SIGTERM
        and a normal end still stop the app; only slugprof's SIGKILL would leave it)."""
        if not sys.executable:
            return cls(None)
        try:
            popen = subprocess.Popen(
                [sys.executable, "-I", "-S", cls._SCRIPT],
                cwd="/",
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not in slugprof's group: a kill of that group spares it
            )
        except OSError:
            return cls(None)
        return cls(popen)

    def tell(self, word: str, value: int | str) -> None:
        self._write(f"{word} {value}\n")

    def done(self) -> None:
        """The app is stopped: the watchdog exits without killing anything."""
        if self._popen is None:
            return
        self._write("done\n")
        popen, self._popen = self._popen, None
        with contextlib.suppress(OSError):
            if popen.stdin is not None:
                popen.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=_KILL_WAIT_SECONDS)

    def _write(self, line: str) -> None:
        if self._popen is None or self._popen.stdin is None:
            return
        with contextlib.suppress(OSError):  # a watchdog that died cannot be told; nothing to do then
            self._popen.stdin.write(line.encode("utf-8", "surrogateescape"))
            self._popen.stdin.flush()


def _group_members(pgid: int) -> list[int]:
    members = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid:
                members.append(pid)
        except OSError:
            continue
    return members


def _running(pid: int) -> bool:
    try:
        return _process_running(psutil.Process(pid))
    except psutil.Error:
        return False


def _process_running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _register(process: ManagedProcess) -> None:
    global _ATEXIT_REGISTERED
    if not _ATEXIT_REGISTERED:
        atexit.register(_kill_all_live)
        _ATEXIT_REGISTERED = True
    if not _LIVE:
        _install_signal_handlers()
    _LIVE[process.pid] = process


def _unregister(process: ManagedProcess) -> None:
    if _LIVE.pop(process.pid, None) is not None and not _LIVE:
        _restore_signal_handlers()


def _kill_all_live() -> None:
    for process in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            process.kill_group()


def _exit_on_signal(signum: int, frame: object) -> None:
    # Unwind like Ctrl-C does, so the context managers kill the app's group on the way out.
    raise SystemExit(128 + signum)


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            _SAVED_HANDLERS[signum] = signal.signal(signum, _exit_on_signal)


def _restore_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in list(_SAVED_HANDLERS.items()):
        if signal.getsignal(signum) is _exit_on_signal:
            signal.signal(signum, handler)
        del _SAVED_HANDLERS[signum]
