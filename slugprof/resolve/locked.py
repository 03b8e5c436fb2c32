"""A Resolution from a lock file's LockedSet: files the lock names, the rest looked up in the index."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slugprof.model import Resolution, ResolvedFile
from slugprof.net import Client
from slugprof.resolve.assemble import Via, assemble
from slugprof.resolve.context import Context
from slugprof.resolve.index import Found, IndexReader, find_in_indexes
from slugprof.sources.locks import LockedPackage, LockedSet
from slugprof.sources.target import describe

LOCK_READER_VERSION = "2"  # bump when sources/locks reads a lock differently: old cached resolutions go
LOOKUP_WORKERS = 8  # index pages fetched at once, each thread on its own keep-alive connection


def resolution_from_lock(context: Context, locked: LockedSet, resolver: str) -> Resolution:
    """The lock's packages, each with its file for the dyno: from the lock, else from the index
    (not offline). ToolFailure when an index cannot be read."""
    target = context.target
    notes = [f"read from {locked.lock_file} for {describe(target)}", *locked.notes]
    to_find = [p for p in locked.packages if (p.chosen is None or p.chosen.url is None) and p.direct is None]
    found: dict[str, Found] = {}
    if to_find and context.offline:
        notes.append(
            f"offline: {len(to_find)} package file(s) not looked up in the index: URLs and sizes unknown"
        )
        found = _unknown_offline(to_find)
    elif to_find:
        found = _look_up_in_indexes(context, to_find, wants_edges=not locked.edges_known)

    names = {package.name for package in locked.packages}
    rows: list[tuple[LockedPackage, ResolvedFile | None, set[str]]] = []
    for package in locked.packages:
        requires = set(package.requires)
        if package.name in found:
            file, metadata_requires, note = found[package.name]
            if metadata_requires is not None:
                requires |= set(metadata_requires) & names
        else:
            chosen = package.chosen
            file = (
                ResolvedFile(
                    filename=chosen.filename,
                    url=chosen.url or "",
                    kind=chosen.kind,
                    size=chosen.size,
                    sha256=chosen.sha256,
                    editable=chosen.editable,
                )
                if chosen is not None
                else None
            )
            note = package.note
        if note:
            notes.append(f"{package.name}: {note}")
        rows.append((package, file, requires))
    if not locked.edges_known and not any(found.get(p.name, (None, None, None))[1] for p in locked.packages):
        notes.append(f"{locked.lock_file} records no dependency edges: who requires what is unknown")
    parents = _parents(locked, rows)
    return assemble(
        target,
        resolver,
        locked.files_read,
        ((package.name, package.version, file, parents[package.name]) for package, file, _ in rows),
        notes,
    )


def _unknown_offline(to_find: list[LockedPackage]) -> dict[str, Found]:
    """Offline, a package's file is only what the lock says: no URL, no size."""
    found: dict[str, Found] = {}
    for package in to_find:
        chosen = package.chosen
        file = (
            ResolvedFile(filename=chosen.filename, url="", kind=chosen.kind, sha256=chosen.sha256)
            if chosen
            else None
        )
        found[package.name] = (file, None, None if chosen else "offline: its file is unknown")
    return found


def _look_up_in_indexes(
    context: Context, to_find: list[LockedPackage], *, wants_edges: bool
) -> dict[str, Found]:
    """Each package's file (and, when the lock has no edges, its requirements) from the index."""
    context.progress.stage("Looking up locked files in the package index", total=len(to_find))
    with Client() as client:
        indexes = IndexReader(client)

        def look_up(package: LockedPackage) -> tuple[str, Found]:
            result = find_in_indexes(context, indexes, package, wants_edges)
            context.progress.advance()
            return package.name, result

        with ThreadPoolExecutor(max_workers=LOOKUP_WORKERS) as pool:
            return dict(pool.map(look_up, to_find))


def _parents(
    locked: LockedSet, rows: list[tuple[LockedPackage, ResolvedFile | None, set[str]]]
) -> dict[str, Via]:
    """Who brought each package in: the packages that require it, and the lock file for top-level ones."""
    parents: dict[str, Via] = {package.name: Via() for package in locked.packages}
    for package, _, requires in rows:
        for child in requires:
            if child in parents and child != package.name:
                parents[child].packages.add(package.name)
    for name in locked.top_level:
        if name in parents:
            parents[name].files.add(locked.lock_file)
    return parents
