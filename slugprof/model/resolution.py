"""Dependencies resolved for the dyno's platform: the target, what the resolver chose, what it weighs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


@dataclass(frozen=True)
class Target:
    """The dyno the dependencies are installed on."""

    stack: str  # "heroku-22", "heroku-24", "heroku-26"
    arch: Literal["amd64", "arm64"]
    python: str  # the version the buildpack installs, "3.13" or "3.13.2"
    glibc: str  # the stack's glibc, e.g. "2.39": it caps the manylinux tags that install
    manager: str  # "pip", "uv", "poetry", "pipenv"

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    @property
    def machine(self) -> str:
        return "x86_64" if self.arch == "amd64" else "aarch64"


@dataclass(frozen=True)
class ResolvedFile:
    """The artifact the buildpack would download and install for one package."""

    filename: str
    url: str
    kind: Literal["wheel", "sdist"]
    size: int | None = None  # bytes of the download, when the index or the lock file says
    sha256: str | None = None
    editable: bool = False  # a VCS checkout pip installs in editable mode: the checkout is in the slug


@dataclass(frozen=True)
class ResolvedPackage:
    name: str  # canonical name
    version: str
    file: ResolvedFile | None  # None: no installable artifact (reported in notes)
    requires: tuple[str, ...] = ()  # canonical names of its dependencies within the resolution
    top_level: bool = False
    requested_by: tuple[str, ...] = ()  # parents' canonical names, or the manager file for top-level


@dataclass(frozen=True)
class Resolution:
    target: Target
    resolver: str  # e.g. "uv 0.13.8", "pip 25.0", "uv.lock"
    manager_files: tuple[str, ...]  # files read, relative to the app root
    top_level: tuple[str, ...]  # canonical names of the top-level requirements
    packages: tuple[ResolvedPackage, ...]
    notes: tuple[str, ...] = ()
    from_cache: bool = False


class SizeMethod(str, Enum):
    """How a package's size was found, best first."""

    INSTALLED_FILES = "installed files"  # stat of the files of an installed distribution
    WHEEL_CENTRAL_DIRECTORY = "wheel central directory"  # the wheel's member list, by range requests
    DOWNLOADED_WHEEL = "downloaded wheel"
    # a small wheel read whole, its files laid out as installed, compiled and compressed: measured
    INSTALLED_WHEEL = "installed wheel"
    BUILT_SDIST = "built sdist"
    CHECKOUT_FILES = "checkout files"  # an editable VCS install: the files of the commit pip clones
    ESTIMATED_FROM_SDIST = "estimated from sdist"  # an unbuilt sdist: a ratio of its size
    ESTIMATED_FROM_WHEEL_SIZE = "estimated from wheel size"  # offline: the wheel's size, not its members
    NOT_MEASURED = "not measured"

    @property
    def measured(self) -> bool:
        """True when the size comes from the package's own files or member list, not a ratio."""
        return self in (
            SizeMethod.INSTALLED_FILES,
            SizeMethod.WHEEL_CENTRAL_DIRECTORY,
            SizeMethod.DOWNLOADED_WHEEL,
            SizeMethod.INSTALLED_WHEEL,
            SizeMethod.BUILT_SDIST,
            SizeMethod.CHECKOUT_FILES,
        )


@dataclass(frozen=True)
class SizedPackage:
    """What one resolved package will weigh in the slug once installed (with its bytecode)."""

    name: str
    version: str
    installed_bytes: int  # the wheel's files as installed, plus the .pyc the buildpack compiles
    pyc_bytes: int  # the part of installed_bytes that is predicted bytecode
    compressed_bytes: int  # its predicted share of the gzip -6 slug
    file_count: int
    method: SizeMethod
    method_note: str | None = None  # why it is estimated or not measured, e.g. "offline, not in the cache"
    invalid_requires: tuple[str, ...] = ()  # Requires-Dist values of its metadata that pip refuses
    modules: tuple[str, ...] | None = None  # its top-level import names, when its wheel's members were read

    @property
    def measured(self) -> bool:
        return self.method.measured
