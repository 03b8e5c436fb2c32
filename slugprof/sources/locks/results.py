"""What a lock reader returns: the pinned packages the buildpack installs, and the lock file names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

UV_LOCK = "uv.lock"
POETRY_LOCK = "poetry.lock"
PIPFILE_LOCK = "Pipfile.lock"
DEFAULT_INDEX = "https://pypi.org/simple"


@dataclass(frozen=True)
class LockedFile:
    filename: str
    url: str | None  # None: the lock names the file but not where it is; look it up in the index
    kind: Literal["wheel", "sdist"]
    size: int | None = None
    sha256: str | None = None
    editable: bool = False  # a VCS checkout installed in editable mode: the checkout is in the slug


@dataclass(frozen=True)
class LockedPackage:
    """One pinned package that the buildpack installs on the target."""

    name: str  # canonical
    version: str
    files: tuple[LockedFile, ...] = ()  # every file the lock lists for this version
    chosen: LockedFile | None = None  # the file the dyno installs, when the lock says enough to choose
    hashes: tuple[str, ...] = ()  # sha256 digests the lock accepts (all Pipfile.lock gives)
    index_url: str | None = None  # the index to find the file in when `chosen` has no URL
    requires: tuple[str, ...] = ()  # canonical names of its dependencies within the set
    extras: tuple[str, ...] = ()  # extras requested of it (Pipfile.lock), for reading its metadata
    direct: str | None = None  # a VCS, URL or local source instead of an index: as the lock names it
    note: str | None = None  # why it has no installable file, or where it comes from


@dataclass(frozen=True)
class LockedSet:
    manager: str  # "uv", "poetry", "pipenv"
    lock_file: str  # relative to the app root
    files_read: tuple[str, ...]  # every file read, relative to the app root (lock, pyproject, Pipfile)
    packages: tuple[LockedPackage, ...]  # sorted by name: only what the buildpack installs on the target
    top_level: tuple[str, ...]  # canonical names the project asks for directly
    edges_known: bool  # False when the lock records no dependency edges (Pipfile.lock)
    notes: tuple[str, ...] = ()
