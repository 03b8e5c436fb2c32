"""Find the Python environment the app's dependencies are installed in, and ask its interpreter about it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from slugprof.errors import ToolFailure, UsageError
from slugprof.processes import run_command

# Folders inside the app that hold a virtualenv, in the order they are tried.
APP_VENV_FOLDERS = (".venv", "venv", "env")

# Run by the target interpreter. Standard library only, no f-strings: the target may be old and may
# not have `packaging`. The marker environment mirrors packaging.markers.default_environment().
QUERY_SCRIPT = r"""
import json, os, platform, sys, sysconfig

def full_version(info):
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version

paths = sysconfig.get_paths()
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "version": platform.python_version(),
    "site_packages": [paths.get("purelib"), paths.get("platlib")],
    "marker_environment": {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}))
"""


@dataclass(frozen=True)
class PythonEnvironment:
    interpreter: str  # absolute path of the python executable (symlinks kept: a venv's python is one)
    prefix: str  # sys.prefix of that interpreter
    version: str  # "3.12.4"
    site_packages: tuple[str, ...]  # purelib/platlib (deduplicated, existing)
    marker_environment: dict[str, str]  # packaging.markers default_environment() of THAT interpreter
    how_found: str  # "--env", ".venv in the app", "$VIRTUAL_ENV"


def find_environment(
    app_root: Path, explicit: str | None, environ: Mapping[str, str]
) -> PythonEnvironment | None:
    """The environment to measure: `--env`, else a venv inside the app, else $VIRTUAL_ENV, else None.

    An environment found automatically is skipped when it is the one slugprof itself runs in: its
    packages are slugprof's, not the app's.
    """
    if explicit is not None:
        return query_environment(_explicit_interpreter(explicit), "--env")

    candidates = [(app_root / folder, f"{folder} in the app") for folder in APP_VENV_FOLDERS]
    candidates = [(folder, how) for folder, how in candidates if (folder / "pyvenv.cfg").is_file()]
    virtual_env = environ.get("VIRTUAL_ENV")
    if virtual_env:
        candidates.append((Path(virtual_env), "$VIRTUAL_ENV"))

    for folder, how_found in candidates:
        if _same_path(folder, sys.prefix):
            continue
        interpreter = _venv_interpreter(folder)
        if interpreter is None:
            if how_found == "$VIRTUAL_ENV":
                continue  # a stale variable from a shell: not worth stopping for
            raise UsageError(
                f"{folder} looks like a virtualenv but has no bin/python; repair it or pass --env"
            )
        environment = query_environment(interpreter, how_found)
        if _same_path(Path(environment.prefix), sys.prefix):
            continue
        return environment
    return None


def query_environment(interpreter: str, how_found: str) -> PythonEnvironment:
    """Run `interpreter` once and describe its environment. A UsageError when it does not answer."""
    try:
        # -I: ignore PYTHONPATH, PYTHONHOME and the user site of whoever runs slugprof.
        result = run_command([interpreter, "-I", "-c", QUERY_SCRIPT], timeout=60.0)
    except ToolFailure as error:
        raise UsageError(f"cannot run the Python interpreter {interpreter}: {error}") from error
    if result.returncode != 0:
        last_line = (result.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise UsageError(
            f"the Python interpreter {interpreter} failed (exit status {result.returncode}): {last_line}"
        )
    try:
        answer = json.loads(result.stdout.decode("utf-8", "replace"))
        prefix = str(answer["prefix"])
        version = str(answer["version"])
        markers = {str(key): str(value) for key, value in dict(answer["marker_environment"]).items()}
        site_dirs = [str(path) for path in answer["site_packages"] if path]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{interpreter} did not answer like a Python interpreter") from error

    site_packages: list[str] = []
    seen: set[str] = set()
    for path in site_dirs:
        real = os.path.realpath(path)
        if real not in seen and os.path.isdir(path):
            seen.add(real)
            site_packages.append(path)
    return PythonEnvironment(
        interpreter=interpreter,
        prefix=prefix,
        version=version,
        site_packages=tuple(site_packages),
        marker_environment=markers,
        how_found=how_found,
    )


def _explicit_interpreter(explicit: str) -> str:
    path = Path(explicit).expanduser()
    expected = f"--env {explicit}: expected a virtualenv folder (with bin/python) or a Python executable"
    if path.is_dir():
        interpreter = _venv_interpreter(path)
        if interpreter is None:
            raise UsageError(expected)
        return interpreter
    if path.is_file() and os.access(path, os.X_OK):
        return os.path.abspath(path)  # not resolved: a venv's python is a symlink to the base one
    raise UsageError(expected)


def _venv_interpreter(folder: Path) -> str | None:
    for relative in ("bin/python", "bin/python3", "Scripts/python.exe"):
        candidate = folder / relative
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def _same_path(path: Path, other: str) -> bool:
    try:
        return path.resolve() == Path(other).resolve()
    except OSError:
        return False
