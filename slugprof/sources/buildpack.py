"""What Heroku's classic Python buildpack decides from the app's files, and what it adds to the slug.

Rules follow the buildpack's own scripts (python version precedence, package manager selection,
tools kept in the slug); sizes that cannot be measured offline come from `Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass

from slugprof.config import Settings
from slugprof.heroku import BUILDPACK_PYTHON_FOLDER, PYTHONS_WITH_SETUPTOOLS, VIRTUALENV_FOLDERS
from slugprof.measure.runtime import RuntimeMeasurement, RuntimeUnmeasured
from slugprof.model import BuildpackPart, PythonVersionChoice, TarGroup
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.python_version import PYTHON_VERSION_FILE, read_version_request

# File -> package manager, as the buildpack selects it; exactly one must be present.
MANAGER_FILES = (
    ("requirements.txt", "pip"),
    ("Pipfile.lock", "pipenv"),
    ("poetry.lock", "poetry"),
    ("uv.lock", "uv"),
)


@dataclass(frozen=True)
class PackageManagerChoice:
    name: str  # "pip", "pipenv", "poetry", "uv", or "none"
    file: str | None  # the file that selects it
    present: tuple[str, ...] = ()  # every manager file the buildpack sees, in its order
    pipfile_without_lock: bool = False  # a Pipfile with no Pipfile.lock beside it

    @property
    def build_fails(self) -> bool:
        """The buildpack stops here: no manager, several, or a Pipfile without its lock."""
        return self.file is None or len(self.present) > 1 or self.pipfile_without_lock


def choose_package_manager(files: BuildFiles) -> PackageManagerChoice:
    """The package manager the buildpack selects from the files it sees (lib/package_manager.sh)."""
    present = [(file, manager) for file, manager in MANAGER_FILES if files.exists(file)]
    without_lock = files.exists("Pipfile") and not files.exists("Pipfile.lock")
    names = tuple(file for file, _ in present)
    if not present:
        return PackageManagerChoice("none", None, names, without_lock)
    file, manager = present[0]
    return PackageManagerChoice(manager, file, names, without_lock)


# Project files that do not select a package manager: alone, they fail the build (heroku-facts 3.4).
PROJECT_FILES = ("setup.py", "pyproject.toml")


def lone_project_file(files: BuildFiles, manager: PackageManagerChoice) -> str | None:
    """The project file (setup.py first) the buildpack finds where it expects a package manager file:
    "Implicit setup.py file support has been sunset", or, for pyproject.toml, a lock or requirements
    file is asked for (lib/package_manager.sh). None when a manager file is there, or a Pipfile."""
    if manager.file is not None or manager.pipfile_without_lock:
        return None
    return next((name for name in PROJECT_FILES if files.exists(name)), None)


def reaches_install(files: BuildFiles, manager: PackageManagerChoice) -> bool:
    """Whether the build gets as far as installing dependencies: the buildpack first refuses a committed
    environment (lib/checks.sh), then an unusable manager choice, then a Python version it cannot
    install or, for uv, a missing .python-version (heroku-facts 3.1, 3.3, 3.4). The BUILD rules say
    which; the pipeline only needs to know whether resolving the dependencies makes sense."""
    committed_environment = any(files.exists(f"{folder}/pyvenv.cfg") for folder in VIRTUALENV_FOLDERS)
    if committed_environment or files.is_folder(BUILDPACK_PYTHON_FOLDER) or manager.build_fails:
        return False
    if manager.name == "uv" and (files.exists("runtime.txt") or not files.exists(PYTHON_VERSION_FILE)):
        return False
    return read_version_request(files, manager.name).problem is None


def choose_python_version(files: BuildFiles, settings: Settings, manager: str) -> PythonVersionChoice:
    """The version the buildpack installs: the app's request when the buildpack accepts it, else (the
    build fails, or nothing was asked) its default, so the slug can still be sized."""
    request = read_version_request(files, manager)
    if request.requested is not None and request.problem is None and request.origin is not None:
        return PythonVersionChoice(request.requested, request.origin)
    if request.origin is None:
        return PythonVersionChoice(settings.default_python, "buildpack default")
    return PythonVersionChoice(settings.default_python, f"buildpack default ({request.origin} refused)")


def runtime_part(python: PythonVersionChoice, settings: Settings, runtime: RuntimeFigures) -> BuildpackPart:
    """The Python runtime: its files measured from the buildpack's archive, or, when that could not be
    had, the python-runtime-size setting and why it was used."""
    description = f"Python {python.version} runtime (.heroku/python)"
    if isinstance(runtime, RuntimeMeasurement):
        return BuildpackPart(
            name="python",
            description=f"Python {runtime.version} runtime (.heroku/python)",
            bytes=runtime.bytes,
            measured=True,
            source=f"measured from {runtime.archive}",
            members=runtime.members(TarGroup.buildpack("python")),
        )
    why = runtime.reason if runtime is not None else "not looked for"
    return BuildpackPart(
        name="python",
        description=description,
        bytes=settings.python_runtime_size,
        compressed_bytes=settings.python_runtime_compressed_size,
        measured=False,
        source=f"the setting python-runtime-size, not measured: {why}",
    )


RuntimeFigures = RuntimeMeasurement | RuntimeUnmeasured | None


def buildpack_parts(
    python: PythonVersionChoice,
    manager: PackageManagerChoice,
    settings: Settings,
    runtime: RuntimeFigures = None,
) -> tuple[BuildpackPart, ...]:
    """The runtime (measured from its archive when it could be) and the tools the buildpack leaves in
    the slug, sized from settings."""
    # (name, description, size, compressed size, where the figure comes from)
    sized: list[tuple[str, str, int, int, str]] = []
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
    parts = [runtime_part(python, settings, runtime)]
    parts += [
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
