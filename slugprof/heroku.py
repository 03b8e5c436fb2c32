"""The platform's numbers, each with the section of the project's Heroku notes (heroku-facts) it comes from.

One place for them: the pipelines, the settings' defaults and the command line's help all read them
here. The module stays light (standard library only) because `--help` imports it.
A number the notes mark unverified is not a rule here but the default of a setting in `config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

MB = 1000**2  # Heroku quotes slug sizes in decimal megabytes ("max is 1000M", heroku-facts 9.1)
MIB = 1024**2  # and dyno memory in binary ones (its "GB" is GiB, heroku-facts 4.1)
GIB = 1024**3
GB = 1000**3

# --- Boot and shutdown --------------------------------------------------------------------------------

# "R10 - Boot timeout errors occur when a web process took longer than 60 seconds to bind to its
# assigned $PORT" (heroku-facts 5; 90 s only for the Java and Gradle buildpacks).
R10_BOOT_TIMEOUT_SECONDS = 60.0
# A stopped dyno gets SIGTERM, then SIGKILL 30 s later: Heroku's gunicorn config keeps its graceful
# timeout "under the 30 s dyno shutdown timeout" (heroku-facts 5).
SHUTDOWN_TIMEOUT_SECONDS = 30.0

# --- Slug size ----------------------------------------------------------------------------------------

# 500 MB compressed was the limit from 2016 until March 2026 and remains the budget many teams build
# against (heroku-facts 1.1, 9.1): the default of the slug-limit setting.
SLUG_BUDGET_BYTES = 500 * MB
# "Your slug size (367 MB) exceeds our soft limit (300 MB) which may affect boot time" (heroku-facts 1.1):
# the default of the soft-limit setting.
SOFT_LIMIT_BYTES = 300 * MB
# What builds reject today: "Compiled slug size: 3.1G is too large (max is 1000M)" (heroku-facts 9.1).
SLUG_HARD_LIMIT_BYTES = 1000 * MB

# --- Python versions (classic buildpack v351) ----------------------------------------------------------

# The latest patch release of each supported minor: the buildpack's version aliases since v353
# (2026-10-01, its CHANGELOG; heroku-facts 3.3 and 9.5 give v351's, one patch older each). A pinned
# patch newer than these is not on the buildpack's download store until a later release adds it.
LATEST_PYTHON_PATCH: Mapping[str, str] = {
    "3.10": "3.10.22",
    "3.11": "3.11.17",
    "3.12": "3.12.15",
    "3.13": "3.13.16",
    "3.14": "3.14.8",
}
# PyTorch's index of CPU-only builds (`torch==X+cpu`): the fix public reports use for CUDA wheels in a slug
# (heroku-facts 7, item 2: `--extra-index-url https://download.pytorch.org/whl/cpu`). A setting.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The buildpack release those versions come from, said in the findings that rely on them.
BUILDPACK_RELEASE = "v353 (2026-10-01)"
SUPPORTED_PYTHON_MINORS: tuple[str, ...] = tuple(LATEST_PYTHON_PATCH)
# The buildpack's default when the app names no version: the latest 3.14 (heroku-facts 3.3, 9.5).
DEFAULT_PYTHON = "3.14"
# 3.10 is deprecated: support is "removed from this buildpack on 6th January 2027" (heroku-facts 3.3, 9.5).
PYTHON_REMOVAL_DATES: Mapping[str, date] = {"3.10": date(2027, 1, 6)}
# setuptools is installed alongside pip only for Python 3.10-3.12 (heroku-facts 3.4).
PYTHONS_WITH_SETUPTOOLS: tuple[str, ...] = ("3.10", "3.11", "3.12")
# The package managers the buildpack selects by their file (heroku-facts 3.4).
PACKAGE_MANAGERS: tuple[str, ...] = ("pip", "uv", "poetry", "pipenv")

# --- What the buildpack looks at in the app ---------------------------------------------------------------

# bin/detect passes when any of these is at the app root (heroku-facts 3.10, and the known-file list
# of the buildpack's detection, requirements misspellings included); folders end with "/".
DETECTION_FILES: tuple[str, ...] = (
    ".python-version",
    "__init__.py",
    "app.py",
    "main.py",
    "manage.py",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "pyproject.toml",
    "requirements.txt",
    "runtime.txt",
    "server.py",
    "setup.cfg",
    "setup.py",
    "uv.lock",
    "requeriments.txt",
    "requirement.txt",
    "requirements",
    "requirements.text",
    "Requirements.txt",
    "requirements.txt.txt",
    "requirments.txt",
    "__pycache__/",
    ".venv/",
    "venv/",
)
# Names the buildpack refuses as misspellings of .python-version (lib/python_version.sh, since v320 and
# extended in v339), even beside a correct .python-version; not checked when runtime.txt exists.
MISSPELLED_VERSION_FILES: tuple[str, ...] = (
    " .python-version",
    ". python-version",
    ".python_version.txt",
    ".python_version",
    ".python-version ",
    ",python-version",
    ".python-version.",
    ".python-version.py",
    ".python-version.rtf",
    ".python-version.txt",
    ".python-version.TXT",
    ".Python-version",
    ".python.version",
    ".pythonversion",
    "'.python-version'",
    "python_version.txt",
    "python_version",
    "python-version.",
    "python-version.txt",
    "python-version",
)
# Folders the buildpack refuses when committed with a pyvenv.cfg, and its own install folder
# (lib/checks.sh; heroku-facts 3.1).
VIRTUALENV_FOLDERS: tuple[str, ...] = (".venv", "venv")
BUILDPACK_PYTHON_FOLDER = ".heroku/python"
# Build hooks run by the buildpack, from the app root (lib/hooks.sh; heroku-facts 3.9).
BUILD_HOOKS: tuple[str, ...] = ("bin/pre_compile", "bin/post_compile")
# collectstatic runs for the shallowest manage.py `find . -maxdepth 3` finds (the root, a/ or a/b/),
# unless DISABLE_COLLECTSTATIC is set or this deprecated file is committed (heroku-facts 3.7).
MANAGE_PY_MAX_DEPTH = 3
COLLECTSTATIC_DISABLED_FILE = ".heroku/collectstatic_disabled"
# The corpora the buildpack downloads into the slug when nltk is installed (heroku-facts 3.8).
NLTK_TXT = "nltk.txt"

# Packages whose source distributions need system libraries at build time that the stack's image lacks:
# pip builds an sdist on the dyno's build, so without a wheel for the dyno the install fails. The
# buildpack recognises these failures and prints its own hints: "Package installation failed since the
# GDAL library wasn't found" (install the geo buildpack first), and for pysqlite3 "the SQLite headers
# weren't found" (the buildpack stopped installing them in v296) (bin/warnings; spec/hatchet/pip_spec.rb;
# heroku-facts 3.4: pip installs from requirements.txt on the build's machine).
# (canonical name, versions concerned as a PEP 440 specifier, "" for all, what the build needs)
SDIST_SYSTEM_LIBRARIES: tuple[tuple[str, str, str], ...] = (
    ("gdal", "", "GDAL"),
    ("pygdal", "", "GDAL"),
    ("fiona", "", "GDAL"),
    ("rasterio", "", "GDAL"),
    ("shapely", "<2", "GEOS"),
    ("pyproj", "", "PROJ"),
    ("cartopy", "", "GEOS and PROJ"),
    ("basemap", "", "GEOS and PROJ"),
    ("pysqlite3", "<0.6", "SQLite headers"),
)
# What provides GDAL, GEOS and PROJ to the build: Heroku's geo buildpack, added before the Python one.
GEO_LIBRARIES: frozenset[str] = frozenset({"GDAL", "GEOS", "PROJ", "GEOS and PROJ"})
GEO_BUILDPACK_URL = "https://github.com/heroku/heroku-geo-buildpack.git"

# --- Stacks -------------------------------------------------------------------------------------------

# The stacks the buildpack accepts (heroku-facts 3.2); Heroku-24 is the default stack (heroku-facts 3.5).
STACKS: tuple[str, ...] = ("heroku-22", "heroku-24", "heroku-26")
DEFAULT_STACK = "heroku-24"
# Ubuntu 22.04 and 24.04 (heroku-facts 3.5).
STACK_GLIBC: Mapping[str, str] = {"heroku-22": "2.35", "heroku-24": "2.39"}
# Heroku-26's glibc is unverified (heroku-facts 3.5, 8), so it is the heroku-26-glibc setting and this is
# only its default: Heroku-24's, the safe choice, since every wheel that installs there installs on a
# newer glibc.
HEROKU_26_GLIBC_DEFAULT = "2.39"
ARCHES: tuple[str, ...] = ("amd64", "arm64")
# Cedar's dynos are amd64; arm64 is Fir's (Graviton, heroku-facts 9.4) and unverified on Cedar (3.5).
DEFAULT_ARCH = "amd64"
# Runtime archives exist for heroku-22 on amd64 only, heroku-24/26 on amd64 and arm64 (heroku-facts 3.2).
STACK_ARCHES: Mapping[str, tuple[str, ...]] = {
    "heroku-22": ("amd64",),
    "heroku-24": ("amd64", "arm64"),
    "heroku-26": ("amd64", "arm64"),
}

# Where the buildpack downloads its Python runtime: `python-{version}-ubuntu-{NN}.04-{arch}.tar.zst` under
# this base (lib/python.sh's S3_BASE_URL, heroku-facts 3.2). The default of the python-runtime-url setting.
PYTHON_RUNTIME_URL = "https://heroku-buildpack-python.s3.dualstack.us-east-1.amazonaws.com"


def python_runtime_archive(version: str, stack: str, arch: str) -> str:
    """The name of the buildpack's runtime archive for a full Python version on a stack and architecture:
    `python-3.13.5-ubuntu-24.04-amd64.tar.zst` (heroku-facts 3.2: the stack's number is Ubuntu's)."""
    return f"python-{version}-ubuntu-{stack.removeprefix('heroku-')}.04-{arch}.tar.zst"


# --- Dynos --------------------------------------------------------------------------------------------


def web_concurrency_for(memory_mib: int, cores: int) -> int:
    """The classic buildpack's WEB_CONCURRENCY: 256 MiB per process, at most 2 per core + 1, at least 1
    (`vendor/WEB_CONCURRENCY.sh`, heroku-facts 4.4)."""
    return min(cores * 2 + 1, max(1, memory_mib // 256))


# The platform generations: Cedar (the classic buildpacks, the slug) and Fir (Cloud Native Buildpacks, an
# OCI image; heroku-facts 6, 9.4). Cedar stays the default.
GENERATIONS: tuple[str, ...] = ("cedar", "fir")
DEFAULT_GENERATION = "cedar"
# gunicorn's worker count when WEB_CONCURRENCY is not set: `Workers.default =
# int(os.environ.get("WEB_CONCURRENCY", 1))` (heroku-facts 9.4). Fir sets none (heroku-facts 3.11, 4.4).
GUNICORN_DEFAULT_WORKERS = 1
# The one process type Heroku routes HTTP to, and judges on binding $PORT within 60 s (heroku-facts 5).
WEB_PROCESS = "web"
# What "gb" in a Fir size's name may mean; whether it is GiB, as Cedar's "GB" is, is unverified
# (heroku-facts 9.4), so it is the fir-memory-unit setting and GiB only its default.
FIR_MEMORY_UNITS: Mapping[str, int] = {"GiB": GIB, "GB": GB}
DEFAULT_FIR_MEMORY_UNIT = "GiB"
# Fir dynos run on arm64 (Graviton): `manylinux_*_aarch64` wheels (heroku-facts 9.4).
FIR_ARCH = "arm64"
# A Fir build is an OCI image whose layers the image tooling compresses with gzip level 1 by default; no
# image size limit is documented (heroku-facts 6, 9.4).
IMAGE_GZIP_LEVEL = 1


@dataclass(frozen=True)
class DynoPlan:
    """One dyno size as the platform defines it."""

    name: str
    # Cedar: the cgroup limit observed on the dyno (heroku-facts 4.1). Fir: the name's "gb" figure x 1024,
    # its size in MiB when "gb" is GiB; `memory_bytes` reads it in the unit of the fir-memory-unit setting.
    memory_mib: int
    r15_multiplier: float  # R15 restarts the dyno at quota x this (heroku-facts 4.2)
    # Cedar: `nproc` there, which the WEB_CONCURRENCY formula reads (heroku-facts 4.1); Fir: the name's.
    cores: int
    generation: str = "cedar"

    @property
    def web_concurrency(self) -> int | None:
        """What the platform sets WEB_CONCURRENCY to: the classic buildpack's formula on Cedar, nothing on
        Fir (heroku-facts 4.4)."""
        if self.generation == "fir":
            return None
        return web_concurrency_for(self.memory_mib, self.cores)

    def memory_bytes(self, fir_unit_bytes: int = GIB) -> int:
        """The quota in bytes; a Fir size's "gb" read as `fir_unit_bytes` (GiB or GB)."""
        if self.generation == "fir":
            return self.memory_mib * fir_unit_bytes // 1024
        return self.memory_mib * MIB


# The 17 Fir sizes, as heroku/cli lists them (heroku-facts 9.4): cores and memory are in the name.
FIR_DYNO_NAMES: tuple[str, ...] = (
    "dyno-1c-0.5gb",
    "dyno-2c-1gb",
    "dyno-1c-4gb",
    "dyno-2c-8gb",
    "dyno-4c-16gb",
    "dyno-8c-32gb",
    "dyno-16c-64gb",
    "dyno-2c-4gb",
    "dyno-4c-8gb",
    "dyno-8c-16gb",
    "dyno-16c-32gb",
    "dyno-32c-64gb",
    "dyno-1c-8gb",
    "dyno-2c-16gb",
    "dyno-4c-32gb",
    "dyno-8c-64gb",
    "dyno-16c-128gb",
)
_FIR_NAME = re.compile(r"^dyno-(?P<cores>\d+)c-(?P<gb>\d+(?:\.\d+)?)gb$")


def fir_plan(name: str) -> DynoPlan:
    """A Fir size from its name: its cores, its memory, and a restart at 100% of the quota, with no R14
    grace (heroku-facts 4.2, 9.4)."""
    match = _FIR_NAME.match(name)
    if match is None:
        raise ValueError(f"not a Fir dyno size: {name!r}")
    return DynoPlan(
        name, round(float(match.group("gb")) * 1024), 1.0, int(match.group("cores")), generation="fir"
    )


# Memory and nproc: heroku-facts 4.1 (eco and basic behave as standard-1x). R15: 2x up to
# performance-l, 1.2x above, the quota itself on Private and Shield dynos (heroku-facts 4.2).
# Private-S / Shield-S have no published nproc; any value >= 2 gives the published WEB_CONCURRENCY 4.
_PERFORMANCE = (
    ("m", 2560, 2.0, 2),
    ("l", 14336, 2.0, 8),
    ("l-ram", 30720, 1.2, 4),
    ("xl", 63488, 1.2, 8),
    ("2xl", 129024, 1.2, 16),
)

DYNO_PLANS: tuple[DynoPlan, ...] = (
    DynoPlan("eco", 512, 2.0, 8),
    DynoPlan("basic", 512, 2.0, 8),
    DynoPlan("standard-1x", 512, 2.0, 8),
    DynoPlan("standard-2x", 1024, 2.0, 8),
    *(DynoPlan(f"performance-{suffix}", mib, r15, cores) for suffix, mib, r15, cores in _PERFORMANCE),
    *(
        DynoPlan(f"{space}-{suffix}", mib, 1.0, cores)
        for space in ("private", "shield")
        for suffix, mib, _, cores in (("s", 1024, 1.0, 2), *_PERFORMANCE)
    ),
    *(fir_plan(name) for name in FIR_DYNO_NAMES),
)

# The --dyno default: 512 MiB, as eco, basic and one-off dynos (heroku-facts 4.1), where the buildpack's
# formula gives 2 workers (heroku-facts 4.4).
DEFAULT_DYNO = "standard-1x"
# Fir's smallest size, its counterpart (heroku-facts 4.1): the --dyno default with --generation fir.
DEFAULT_FIR_DYNO = "dyno-1c-0.5gb"
DEFAULT_DYNOS: Mapping[str, str] = {"cedar": DEFAULT_DYNO, "fir": DEFAULT_FIR_DYNO}
