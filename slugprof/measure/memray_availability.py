"""Can the app's interpreter run memray: its own, slugprof's lent to it, or none (and how to install it).

The app's interpreter is asked once, in the run that describes its environment (`app_interpreter_questions`
are asked along): which of memray's dependencies it has, and whether memray imports there.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from slugprof.errors import UsageError
from slugprof.measure.memray_captures import reader_load_error
from slugprof.measure.memray_lending import CannotLend, lent_distributions, memray_closure
from slugprof.sources.environment import (
    InterpreterQuestions,
    ModuleImport,
    PythonEnvironment,
    query_environment,
)

SAMPLER_ONLY = "profiling continues with the sampler alone"

MemrayStatus = Literal["app", "borrowed", "unavailable"]


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
    memray_version: str | None  # None when memray does not import there
    memray_error: str | None
    installed: Mapping[str, str]  # canonical distribution name -> version, for memray's dependencies


def app_interpreter_questions() -> InterpreterQuestions:
    """What `memray_status` needs to know of the app's interpreter, to ask when its environment is found."""
    return InterpreterQuestions(distributions=tuple(memray_closure()), modules=("memray",))


def memray_status(interpreter: str, environment: PythonEnvironment | None = None) -> MemrayAvailability:
    """Can the app's interpreter (its virtualenv's python, not necessarily slugprof's) run memray?

    `environment`: the interpreter's, when it was found with `app_interpreter_questions()`; without it
    (or when it was asked nothing about memray), the interpreter is started to ask.
    """
    if sys.platform == "win32":
        return _unavailable(interpreter, f"memray does not run on Windows: {SAMPLER_ONLY}")
    error = reader_load_error()
    if error is not None:
        return _unavailable(
            interpreter, f"memray does not run here (slugprof cannot import it: {error}): {SAMPLER_ONLY}"
        )
    if environment is None or environment.interpreter != interpreter or "memray" not in environment.modules:
        try:
            environment = query_environment(
                interpreter, "the interpreter of the web process", app_interpreter_questions()
            )
        except UsageError as failure:
            return _unavailable(interpreter, f"{failure}: {SAMPLER_ONLY}")
    return availability_from_probe(interpreter, interpreter_probe(environment), _own_probe())


def interpreter_probe(environment: PythonEnvironment) -> InterpreterProbe:
    """What the environment's interpreter answered, as memray's checks read it."""
    markers = environment.marker_environment
    major, minor, *_ = (int(part) for part in markers["python_version"].split("."))
    answer = environment.modules.get("memray", ModuleImport(None, "memray was not asked about"))
    return InterpreterProbe(
        implementation=markers["platform_python_implementation"].lower(),
        version=(major, minor),
        ext_suffix=environment.ext_suffix,
        machine=markers["platform_machine"],
        memray_version=(
            None
            if answer.error is not None
            else environment.distributions.get("memray") or answer.version or "unknown"
        ),
        memray_error=answer.error,
        installed=environment.distributions,
    )


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
        lent, shadowed = lent_distributions(probe.installed)
    except CannotLend as error:
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
