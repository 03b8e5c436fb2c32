"""A Resolution from resolved rows: each package's file, its parents, and who requested it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from slugprof.model import Resolution, ResolvedFile, ResolvedPackage, Target
from slugprof.net import local_path


@dataclass
class Via:
    """Why a package is in the resolution: the packages and the files that ask for it."""

    packages: set[str] = dataclasses.field(default_factory=set)  # canonical names of its parents
    files: set[str] = dataclasses.field(default_factory=set)  # requirements files naming it (-r ...)


def assemble(
    target: Target,
    resolver: str,
    manager_files: tuple[str, ...],
    packages: Iterable[tuple[str, str, ResolvedFile | None, Via]],
    notes: list[str],
) -> Resolution:
    """The Resolution of (name, version, file, via) rows: edges both ways, top-level packages marked."""
    rows = list(packages)
    names = {name for name, *_ in rows}
    children: dict[str, set[str]] = {name: set() for name in names}
    for name, _, _, via in rows:
        for parent in via.packages & names:
            children[parent].add(name)
    resolved = []
    top_level = []
    for name, version, file, via in rows:
        if file is not None and file.size is None and file.url.startswith("file:"):
            file = dataclasses.replace(file, size=_local_size(file.url))
        is_top = bool(via.files)
        if is_top:
            top_level.append(name)
        resolved.append(
            ResolvedPackage(
                name=name,
                version=version,
                file=file,
                requires=tuple(sorted(children[name])),
                top_level=is_top,
                requested_by=tuple(sorted(via.packages & names)) + tuple(sorted(via.files)),
            )
        )
    return Resolution(
        target=target,
        resolver=resolver,
        manager_files=manager_files,
        top_level=tuple(sorted(top_level)),
        packages=tuple(resolved),
        notes=tuple(notes),
    )


def _local_size(url: str) -> int | None:
    """The size of a file:// URL's file (a wheel in the app or a -f folder on this machine)."""
    path = local_path(url)
    try:
        return path.stat().st_size if path is not None else None
    except OSError:
        return None
