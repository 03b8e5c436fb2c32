"""The web process's command rewritten to run under `python -m memray run --follow-fork`.

Only the program's own words change (`gunicorn` becomes `<interpreter> -m memray run ... -m gunicorn`):
everything else is kept as written. A command memray cannot follow (a server that spawns or re-executes
its processes, a program that is not Python) is left alone with the reason: the sampler still measures
it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slugprof.measure.memray_availability import SAMPLER_ONLY, MemrayAvailability
from slugprof.measure.memray_captures import CAPTURE_FILE_NAME
from slugprof.measure.memray_lending import lend_folder
from slugprof.shell import ShellSyntaxError, quote
from slugprof.sources.launch import Launch, NoProgram, NotOneProgram, last_option, read_launch


@dataclass(frozen=True)
class WrappedCommand:
    command: str  # the shell command to run (the original when it cannot be wrapped)
    env: dict[str, str] = field(default_factory=dict)  # additions to the process's environment
    wrapped: bool = False
    note: str = ""  # why it runs without memray, or what the wrapping changes


# The servers whose console script slugprof starts under memray as `python -m SERVER`.
MEMRAY_SERVERS = frozenset({"gunicorn", "uvicorn", "hypercorn", "waitress", "flask"})


def wrap_command(
    command: str,
    *,
    interpreter: str,
    output_dir: Path,
    availability: MemrayAvailability,
    environment: Mapping[str, str] | None = None,
) -> WrappedCommand:
    """Turn a Procfile command into one that runs under `memray run --follow-fork`.

    Only the program's own words change: its arguments, `$PORT` and the like, leading `VAR=value`
    assignments, `exec`, redirections, and commands run before it with `&&` or `;` are kept as written.
    `environment` is the one the process will run with (for WEB_CONCURRENCY, FLASK_DEBUG and
    PYTHONPATH). Capture files go to `output_dir`, which should be empty.

    memray runs without `--trace-python-allocators` (about 3x slower) and with `--no-compress` (it would
    otherwise compress each file as its process exits, which lengthens the shutdown slugprof times).
    """
    environment = environment or {}
    if availability.status == "unavailable":
        return WrappedCommand(command, note=availability.reason)
    launch, note = _launch(command)
    if launch is None:
        return WrappedCommand(command, note=f"{note}: {SAMPLER_ONLY}")
    memray_run = (
        "-m memray run --follow-fork -q --force --no-compress"
        f" -o {quote(os.path.abspath(output_dir / CAPTURE_FILE_NAME))}"
    )
    wrapped, reason = _wrapped(
        launch, interpreter, memray_run, availability, {**environment, **launch.assigned}
    )
    if wrapped is None:
        return WrappedCommand(command, note=f"{reason}: {SAMPLER_ONLY}")
    env: dict[str, str] = {}
    if availability.status == "borrowed":
        try:
            lent = lend_folder(Path(os.path.abspath(output_dir)), availability.lent_paths)
        except OSError as error:
            return WrappedCommand(command, note=f"cannot lend memray to the app ({error}): {SAMPLER_ONLY}")
        existing = environment.get("PYTHONPATH")
        env["PYTHONPATH"] = f"{lent}{os.pathsep}{existing}" if existing else str(lent)
    return WrappedCommand(wrapped, env, wrapped=True, note=reason)


def _launch(command: str) -> tuple[Launch | None, str]:
    """The program the command runs last, or (None, why there is none to wrap)."""
    try:
        return read_launch(command), ""
    except ShellSyntaxError as error:
        return None, f"slugprof cannot parse the command ({error})"
    except NotOneProgram:
        return None, "memray wraps one program, not a pipeline or background job"
    except NoProgram:
        return None, "the command runs no program"


def _wrapped(
    launch: Launch,
    interpreter: str,
    memray_run: str,
    availability: MemrayAvailability,
    environment: Mapping[str, str],
) -> tuple[str | None, str]:
    """The command with its program's words wrapped, or (None, why memray cannot follow it)."""
    text, program = launch.command, launch.words[launch.program]
    python = quote(interpreter)
    if not launch.runs_python and launch.server in MEMRAY_SERVERS:
        reason = _server_refusal(launch.server, launch.values, environment)
        if reason:
            return None, reason
        return f"{text[: program.start]}{python} {memray_run} -m {launch.server}{text[program.end :]}", ""
    if not launch.runs_python:
        return None, f"{launch.program_name} is not a Python program slugprof knows how to start under memray"
    reason = _python_refusal(launch, availability.status == "borrowed", environment)
    if reason:
        return None, reason
    # python's own flags stay as written, before memray's: they are the interpreter's, not memray's.
    start = launch.words[_python_target(launch)].start
    return f"{text[: program.start]}{python}{text[program.end : start]}{memray_run} {text[start:]}", ""


def _python_target(launch: Launch) -> int:
    """The index in `launch.words` of what python runs (the script, `-m` or `-c`), after its own flags;
    len(launch.words) when it runs nothing."""
    return launch.program + 1 + len(launch.python_flags)


def _python_refusal(launch: Launch, lends_memray: bool, environment: Mapping[str, str]) -> str:
    """Why memray cannot follow the python `launch` runs, or ''."""
    if _python_target(launch) == len(launch.words):
        return "python is started without a program to run"
    if lends_memray and any(flag.value in ("-E", "-I") for flag in launch.python_flags):
        return "python's -E or -I ignores the PYTHONPATH through which slugprof lends memray"
    reason = _server_refusal(launch.server, launch.values, environment)  # `python -m SERVER`
    if reason:
        return reason
    runs_django = launch.script is not None and os.path.basename(launch.script) == "manage.py"
    if runs_django and "runserver" in launch.values and "--noreload" not in launch.values:
        return "Django's runserver reloads the app in a new process memray cannot follow"
    return ""


def _server_refusal(server: str, args: Sequence[str], environment: Mapping[str, str]) -> str:
    """Why memray cannot follow this server's processes (it spawns or re-executes them), or ''."""
    if server in ("uvicorn", "hypercorn"):
        option_names = ("--workers",) if server == "uvicorn" else ("--workers", "-w")
        workers = last_option(args, option_names)
        if workers is None and server == "uvicorn":
            workers = environment.get("WEB_CONCURRENCY")
        if workers is not None and workers.isdigit() and int(workers) > 1:
            return f"{server} starts its {workers} workers with spawn, which memray cannot follow"
        if "--reload" in args:
            return f"{server} --reload runs the app in a new process memray cannot follow"
    if server == "flask":
        debug = environment.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes")
        if "--reload" in args or "--debug" in args or (debug and "--no-reload" not in args):
            return "flask's reloader runs the app in a new process memray cannot follow"
    return ""
