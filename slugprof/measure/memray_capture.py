"""The one module that imports memray: can the app's interpreter run it, the command that runs the web
process under it, and what its capture files say.

memray is imported inside the functions that need it, never at module level, so that importing this
module costs nothing and works where memray does not (Windows).

How a gunicorn dyno is captured: `<python> -m memray run --follow-fork ... -o capture.bin -m gunicorn ...`
writes `capture.bin` for the process memray started (gunicorn's master) and `capture.bin.<pid>` for every
process forked from it (the workers). The default file format is used: it can be read while the server
runs and survives a SIGKILL (a killed worker leaves a readable file whose header was never finalised).

Measured with memray 1.20 (CPython 3.11, Linux):
- memray adds one OS thread to every tracked process (gunicorn's master: 2 threads -> 3; a sync worker:
  1 -> 2): the thread that records the process's RSS every 10 ms. The child re-creates it after fork.
- `memray run` imports jinja2, markupsafe, platformdirs, rich, textual and typing_extensions (and many
  standard modules: asyncio, json, logging, ssl...) into the tracked process before tracking starts.
  Their memory is in the process's RSS (about 20 MiB more per process, inherited by the workers) but
  not in the captures, and an app's own import of them (Flask imports jinja2) costs nothing there.
- Read the captures after the whole process group has exited: a process still running (or killed)
  has not finalised its file header; its records are read all the same, with a note.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shlex
import sys
import sysconfig
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from slugprof.errors import ToolFailure
from slugprof.model import AllocationSite, ImportCost, ProcessRole
from slugprof.processes import run_command

CAPTURE_FILE_NAME = "capture.bin"  # the master's; each forked process writes capture.bin.<pid>
LENT_FOLDER_NAME = "memray-lent"  # in the output folder: links to slugprof's memray and its dependencies
MEMRAY_THREADS_PER_PROCESS = 1  # measured: see the module's docstring
TOP_SITES = 10
SAMPLER_ONLY = "profiling continues with the sampler alone"

MemrayStatus = Literal["app", "borrowed", "unavailable"]


# --- can the app's interpreter run memray? ---------------------------------------------------------


@dataclass(frozen=True)
class MemrayAvailability:
    status: MemrayStatus  # "app": its environment has memray; "borrowed": slugprof lends its own
    interpreter: str
    reason: str  # one line for the user
    memray_version: str | None = None  # the memray that will run in the app's process
    lent_paths: tuple[str, ...] = ()  # "borrowed": top-level files and folders to put on its path


@dataclass(frozen=True)
class InterpreterProbe:
    """What an interpreter says about itself: enough to tell whether slugprof's memray can run in it."""

    implementation: str  # "cpython"
    version: tuple[int, int]
    ext_suffix: str  # ".cpython-311-x86_64-linux-gnu.so": ABI, architecture and libc in one string
    machine: str
    memray_version: str | None  # None when `import memray` fails there
    memray_error: str | None
    installed: Mapping[str, str]  # canonical distribution name -> version, for memray's dependencies


_PROBE_SCRIPT = r"""
import json, platform, sys, sysconfig
try:
    from importlib import metadata
except ImportError:
    metadata = None
installed = {}
for name in sys.argv[1:]:
    try:
        installed[name] = metadata.version(name)
    except Exception:
        pass
memray_version = None
memray_error = None
try:
    import memray
    memray_version = installed.get("memray") or getattr(memray, "__version__", "unknown")
except Exception as error:
    memray_error = "%s: %s" % (type(error).__name__, error)
print(json.dumps({
    "implementation": platform.python_implementation().lower(),
    "version": list(sys.version_info[:2]),
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
    "machine": platform.machine(),
    "memray_version": memray_version,
    "memray_error": memray_error,
    "installed": installed,
}))
"""


def memray_status(interpreter: str) -> MemrayAvailability:
    """Can the app's interpreter (its virtualenv's python, not necessarily slugprof's) run memray?"""
    if sys.platform == "win32":
        return _unavailable(interpreter, f"memray does not run on Windows: {SAMPLER_ONLY}")
    try:
        import memray  # noqa: F401  (imported to prove that it loads here)
    except ImportError as error:
        return _unavailable(
            interpreter, f"memray does not run here (slugprof cannot import it: {error}): {SAMPLER_ONLY}"
        )
    names = _memray_closure()
    try:
        probe = probe_interpreter(interpreter, names)
    except ToolFailure as error:
        return _unavailable(interpreter, f"{error}: {SAMPLER_ONLY}")
    return availability_from_probe(interpreter, probe, _own_probe())


def probe_interpreter(interpreter: str, distribution_names: Sequence[str] = ()) -> InterpreterProbe:
    """Run the interpreter once: its version, platform, memray, and the named distributions' versions."""
    result = run_command([interpreter, "-c", _PROBE_SCRIPT, *distribution_names], timeout=60.0)
    lines = result.stdout.decode(errors="replace").strip().splitlines()
    if result.returncode != 0 or not lines:
        last = result.stderr.decode(errors="replace").strip().splitlines()
        raise ToolFailure(f"{interpreter} failed to start: {last[-1] if last else 'no output'}")
    try:
        data = json.loads(lines[-1])
        return InterpreterProbe(
            implementation=str(data["implementation"]),
            version=(int(data["version"][0]), int(data["version"][1])),
            ext_suffix=str(data["ext_suffix"]),
            machine=str(data["machine"]),
            memray_version=data["memray_version"],
            memray_error=data["memray_error"],
            installed={canonicalize_name(k): str(v) for k, v in data["installed"].items()},
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
        raise ToolFailure(f"{interpreter} gave an unexpected answer about itself ({error})") from error


def availability_from_probe(
    interpreter: str, probe: InterpreterProbe, own: InterpreterProbe
) -> MemrayAvailability:
    """Decide between the app's memray, slugprof's lent to it, or none (with how to install it there)."""
    if probe.memray_version is not None:
        reason = f"memray {probe.memray_version} from the app's environment"
        if own.memray_version is not None and probe.memray_version != own.memray_version:
            reason += (
                f" (slugprof reads captures with memray {own.memray_version}; if it cannot read them,"
                " install that version there)"
            )
        return MemrayAvailability("app", interpreter, reason, probe.memray_version)
    if "memray" in probe.installed:
        missing = f"the app's memray {probe.installed['memray']} does not load ({probe.memray_error})"
    else:
        missing = "the app's environment has no memray"
    install = f"install it there (`{_pip_command(interpreter)} install memray`); {SAMPLER_ONLY}"
    mismatch = _incompatibility(probe, own)
    if mismatch:
        return _unavailable(
            interpreter, f"{missing} and {mismatch}, so slugprof cannot lend its own: {install}"
        )
    try:
        lent, shadowed = _lent_distributions(probe.installed)
    except _CannotLend as error:
        return _unavailable(interpreter, f"{missing} and slugprof cannot lend its own ({error}): {install}")
    reason = f"{missing}: slugprof lends it memray {own.memray_version}"
    if shadowed:
        reason += f" (with {', '.join(shadowed)} in place of the app's own while profiling)"
    return MemrayAvailability("borrowed", interpreter, reason, own.memray_version, lent)


def _unavailable(interpreter: str, reason: str) -> MemrayAvailability:
    return MemrayAvailability("unavailable", interpreter, reason)


def _incompatibility(probe: InterpreterProbe, own: InterpreterProbe) -> str | None:
    if probe.implementation != own.implementation:
        return f"it runs {probe.implementation}, not {own.implementation}"
    if probe.version != own.version:
        theirs, ours = (".".join(map(str, v)) for v in (probe.version, own.version))
        return f"its Python is {theirs} (slugprof runs {ours})"
    if probe.ext_suffix != own.ext_suffix or probe.machine != own.machine:
        return f"its platform differs from slugprof's ({probe.ext_suffix} vs {own.ext_suffix})"
    return None


def _pip_command(interpreter: str) -> str:
    """`<venv>/bin/pip` when the interpreter is a path with pip beside it, else `<interpreter> -m pip`."""
    pip = Path(interpreter).parent / "pip"
    return str(pip) if os.sep in interpreter and pip.exists() else f"{interpreter} -m pip"


def _own_probe() -> InterpreterProbe:
    try:
        version: str | None = metadata.version("memray")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return InterpreterProbe(
        implementation=sys.implementation.name,
        version=(sys.version_info[0], sys.version_info[1]),
        ext_suffix=str(sysconfig.get_config_var("EXT_SUFFIX") or ""),
        machine=platform.machine(),
        memray_version=version,
        memray_error=None,
        installed={},
    )


class _CannotLend(Exception):
    pass


def _runtime_requirements(distribution: metadata.Distribution, extras: Iterable[str]) -> list[Requirement]:
    """What the distribution needs at run time, with the extras it is required with."""
    environments = [{"extra": extra} for extra in ("", *extras)]
    requirements = []
    for text in distribution.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or any(marker.evaluate(environment) for environment in environments):
            requirements.append(requirement)
    return requirements


def _memray_closure() -> list[str]:
    """memray and every distribution it needs at run time, as installed alongside slugprof."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement("memray")]
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        pending.extend(_runtime_requirements(distribution, requirement.extras))
    return sorted({name for name, _ in seen})


def _satisfies(requirement: Requirement, version: str) -> bool:
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _lent_distributions(app_installed: Mapping[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """The top-level files and folders of memray and of the dependencies the app's environment lacks.

    A dependency the app already has in a version memray accepts is not lent: `memray run` imports its
    dependencies into the app's process, and the app must keep its own versions where it can. Returns
    the paths and the app's distributions that the lent ones replace while profiling.
    """
    lent: dict[str, metadata.Distribution] = {}
    expanded: set[tuple[str, frozenset[str]]] = set()
    shadowed: list[str] = []
    pending = [Requirement("memray")]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        theirs = app_installed.get(name)
        key = (name, frozenset(requirement.extras))
        if key in expanded or (name != "memray" and theirs is not None and _satisfies(requirement, theirs)):
            continue
        expanded.add(key)
        if name not in lent:
            try:
                lent[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError as error:
                if name == "memray":
                    raise _CannotLend("its distribution metadata is missing") from error
                continue  # not installed with slugprof either, where memray runs without it
            if theirs is not None and name != "memray":
                shadowed.append(f"{lent[name].metadata['Name']} {lent[name].version}")
        pending.extend(_runtime_requirements(lent[name], requirement.extras))
    paths: set[str] = set()
    for lent_name, distribution in lent.items():
        files = distribution.files
        if not files:
            raise _CannotLend(f"{lent_name} lists no files")
        for top in {f.parts[0] for f in files if f.parts}:
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            location = Path(str(distribution.locate_file(top)))
            if location.exists():
                paths.add(str(location))
    return tuple(sorted(paths)), sorted(shadowed)


# --- the command that runs the web process under memray --------------------------------------------


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
EXEC_WRAPPERS = {"ddtrace-run": 1, "newrelic-admin run-program": 2}
_PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON_FLAGS_WITH_VALUE = {"-W", "-X", "--check-hash-based-pycs"}


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    value: str  # as the shell would pass it, but with $VARIABLES left unexpanded


def wrap_command(
    command: str,
    *,
    interpreter: str,
    output_dir: Path,
    availability: MemrayAvailability,
    environment: Mapping[str, str] | None = None,
) -> WrappedCommand:
    """Turn a Procfile command into one that runs under `memray run --follow-fork`.

    Only the program's own words change (`gunicorn` becomes `<interpreter> -m memray run ... -m gunicorn`):
    its arguments, `$PORT` and the like, leading `VAR=value` assignments, `exec`, and commands run before
    it with `&&` or `;` are kept as written. A command memray cannot follow is returned unchanged with
    the reason: the sampler still measures it. `environment` is the one the process will run with (for
    WEB_CONCURRENCY, FLASK_DEBUG and PYTHONPATH). Capture files go to `output_dir`, which should be empty.

    memray runs without `--trace-python-allocators` (about 3x slower) and with `--no-compress` (it would
    otherwise compress each file as its process exits, which lengthens the shutdown slugprof times).
    """
    environment = environment or {}
    if availability.status == "unavailable":
        return WrappedCommand(command, note=availability.reason)
    segments = _split_list(command)
    if segments is None:
        return WrappedCommand(
            command, note=f"memray wraps one program, not a pipeline or background job: {SAMPLER_ONLY}"
        )
    head, last = command[: segments[-1]], command[segments[-1] :]
    memray_run = (
        "-m memray run --follow-fork -q --force --no-compress"
        f" -o {shlex.quote(os.path.abspath(output_dir / CAPTURE_FILE_NAME))}"
    )
    try:
        wrapped, reason = _wrap_simple(last, interpreter, memray_run, availability, environment)
    except ValueError as error:
        wrapped, reason = None, f"slugprof cannot parse the command ({error})"
    if wrapped is None:
        return WrappedCommand(command, note=f"{reason}: {SAMPLER_ONLY}")
    env: dict[str, str] = {}
    if availability.status == "borrowed":
        try:
            lent = _lend(Path(os.path.abspath(output_dir)), availability.lent_paths)
        except OSError as error:
            return WrappedCommand(command, note=f"cannot lend memray to the app ({error}): {SAMPLER_ONLY}")
        existing = environment.get("PYTHONPATH")
        env["PYTHONPATH"] = f"{lent}{os.pathsep}{existing}" if existing else str(lent)
    return WrappedCommand(head + wrapped, env, wrapped=True, note=reason)


def _wrap_simple(
    text: str,
    interpreter: str,
    memray_run: str,
    availability: MemrayAvailability,
    environment: Mapping[str, str],
) -> tuple[str | None, str]:
    """Wrap one simple command (no `&&`, `;`). Returns (None, reason) when memray cannot follow it."""
    words = _words(text)
    position = 0
    assigned = dict(environment)
    while position < len(words) and _ASSIGNMENT.match(words[position].value):
        name, _, value = words[position].value.partition("=")
        assigned[name] = value
        position += 1
    if position < len(words) and words[position].value == "exec":
        position += 1
    if position == len(words):
        return None, "the command runs no program"
    program = words[position]
    name = os.path.basename(program.value)
    rest = words[position + 1 :]
    values = [word.value for word in rest]
    for wrapper, length in EXEC_WRAPPERS.items():
        wrapper_words = wrapper.split()
        if [name, *values[: length - 1]] == wrapper_words and len(rest) >= length:
            inner_start = rest[length - 1].start
            inner, reason = _wrap_simple(text[inner_start:], interpreter, memray_run, availability, assigned)
            return (None if inner is None else text[:inner_start] + inner), reason
    python = f"{shlex.quote(interpreter)} "
    if name in SERVER_MODULES:
        reason = _server_refusal(name, values, assigned)
        if reason:
            return None, reason
        return (
            f"{text[: program.start]}{python}{memray_run} -m {SERVER_MODULES[name]}{text[program.end :]}",
            "",
        )
    if not _PYTHON.fullmatch(name):
        return None, f"{name} is not a Python program slugprof knows how to start under memray"
    flags: list[str] = []
    index = 0
    while index < len(rest) and rest[index].value.startswith("-") and rest[index].value not in ("-m", "-c"):
        flags.append(rest[index].value)
        if rest[index].value in _PYTHON_FLAGS_WITH_VALUE and index + 1 < len(rest):
            index += 1
            flags.append(rest[index].value)
        index += 1
    if index == len(rest):
        return None, "python is started without a program to run"
    if availability.status == "borrowed" and any(f in ("-E", "-I") for f in flags):
        return None, "python's -E or -I ignores the PYTHONPATH through which slugprof lends memray"
    target = [word.value for word in rest[index:]]
    if target[0] == "-m" and len(target) > 1 and target[1] in SERVER_MODULES.values():
        console_script = next(k for k, v in SERVER_MODULES.items() if v == target[1])
        reason = _server_refusal(console_script, target[2:], assigned)
        if reason:
            return None, reason
    runs_django = target[0] not in ("-m", "-c") and os.path.basename(target[0]) == "manage.py"
    if runs_django and "runserver" in target and "--noreload" not in target:
        return None, "Django's runserver reloads the app in a new process memray cannot follow"
    flag_text = "".join(f"{shlex.quote(flag)} " for flag in flags)
    return f"{text[: program.start]}{python}{flag_text}{memray_run} {text[rest[index].start :]}", ""


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


def _split_list(command: str) -> list[int] | None:
    """Start offsets of the commands of a `;` / `&&` list; None for pipelines, `||` and `&`."""
    starts = [0]
    quote = ""
    depth = 0  # inside $( ... )
    index = 0
    while index < len(command):
        char = command[index]
        following = command[index + 1] if index + 1 < len(command) else ""
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char == "\\":
            index += 1
        elif char in "'\"`":
            quote = char
        elif char == "$" and following == "(":
            depth += 1
            index += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth:
            pass
        elif char == "&" and following == "&":
            starts.append(index + 2)
            index += 1
        elif char in ";\n":
            starts.append(index + 1)
        elif _is_pipe_or_background(command, index):
            return None
        index += 1
    while len(starts) > 1 and not command[starts[-1] :].strip():
        starts.pop()  # a trailing `;`
    return starts


def _is_pipe_or_background(command: str, index: int) -> bool:
    """`|`, `||` or a lone `&` at `index`; not the `>|`, `>&`, `<&`, `&>` of redirections."""
    char = command[index]
    before = command[index - 1] if index else ""
    after = command[index + 1] if index + 1 < len(command) else ""
    if char == "|":
        return before != ">"
    return char == "&" and after != ">" and before not in ("<", ">")


def _words(text: str) -> list[_Word]:
    """The shell words of one simple command with where they are in `text`."""
    words = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        start = index
        quote = ""
        while index < len(text) and (quote or not text[index].isspace()):
            char = text[index]
            if quote:
                if char == "\\" and quote == '"':
                    index += 1
                elif char == quote:
                    quote = ""
            elif char == "\\":
                index += 1
            elif char in "'\"":
                quote = char
            index += 1
        if quote:
            raise ValueError("a quote is not closed")
        raw = text[start:index]
        parsed = shlex.split(raw)
        words.append(_Word(start, index, parsed[0] if parsed else ""))
    return words


def _lend(output_dir: Path, paths: Iterable[str]) -> Path:
    """A folder holding only links to memray and the dependencies lent with it."""
    folder = output_dir / LENT_FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / Path(path).name
        if not link.is_symlink():
            link.symlink_to(path, target_is_directory=Path(path).is_dir())
    return folder


# --- reading the captures --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessCapture:
    pid: int
    role: ProcessRole
    file_name: str
    heap_peak_bytes: int  # memray's heap peak (not RSS)
    memray_threads: int  # OS threads memray adds to this process: subtract them from the thread count
    complete: bool  # False when the process was killed (or still runs): figures cover what it wrote
    top_sites: tuple[AllocationSite, ...]
    imports: tuple[ImportCost, ...]  # bytes still held at the heap peak, by the import that caused them


@dataclass(frozen=True)
class CaptureSummary:
    processes: tuple[ProcessCapture, ...]  # the process memray started first, then by pid
    imports: tuple[ImportCost, ...]  # per role: the largest cost one process of that role paid
    notes: tuple[str, ...] = ()

    def process(self, pid: int) -> ProcessCapture | None:
        return next((process for process in self.processes if process.pid == pid), None)


def capture_files(output_dir: Path) -> list[Path]:
    """The capture files in the folder: the master's first, then the forked processes' by pid."""

    def order(path: Path) -> tuple[int, int]:
        suffix = path.name[len(CAPTURE_FILE_NAME) + 1 :]
        return (0, 0) if path.name == CAPTURE_FILE_NAME else (1, int(suffix))

    found = [
        path
        for path in output_dir.glob(CAPTURE_FILE_NAME + "*")
        if path.name == CAPTURE_FILE_NAME or path.name[len(CAPTURE_FILE_NAME) + 1 :].isdigit()
    ]
    return sorted(found, key=order)


def read_captures(
    output_dir: Path,
    *,
    roles: Mapping[int, ProcessRole] | None = None,
    app_dir: Path | None = None,
) -> CaptureSummary:
    """Read every capture file in `output_dir`: heap peak, allocation sites and import costs per process.

    `roles` maps pids to roles; without an entry, the process memray started is the "master" when it
    forked others (each a "worker"), else "other". `app_dir` is the app's folder: frames of files in it
    are the app's own code (without it, any file outside the standard library and site-packages is).
    A file that cannot be read is skipped with a note; nothing here raises for a bad capture.

    Import costs: the allocations still held at a process's heap peak are walked from the outermost
    frame. Where a frame runs the module-level code of a module being imported (a `<module>` frame
    entered through importlib's bootstrap), an import starts. The bytes go to the first import that the
    app's own code performed (from its innermost frame): `import pandas` in the app costs "pandas", numpy
    included; a module of the app's own that allocates at import (its globals) costs its own name;
    imports no app code caused (the server's own) go to their outermost top-level module ("gunicorn").
    A module imported by two packages is paid for by the first one to import it.
    """
    roles = roles or {}
    notes: list[str] = []
    files = capture_files(output_dir)
    if not files:
        return CaptureSummary((), (), (f"memray wrote no capture in {output_dir}",))
    has_children = any(path.name != CAPTURE_FILE_NAME for path in files)
    try:
        import memray
    except ImportError as error:
        return CaptureSummary((), (), (f"cannot read the captures: memray does not load here ({error})",))
    set_log_level = getattr(memray, "set_log_level", None)  # exported at run time, absent from its stub
    if callable(set_log_level):
        set_log_level(logging.CRITICAL)  # a truncated file makes memray log to stderr; noted here instead
    classifier = SourceFiles(app_dir)
    processes: list[ProcessCapture] = []
    try:
        for path in files:
            is_root = path.name == CAPTURE_FILE_NAME
            default_role: ProcessRole = ("master" if has_children else "other") if is_root else "worker"
            try:
                process = _read_capture(path, roles, default_role, classifier, notes)
            except Exception as error:  # memray raises OSError, RuntimeError, ValueError for bad files
                notes.append(f"{path.name}: unreadable ({error}): skipped")
                continue
            processes.append(process)
    finally:
        if callable(set_log_level):
            set_log_level(logging.WARNING)
    return CaptureSummary(tuple(processes), _combine_imports(processes), tuple(notes))


def _read_capture(
    path: Path,
    roles: Mapping[int, ProcessRole],
    default_role: ProcessRole,
    classifier: SourceFiles,
    notes: list[str],
) -> ProcessCapture:
    import memray

    with memray.FileReader(path) as reader:
        meta = reader.metadata
        pid = meta.pid
        snapshots = list(reader.get_memory_snapshots())
        start, end = meta.start_time.timestamp(), meta.end_time.timestamp()
        complete = _check_complete(start, end, [snapshot.time / 1000 for snapshot in snapshots], pid, notes)
        sites: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        imports: dict[str, int] = defaultdict(int)
        cache: dict[tuple[int, int], tuple[str, str | None]] = {}
        held = 0
        for record in reader.get_high_watermark_allocation_records(merge_threads=True):
            key = (record.stack_id, record.tid)
            if key not in cache:
                frames = record.stack_trace()
                cache[key] = (_location(frames, classifier), attribute_import(frames[::-1], classifier))
            location, module = cache[key]
            sites[location][0] += record.size
            sites[location][1] += record.n_allocations
            if module is not None:
                imports[module] += record.size
            held += record.size
    role = roles.get(pid, default_role)
    top = sorted(sites.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_SITES]
    return ProcessCapture(
        pid=pid,
        role=role,
        file_name=path.name,
        heap_peak_bytes=meta.peak_memory or held,
        memray_threads=MEMRAY_THREADS_PER_PROCESS,
        complete=complete,
        top_sites=tuple(AllocationSite(location, size, count) for location, (size, count) in top),
        imports=tuple(
            ImportCost(module, size, role)
            for module, size in sorted(imports.items(), key=lambda item: (-item[1], item[0]))
        ),
    )


def _check_complete(
    start: float, end: float, snapshot_times: Sequence[float], pid: int, notes: list[str]
) -> bool:
    """Whether the process closed its capture; notes a killed process and a file cut short.

    memray writes the header's end time when the process stops tracking; until then it equals the
    start time (to the millisecond), while the RSS snapshots it records every 10 ms go on. A closed
    file whose snapshots stop well before its end time lost its tail.
    """
    last = snapshot_times[-1] if snapshot_times else None
    if end - start < 0.005 or (last is not None and last > end + 0.005):
        notes.append(
            f"pid {pid}: its capture was not closed (the process was killed, left through os._exit,"
            " or still runs): figures cover what it wrote"
        )
        return False
    if last is not None and end - last > max(0.5, 0.002 * (end - start)):
        notes.append(
            f"pid {pid}: its capture file stops {end - last:.1f} s before the process did (truncated):"
            " figures cover what it holds"
        )
    return True


def _combine_imports(processes: Sequence[ProcessCapture]) -> tuple[ImportCost, ...]:
    """One row per (module, role): the largest cost a process of that role paid for it.

    Under --preload the master pays for the app's imports once and the workers share them; without it,
    each worker pays, and a row says what one worker pays.
    """
    largest: dict[tuple[str, ProcessRole], int] = {}
    for process in processes:
        for cost in process.imports:
            key = (cost.module, cost.role)
            largest[key] = max(largest.get(key, 0), cost.bytes)
    rows = [ImportCost(module, size, role) for (module, role), size in largest.items()]
    return tuple(sorted(rows, key=lambda row: (-row.bytes, row.module, row.role)))


# --- stacks: whose import caused an allocation --------------------------------------------------------

Frame = tuple[str, str, int]  # (function, file name, line) as memray gives them
_SITE_PACKAGES = re.compile(r"[\\/](?:site|dist)-packages[\\/]")
_STANDARD_LIBRARY = re.compile(r"[\\/]lib(?:64)?[\\/](?:python|pypy)\d(?:\.\d+)?t?[\\/]")
_IMPORT_MACHINERY = ("<frozen importlib._bootstrap", "<frozen zipimport>")


def _is_import_machinery(file_name: str) -> bool:
    return file_name.startswith(_IMPORT_MACHINERY) or file_name.endswith(
        ("importlib/_bootstrap.py", "importlib/_bootstrap_external.py")
    )


class SourceFiles:
    """Which file names are the app's own code, and the top-level module each belongs to (cached)."""

    def __init__(self, app_dir: Path | None) -> None:
        # Frames carry the path the interpreter imported from: the app's folder as given, or resolved.
        self._app_dirs = (Path(os.path.abspath(app_dir)), app_dir.resolve()) if app_dir is not None else ()
        self._is_app: dict[str, bool] = {}
        self._module: dict[str, str] = {}

    def is_app(self, file_name: str) -> bool:
        if file_name not in self._is_app:
            self._is_app[file_name] = self._classify(file_name)
        return self._is_app[file_name]

    def _classify(self, file_name: str) -> bool:
        if file_name.startswith("<") or _library_part(file_name) is not None:
            return False
        path = Path(file_name)
        return not self._app_dirs or not path.is_absolute() or self._below_app(path) is not None

    def _below_app(self, path: Path) -> tuple[Path, Path] | None:
        """(the app's folder, the path relative to it) when the path is in the app's folder."""
        for app_dir in self._app_dirs:
            if app_dir in path.parents:
                return app_dir, path.relative_to(app_dir)
        return None

    def module(self, file_name: str) -> str:
        if file_name not in self._module:
            self._module[file_name] = self._top_level_module(file_name)
        return self._module[file_name]

    def _top_level_module(self, file_name: str) -> str:
        if file_name.startswith("<frozen "):
            return file_name[len("<frozen ") :].rstrip(">").split(".")[0]
        if file_name.startswith("<"):
            return file_name
        library_part = _library_part(file_name)
        if library_part is not None:
            return _module_name(library_part.split("/")[0])
        path = Path(file_name)
        if self._app_dirs and not path.is_absolute():
            path = self._app_dirs[0] / path
        top = path
        while (top.parent / "__init__.py").exists() and top.parent != top.parent.parent:
            top = top.parent
        if top != path:
            return top.name  # a regular package
        below = self._below_app(path)
        if below is not None and len(below[1].parts) > 1:
            return below[1].parts[0]  # a namespace package of the app
        return _module_name(path.name)

    def display(self, file_name: str) -> str:
        """A file name without this machine's folders where they say nothing: the app's, site-packages'."""
        library_part = _library_part(file_name)
        if library_part is not None:
            return library_part
        below = self._below_app(Path(file_name))
        return below[1].as_posix() if below is not None else file_name


def _library_part(file_name: str) -> str | None:
    """The path below site-packages or the standard library's folder; None for other files."""
    normal = file_name.replace("\\", "/")
    match = _SITE_PACKAGES.search(normal) or _STANDARD_LIBRARY.search(normal)
    if match is None:
        return None
    return normal[match.end() :]


def _module_name(entry: str) -> str:
    """The module a top-level entry provides: "heavy.py" -> "heavy", "_x.cpython-311-(...).so" -> "_x"."""
    return entry.removesuffix(".py") if entry.endswith(".py") else entry.split(".")[0]


def _location(frames: Sequence[Frame], classifier: SourceFiles) -> str:
    if not frames:
        return "[no Python frame]"
    function, file_name, line = frames[0]
    return f"{classifier.display(file_name)}:{line} {function}"


def attribute_import(frames: Sequence[Frame], classifier: SourceFiles) -> str | None:
    """The top-level module whose import caused an allocation, from its stack (outermost frame first).

    None when no import is on the stack (the allocation is the app's running, not its loading).
    """
    imports = [
        index
        for index in range(1, len(frames))
        if frames[index][0] == "<module>" and _is_import_machinery(frames[index - 1][1])
    ]
    if not imports:
        return None
    app_frames = [index for index, frame in enumerate(frames) if classifier.is_app(frame[1])]
    if app_frames:
        innermost_app = app_frames[-1]
        performed_by_app = [index for index in imports if index > innermost_app]
        if performed_by_app:
            return classifier.module(frames[performed_by_app[0]][1])
        app_modules = [index for index in imports if classifier.is_app(frames[index][1])]
        if app_modules:
            return classifier.module(frames[app_modules[-1]][1])
    return classifier.module(frames[imports[0]][1])
