"""The web process's command rewritten to run under `python -m memray run --follow-fork`.

Only the program's own words change (`gunicorn` becomes `<interpreter> -m memray run ... -m gunicorn`):
everything else is kept as written. A command memray cannot follow (a server that spawns or re-executes
its processes, a program that is not Python) is left alone with the reason: the sampler still measures
it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slugprof.measure.memray_availability import SAMPLER_ONLY, MemrayAvailability
from slugprof.measure.memray_captures import CAPTURE_FILE_NAME
from slugprof.measure.memray_lending import lend_folder
from slugprof.shell import ShellSyntaxError, Word, command_list, quote


@dataclass(frozen=True)
class WrappedCommand:
    command: str  # the shell command to run (the original when it cannot be wrapped)
    env: dict[str, str] = field(default_factory=dict)  # additions to the process's environment
    wrapped: bool = False
    note: str = ""  # why it runs without memray, or what the wrapping changes


# Console scripts of Python servers and the module that runs each with `python -m`.
SERVER_MODULES = {
    "gunicorn": "gunicorn",
    "uvicorn": "uvicorn",
    "hypercorn": "hypercorn",
    "waitress-serve": "waitress",
    "flask": "flask",
}
# Programs that set something up and then exec the command they are given: the command is wrapped.
EXEC_WRAPPERS = (("ddtrace-run",), ("newrelic-admin", "run-program"))
_PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON_FLAGS_WITH_VALUE = {"-W", "-X", "--check-hash-based-pycs"}


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
    try:
        commands = command_list(command)
    except ShellSyntaxError as error:
        return WrappedCommand(command, note=f"slugprof cannot parse the command ({error}): {SAMPLER_ONLY}")
    if commands is None:
        return WrappedCommand(
            command, note=f"memray wraps one program, not a pipeline or background job: {SAMPLER_ONLY}"
        )
    memray_run = (
        "-m memray run --follow-fork -q --force --no-compress"
        f" -o {quote(os.path.abspath(output_dir / CAPTURE_FILE_NAME))}"
    )
    last = commands[-1] if commands else ()
    wrapped, reason = _wrap_simple(command, last, interpreter, memray_run, availability, environment)
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


def _wrap_simple(
    text: str,
    words: Sequence[Word],
    interpreter: str,
    memray_run: str,
    availability: MemrayAvailability,
    environment: Mapping[str, str],
) -> tuple[str | None, str]:
    """`text` with the simple command of `words` wrapped, or (None, why memray cannot follow it)."""
    position, assigned = _program_position(words, environment)
    if position == len(words):
        return None, "the command runs no program"
    program = words[position]
    name = os.path.basename(program.value)
    rest = words[position + 1 :]
    inner = _exec_wrapped(name, rest)
    if inner is not None:
        return _wrap_simple(text, inner, interpreter, memray_run, availability, assigned)
    python = quote(interpreter)
    if name in SERVER_MODULES:
        reason = _server_refusal(name, [word.value for word in rest], assigned)
        if reason:
            return None, reason
        module = SERVER_MODULES[name]
        return f"{text[: program.start]}{python} {memray_run} -m {module}{text[program.end :]}", ""
    if not _PYTHON.fullmatch(name):
        return None, f"{name} is not a Python program slugprof knows how to start under memray"
    reason = _python_refusal(rest, availability.status == "borrowed", assigned)
    if reason:
        return None, reason
    # python's own flags stay as written, before memray's: they are the interpreter's, not memray's.
    start = rest[_python_program_index(rest)].start
    return f"{text[: program.start]}{python}{text[program.end : start]}{memray_run} {text[start:]}", ""


def _program_position(words: Sequence[Word], environment: Mapping[str, str]) -> tuple[int, dict[str, str]]:
    """Where the program's word is, past leading `VAR=value` assignments and `exec`; and the
    environment with those assignments."""
    position = 0
    assigned = dict(environment)
    while position < len(words) and _ASSIGNMENT.match(words[position].value):
        name, _, value = words[position].value.partition("=")
        assigned[name] = value
        position += 1
    if position < len(words) and words[position].value == "exec":
        position += 1
    return position, assigned


def _exec_wrapped(name: str, rest: Sequence[Word]) -> Sequence[Word] | None:
    """The command an exec wrapper (`ddtrace-run gunicorn ...`) runs, or None for another program."""
    values = [word.value for word in rest]
    for wrapper in EXEC_WRAPPERS:
        if (name, *values[: len(wrapper) - 1]) == wrapper and len(rest) >= len(wrapper):
            return rest[len(wrapper) - 1 :]
    return None


def _python_program_index(rest: Sequence[Word]) -> int:
    """Where python's own flags (and their values) end: the script, `-m` or `-c`; len(rest) if none."""
    index = 0
    while index < len(rest) and rest[index].value.startswith("-") and rest[index].value not in ("-m", "-c"):
        if rest[index].value in _PYTHON_FLAGS_WITH_VALUE and index + 1 < len(rest):
            index += 1
        index += 1
    return index


def _python_refusal(rest: Sequence[Word], lends_memray: bool, environment: Mapping[str, str]) -> str:
    """Why memray cannot follow `python <rest>`, or ''."""
    index = _python_program_index(rest)
    if index == len(rest):
        return "python is started without a program to run"
    flags = [word.value for word in rest[:index]]
    if lends_memray and any(f in ("-E", "-I") for f in flags):
        return "python's -E or -I ignores the PYTHONPATH through which slugprof lends memray"
    target = [word.value for word in rest[index:]]
    if target[0] == "-m" and len(target) > 1 and target[1] in SERVER_MODULES.values():
        console_script = next(k for k, v in SERVER_MODULES.items() if v == target[1])
        reason = _server_refusal(console_script, target[2:], environment)
        if reason:
            return reason
    runs_django = target[0] not in ("-m", "-c") and os.path.basename(target[0]) == "manage.py"
    if runs_django and "runserver" in target and "--noreload" not in target:
        return "Django's runserver reloads the app in a new process memray cannot follow"
    return ""


def _server_refusal(console_script: str, args: Sequence[str], environment: Mapping[str, str]) -> str:
    """Why memray cannot follow this server's processes (it spawns or re-executes them), or ''."""
    if console_script in ("uvicorn", "hypercorn"):
        option_names = ("--workers",) if console_script == "uvicorn" else ("--workers", "-w")
        workers = _option_value(args, option_names)
        if workers is None and console_script == "uvicorn":
            workers = environment.get("WEB_CONCURRENCY")
        if workers is not None and workers.isdigit() and int(workers) > 1:
            return f"{console_script} starts its {workers} workers with spawn, which memray cannot follow"
        if "--reload" in args:
            return f"{console_script} --reload runs the app in a new process memray cannot follow"
    if console_script == "flask":
        debug = environment.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes")
        if "--reload" in args or "--debug" in args or (debug and "--no-reload" not in args):
            return "flask's reloader runs the app in a new process memray cannot follow"
    return ""


def _option_value(args: Sequence[str], names: Sequence[str]) -> str | None:
    value = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(name + "="):
                value = arg[len(name) + 1 :]
            elif len(name) == 2 and arg.startswith(name) and len(arg) > 2 and arg[2:].isdigit():
                value = arg[2:]
    return value
