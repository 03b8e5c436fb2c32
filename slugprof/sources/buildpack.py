"""What Heroku's classic Python buildpack decides from the app's files, and what it adds to the slug.

Rules follow the buildpack's own scripts (python version precedence, package manager selection,
tools kept in the slug); sizes that cannot be measured offline come from `Settings`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from slugprof.config import Settings
from slugprof.heroku import PYTHONS_WITH_SETUPTOOLS, SUPPORTED_PYTHON_MINORS
from slugprof.model import BuildpackPart, PythonVersionChoice

# File -> package manager, as the buildpack selects it; exactly one must be present.
_MANAGER_FILES = (
    ("requirements.txt", "pip"),
    ("Pipfile.lock", "pipenv"),
    ("poetry.lock", "poetry"),
    ("uv.lock", "uv"),
)

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class PackageManagerChoice:
    name: str  # "pip", "pipenv", "poetry", "uv", or "none"
    file: str | None
    build_errors: tuple[str, ...] = ()


def choose_package_manager(app_root: Path) -> PackageManagerChoice:
    present = [(file, manager) for file, manager in _MANAGER_FILES if (app_root / file).is_file()]
    errors: list[str] = []
    if (app_root / "Pipfile").is_file() and not (app_root / "Pipfile.lock").is_file():
        errors.append(
            "a Pipfile without Pipfile.lock fails the Heroku build: run `pipenv lock` and commit it"
        )
    if len(present) > 1:
        names = ", ".join(file for file, _ in present)
        errors.append(f"several package manager files ({names}) fail the Heroku build: keep exactly one")
    if not present:
        if not errors:
            errors.append(
                "no requirements.txt, Pipfile.lock, poetry.lock or uv.lock: the Python buildpack "
                "will not know what to install"
            )
        return PackageManagerChoice("none", None, tuple(errors))
    file, manager = present[0]
    return PackageManagerChoice(manager, file, tuple(errors))


def choose_python_version(app_root: Path, settings: Settings) -> PythonVersionChoice:
    """The buildpack's precedence: runtime.txt, .python-version, Pipfile.lock, then its default."""
    notes: list[str] = []
    runtime_txt = app_root / "runtime.txt"
    if runtime_txt.is_file():
        text = _read_text(runtime_txt).strip()
        version = text.removeprefix("python-")
        notes.append("runtime.txt is deprecated by the buildpack: use .python-version instead")
        if _is_supported(version):
            return PythonVersionChoice(version, "runtime.txt", tuple(notes))
        notes.append(f"runtime.txt asks for {text!r}, which the buildpack rejects: the build would fail")
    python_version_file = app_root / ".python-version"
    if python_version_file.is_file():
        lines = [line.split("#", 1)[0].strip() for line in _read_text(python_version_file).splitlines()]
        versions = [line for line in lines if line]
        if len(versions) == 1 and _is_supported(versions[0]):
            return PythonVersionChoice(versions[0], ".python-version", tuple(notes))
        notes.append(
            f".python-version holds {', '.join(versions) or 'no version'}: the buildpack needs exactly one "
            f"supported version ({', '.join(SUPPORTED_PYTHON_MINORS)}); the build would fail"
        )
    pipfile_lock = app_root / "Pipfile.lock"
    if pipfile_lock.is_file():
        locked = _pipfile_lock_python(pipfile_lock)
        if locked and _is_supported(locked):
            return PythonVersionChoice(locked, "Pipfile.lock", tuple(notes))
    return PythonVersionChoice(settings.default_python, "buildpack default", tuple(notes))


def buildpack_parts(
    python: PythonVersionChoice, manager: PackageManagerChoice, settings: Settings
) -> tuple[BuildpackPart, ...]:
    """The runtime and tools the buildpack leaves in the slug, sized from settings."""
    # (name, description, size, compressed size, where the figure comes from)
    sized: list[tuple[str, str, int, int, str]] = [
        (
            "python",
            f"Python {python.version} runtime (.heroku/python)",
            settings.python_runtime_size,
            settings.python_runtime_compressed_size,
            "setting python-runtime-size (derived from a stripped CPython standard library)",
        )
    ]
    if manager.name == "pip":
        sized.append(
            (
                "pip",
                "pip, installed by the buildpack and kept in site-packages",
                settings.pip_size,
                settings.pip_compressed_size,
                "setting pip-size (measured: pip 26.2.1 with bytecode)",
            )
        )
        if python.minor in PYTHONS_WITH_SETUPTOOLS:
            sized.append(
                (
                    "setuptools",
                    "setuptools, installed with pip for Python 3.10-3.12",
                    settings.setuptools_size,
                    settings.setuptools_compressed_size,
                    "setting setuptools-size (measured: setuptools 70.3.0 with bytecode)",
                )
            )
    elif manager.name == "pipenv":
        sized.append(
            (
                "pipenv",
                "Pipenv's virtualenv, kept in the slug by the buildpack",
                settings.pipenv_size,
                settings.pipenv_compressed_size,
                "setting pipenv-size (measured: pipenv 2026.7.1 and its dependencies)",
            )
        )
    parts = [
        BuildpackPart(
            name=name,
            description=description,
            bytes=size,
            compressed_bytes=compressed,
            measured=False,
            source=source,
        )
        for name, description, size, compressed, source in sized
    ]
    parts.append(
        BuildpackPart(
            name="profile.d",
            description=".profile.d scripts (python.sh, WEB_CONCURRENCY.sh, python.gunicorn.sh)",
            bytes=sum(len(script) for script in PROFILE_D_SCRIPTS.values()),
            measured=False,
            source="approximation of the buildpack's scripts",
        )
    )
    return tuple(parts)


# Stand-ins of the same order of size as the buildpack's .profile.d scripts: a few kB that the
# compressor reads like any other member, so their (tiny) share is counted, not guessed.
PROFILE_D_SCRIPTS: dict[str, bytes] = {
    ".profile.d/python.sh": (
        b'export PATH="$HOME/.heroku/python/bin:$PATH"\nexport PYTHONUNBUFFERED="true"\n'
        b'export PYTHONHOME="$HOME/.heroku/python"\nexport LIBRARY_PATH="$HOME/.heroku/python/lib'
        b':$LIBRARY_PATH"\nexport LD_LIBRARY_PATH="$HOME/.heroku/python/lib:$LD_LIBRARY_PATH"\n'
        b'export LANG="${LANG:-en_US.UTF-8}"\nexport PYTHONPATH="${PYTHONPATH:-$HOME}"\n'
    )
    * 4,
    ".profile.d/WEB_CONCURRENCY.sh": (
        b"available_memory_in_mb=$(( $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) / 1048576 ))\n"
        b"cpu_cores=$(nproc)\nmax_concurrency_for_available_memory=$(( available_memory_in_mb / 256 ))\n"
        b"max_concurrency_for_cpu_cores=$(( cpu_cores * 2 + 1 ))\n"
    )
    * 8,
    ".profile.d/python.gunicorn.sh": (
        b"export FORWARDED_ALLOW_IPS='*'\n"
        b'export GUNICORN_CMD_ARGS=${GUNICORN_CMD_ARGS:-"--access-logfile -"}\n'
    ),
}


def _is_supported(version: str) -> bool:
    match = _VERSION.match(version)
    return bool(match) and f"{match.group(1)}.{match.group(2)}" in SUPPORTED_PYTHON_MINORS  # type: ignore[union-attr]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _pipfile_lock_python(path: Path) -> str | None:
    try:
        document = json.loads(_read_text(path))
    except json.JSONDecodeError:
        return None
    requires = document.get("_meta", {}).get("requires", {}) if isinstance(document, dict) else {}
    if not isinstance(requires, dict):
        return None
    version = requires.get("python_full_version") or requires.get("python_version")
    return str(version) if version else None
