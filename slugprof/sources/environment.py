"""Find the Python environment the app's dependencies are installed in, and ask its interpreter about it.

The interpreter is started once per command: the questions other stages have for it (memray's: which
of its dependencies are installed there, whether it imports) are asked in the same run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from slugprof.errors import ToolFailure, UsageError
from slugprof.processes import run_command

# Folders inside the app that hold a virtualenv, in the order they are tried.
APP_VENV_FOLDERS = (".venv", "venv", "env")
QUERY_TIMEOUT_SECONDS = 60.0  # an interpreter's start, and the imports asked for, on a slow disk
_ENVIRONMENT_LINE = "slugprof-environment: "
_IMPORTS_LINE = "slugprof-imports: "

# Run by the target interpreter with the questions as JSON in argv[1]. Standard library only, no
# f-strings: the target may be old and may not have `packaging`. The marker environment mirrors
# packaging.markers.default_environment(). Each answer is one tagged line, so that whatever a
# sitecustomize or an imported module prints is ignored. The environment is printed before anything is
# imported: a module that kills the interpreter as it loads costs only the answer about imports.
QUERY_SCRIPT = r"""
import importlib, json, os, platform, sys, sysconfig

def full_version(info):
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version

questions = json.loads(sys.argv[1])
metadata = None
if questions["distributions"]:
    # Only when asked: importing importlib.metadata is half of this script's time.
    try:
        from importlib import metadata
    except ImportError:
        pass
distributions = {}
for name in questions["distributions"]:
    try:
        distributions[name] = metadata.version(name)
    except Exception:
        pass
paths = sysconfig.get_paths()
print("ENVIRONMENT_LINE" + json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "version": platform.python_version(),
    "site_packages": [paths.get("purelib"), paths.get("platlib")],
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
    "distributions": distributions,
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
sys.stdout.flush()
modules = {}
for name in questions["modules"]:
    try:
        version = getattr(importlib.import_module(name), "__version__", None)
        modules[name] = {"version": version if isinstance(version, str) else None, "error": None}
    except Exception as error:
        modules[name] = {"version": None, "error": "%s: %s" % (type(error).__name__, error)}
print("IMPORTS_LINE" + json.dumps(modules))
""".replace("ENVIRONMENT_LINE", _ENVIRONMENT_LINE).replace("IMPORTS_LINE", _IMPORTS_LINE)


@dataclass(frozen=True)
class InterpreterQuestions:
    """What else to ask the interpreter in the run that describes its environment."""

    distributions: tuple[str, ...] = ()  # the versions of these distributions, where installed
    modules: tuple[str, ...] = ()  # whether these modules import, and their __version__


@dataclass(frozen=True)
class ModuleImport:
    version: str | None  # the module's __version__ when it imports and has one
    error: str | None  # "ImportError: ..." when it does not import; None when it does


@dataclass(frozen=True)
class PythonEnvironment:
    interpreter: str  # absolute path of the python executable (symlinks kept: a venv's python is one)
    prefix: str  # sys.prefix of that interpreter
    version: str  # "3.12.4"
    site_packages: tuple[str, ...]  # purelib/platlib (deduplicated, existing)
    marker_environment: dict[str, str]  # packaging.markers default_environment() of THAT interpreter
    how_found: str  # "--env", ".venv in the app", "$VIRTUAL_ENV"
    ext_suffix: str = ""  # ".cpython-311-x86_64-linux-gnu.so": ABI, architecture and libc in one string
    # The answers to InterpreterQuestions: canonical name -> version of those installed; every module.
    distributions: Mapping[str, str] = field(default_factory=dict)
    modules: Mapping[str, ModuleImport] = field(default_factory=dict)


def find_environment(
    app_root: Path,
    explicit: str | None,
    environ: Mapping[str, str],
    questions: InterpreterQuestions = InterpreterQuestions(),
) -> PythonEnvironment | None:
    """The environment to measure: `--env`, else a venv inside the app, else $VIRTUAL_ENV, else None.

    An environment found automatically is skipped when it is the one slugprof itself runs in: its
    packages are slugprof's, not the app's. Its interpreter answers `questions` too.
    """
    if explicit is not None:
        return query_environment(_explicit_interpreter(explicit), "--env", questions)

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
        environment = query_environment(interpreter, how_found, questions)
        if _same_path(Path(environment.prefix), sys.prefix):
            continue
        return environment
    return None


def query_environment(
    interpreter: str,
    how_found: str,
    questions: InterpreterQuestions = InterpreterQuestions(),
) -> PythonEnvironment:
    """Run `interpreter` once: its environment and the answers to `questions`. A UsageError when it does
    not answer."""
    asked = json.dumps({"distributions": list(questions.distributions), "modules": list(questions.modules)})
    try:
        # -I: ignore PYTHONPATH, PYTHONHOME and the user site of whoever runs slugprof.
        result = run_command([interpreter, "-I", "-c", QUERY_SCRIPT, asked], timeout=QUERY_TIMEOUT_SECONDS)
    except ToolFailure as error:
        raise UsageError(f"cannot run the Python interpreter {interpreter}: {error}") from error
    stdout = result.stdout.decode("utf-8", "replace")
    failure = _last_line(result.stderr) if result.returncode != 0 else ""
    answer = _tagged(stdout, _ENVIRONMENT_LINE)
    if answer is None and result.returncode != 0:
        raise UsageError(
            f"the Python interpreter {interpreter} failed (exit status {result.returncode}): {failure}"
        )
    try:
        data = json.loads(answer or "")
        prefix = str(data["prefix"])
        version = str(data["version"])
        markers = {str(key): str(value) for key, value in dict(data["marker_environment"]).items()}
        site_dirs = [str(path) for path in data["site_packages"] if path]
        ext_suffix = str(data["ext_suffix"])
        distributions: dict[str, str] = {
            canonicalize_name(str(k)): str(v) for k, v in dict(data["distributions"]).items()
        }
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
        ext_suffix=ext_suffix,
        distributions=distributions,
        modules=_module_answers(questions.modules, _tagged(stdout, _IMPORTS_LINE), failure),
    )


def _module_answers(asked: tuple[str, ...], answer: str | None, failure: str) -> dict[str, ModuleImport]:
    """Each asked module's answer; when the interpreter died importing them, that for all of them."""
    try:
        data = json.loads(answer) if answer is not None else {}
        found = {
            str(name): ModuleImport(
                None if item["version"] is None else str(item["version"]),
                None if item["error"] is None else str(item["error"]),
            )
            for name, item in dict(data).items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        found = {}
    stopped = ModuleImport(None, f"importing it stopped the interpreter ({failure or 'no answer'})")
    return {name: found.get(name, stopped) for name in asked}


def _tagged(stdout: str, tag: str) -> str | None:
    """The text after `tag` on the last line that starts with it."""
    lines = [line for line in stdout.splitlines() if line.startswith(tag)]
    return lines[-1][len(tag) :] if lines else None


def _last_line(stderr: bytes) -> str:
    return (stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]


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
