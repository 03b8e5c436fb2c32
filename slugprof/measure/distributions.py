"""Measure the app's dependencies where they are installed: every file of every distribution, stat-ed.

Sizes come from the files on disk, never from RECORD's size column (empty for the .pyc an installer
compiles). Which distributions count comes from the app's requirements and the dependency graph.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import stat
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import Distribution, PackageMetadata, distributions
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion

from slugprof.markers import decide
from slugprof.measure.graph import what_leaves_with
from slugprof.measure.modules import top_level_modules
from slugprof.model import DependencyInventory, DependencySource, FileStat, Package
from slugprof.progress import NoProgress, Progress
from slugprof.sources.environment import PythonEnvironment
from slugprof.sources.requirements import RequirementsFile

Extras = frozenset[str]
NO_EXTRAS: Extras = frozenset()


@dataclass
class _Installed:
    """One distribution found in the environment, with its measured files."""

    name: str
    version: str
    location: str
    metadata_path: Path
    requirements: tuple[Requirement, ...]
    provides_extras: frozenset[str]
    invalid_requires: tuple[str, ...] = ()  # Requires-Dist values packaging cannot parse
    files: list[str] = field(default_factory=list)
    stats: list[FileStat] = field(default_factory=list)  # each file's lstat, taken once
    bytes: int = 0


def measure_dependencies(
    requirements: RequirementsFile,
    environment: PythonEnvironment,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> DependencyInventory:
    """The installed closure of `requirements` (the app's requirements.txt, read by the caller with the
    environment's markers) in `environment`, every file stat-ed."""
    notes: list[str] = list(requirements.notes)

    found = _discover(environment.site_packages, notes)
    progress.stage("Measuring dependencies", total=len(found))
    owned: set[str] = set()
    installed: dict[str, _Installed] = {}
    for distribution, name in found:
        installed[name] = _measure(distribution, name, owned, notes)
        progress.advance()

    graph = _Graph(installed, environment.marker_environment)
    tops = _top_level(requirements)
    closure = graph.closure(tops)
    notes.extend(graph.notes)
    notes.extend(_version_notes(requirements, installed))
    notes.extend(_extra_notes(tops, installed))

    parents: dict[str, set[str]] = {name: set() for name in closure.extras}
    for parent, children in closure.edges.items():
        for child in children:
            parents[child].add(parent)
    files_of_top = {name: sorted(files) for name, files in _requirement_files(requirements).items()}

    leaving = what_leaves_with(tops, lambda roots: set(graph.closure({r: tops[r] for r in roots}).extras))
    packages = []
    for name in sorted(closure.extras):
        if name not in installed:
            continue
        exclusive_bytes: int | None = None
        exclusive: tuple[str, ...] = ()
        if name in tops:
            exclusive = tuple(sorted(member for member in leaving[name] if member in installed))
            exclusive_bytes = sum(installed[member].bytes for member in exclusive)
        packages.append(
            _package(
                installed[name],
                requires=sorted(child for child in closure.edges[name] if child in installed),
                requested_by=sorted(parents[name]) + files_of_top.get(name, []),
                top_level=name in tops,
                exclusive_bytes=exclusive_bytes,
                exclusive_packages=exclusive,
            )
        )

    base_parents: dict[str, set[str]] = {name: set() for name in installed}
    for parent in installed:
        for child in graph.base_children(parent):
            if child in installed:
                base_parents[child].add(parent)
    not_required = [
        _package(
            installed[name],
            requires=sorted(child for child in graph.base_children(name) if child in installed),
            requested_by=sorted(base_parents[name]),
        )
        for name in sorted(installed)
        if name not in closure.extras
    ]

    return DependencyInventory(
        source=DependencySource.ENVIRONMENT,
        environment=environment.prefix,
        interpreter=environment.interpreter,
        python_version=environment.version,
        requirements_files=requirements.files,
        requirements=tuple(tops),
        packages=tuple(packages),
        not_required=tuple(not_required),
        missing=tuple(sorted(name for name in closure.extras if name not in installed)),
        notes=tuple(notes),
    )


# --- finding and measuring distributions ---------------------------------------------------------


def _discover(site_packages: Iterable[str], notes: list[str]) -> list[tuple[Distribution, str]]:
    """Installed distributions in path order; for a name found twice the first wins, as for imports."""
    found: list[tuple[Distribution, str]] = []
    seen: dict[str, str] = {}
    for folder in site_packages:
        candidates = sorted(distributions(path=[folder]), key=lambda d: _metadata_path(d).name)
        for distribution in candidates:
            raw_name = _field(distribution, "Name")
            if not raw_name:
                notes.append(f"{_metadata_path(distribution)}: metadata without a Name; not measured")
                continue
            name = canonicalize_name(raw_name)
            if name in seen:
                notes.append(
                    f"{name} {_field(distribution, 'Version')} in {folder} is shadowed by "
                    f"{name} {seen[name]}; not measured"
                )
                continue
            seen[name] = _field(distribution, "Version")
            found.append((distribution, name))
    return found


# importlib.metadata parses METADATA again at every access (Name, Version, Requires-Dist...): parsed
# once a distribution here, which took a fifth of a warm `analyze` on a 20,000-file environment.
_PARSED: weakref.WeakKeyDictionary[Distribution, PackageMetadata | None] = weakref.WeakKeyDictionary()


def _metadata_of(distribution: Distribution) -> PackageMetadata | None:
    if distribution not in _PARSED:
        _PARSED[distribution] = distribution.metadata
    return _PARSED[distribution]


def _fields(distribution: Distribution, name: str) -> list[str]:
    # Newer importlib.metadata returns None for a distribution without metadata, and [name] of a
    # missing field is deprecated to raise KeyError: read defensively.
    metadata = _metadata_of(distribution)
    return [str(value) for value in (metadata.get_all(name) if metadata is not None else None) or []]


def _requires(distribution: Distribution) -> list[str]:
    """Requires-Dist from the parsed metadata; egg-info's requires.txt through importlib otherwise."""
    return _fields(distribution, "Requires-Dist") or list(distribution.requires or [])


def _field(distribution: Distribution, name: str) -> str:
    return (_fields(distribution, name) or [""])[0]


def _metadata_path(distribution: Distribution) -> Path:
    # importlib.metadata has no public accessor for the .dist-info/.egg-info folder; installed-files.txt
    # is relative to it, so it is needed. PathDistribution (the only kind found on a path) keeps it here.
    return Path(str(getattr(distribution, "_path")))  # noqa: B009


def _measure(distribution: Distribution, name: str, owned: set[str], notes: list[str]) -> _Installed:
    location = str(distribution.locate_file(""))
    metadata_path = _metadata_path(distribution)
    requirements: list[Requirement] = []
    invalid: list[str] = []
    for line in _requires(distribution):
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement:
            invalid.append(line)
    item = _Installed(
        name=name,
        version=_field(distribution, "Version") or "unknown",
        location=location,
        metadata_path=metadata_path,
        requirements=tuple(requirements),
        invalid_requires=tuple(invalid),
        provides_extras=frozenset(
            canonicalize_name(extra) for extra in _fields(distribution, "Provides-Extra")
        ),
    )

    listed, listing = _listed_files(distribution, location, metadata_path)
    if listed is None:
        notes.append(f"could not list files of {name}; counted its metadata folder only")
        listed = []
    missing = _take_files(item, listed, owned, with_bytecode=True)
    if missing:
        notes.append(f"{name}: {missing} files listed in {listing} are missing")
    _take_files(item, _walk(str(metadata_path)), owned, with_bytecode=False)
    order = sorted(range(len(item.files)), key=item.files.__getitem__)
    item.files = [item.files[index] for index in order]
    item.stats = [item.stats[index] for index in order]
    return item


def _take_files(item: _Installed, paths: Iterable[str], owned: set[str], *, with_bytecode: bool) -> int:
    """Add the regular files and links among `paths` (and, for sources, the .pyc next to them) that no
    distribution owns yet, each stat-ed once; returns how many of `paths` do not exist."""
    missing = 0
    pycache: dict[str, dict[str, list[str]]] = {}
    for path in paths:
        if path not in owned:
            try:
                info = os.lstat(path)
            except OSError:
                missing += 1
                continue
            _take(item, path, info, owned)
        if with_bytecode and path.endswith(".py"):
            for compiled in _compiled_next_to(path, pycache):
                if compiled not in owned:
                    with contextlib.suppress(OSError):
                        _take(item, compiled, os.lstat(compiled), owned)
    return missing


def _take(item: _Installed, path: str, info: os.stat_result, owned: set[str]) -> None:
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        return
    owned.add(path)
    item.files.append(path)
    item.stats.append(FileStat.of(info))
    item.bytes += info.st_size


def _listed_files(
    distribution: Distribution, location: str, metadata_path: Path
) -> tuple[list[str] | None, str]:
    """Normalised absolute paths a distribution says it installed, and where the list came from."""
    record = distribution.read_text("RECORD")
    if record is not None:
        rows = csv.reader(record.splitlines())
        return [_join(location, row[0]) for row in rows if row and row[0]], "RECORD"
    installed_files = distribution.read_text("installed-files.txt")
    if installed_files is not None:
        # Legacy egg-info: paths are relative to the .egg-info folder, not to site-packages.
        lines = [line.strip() for line in installed_files.splitlines()]
        return [_join(str(metadata_path), line) for line in lines if line], "installed-files.txt"
    top_level = distribution.read_text("top_level.txt")
    if top_level is not None:
        files: list[str] = []
        for module in (line.strip() for line in top_level.splitlines()):
            if not module:
                continue
            base = _join(location, module)
            if os.path.isdir(base) and not os.path.islink(base):
                files.extend(_walk(base))
            files.extend(
                _join(location, entry)
                for entry in _listdir(location)
                if entry == f"{module}.py" or re.fullmatch(rf"{re.escape(module)}\.[^/]*\.(so|pyd)", entry)
            )
        return files, "top_level.txt"
    return None, ""


def _join(base: str, relative: str) -> str:
    # normpath, not realpath: "../../../bin/flask" is the environment's bin script, and a venv's links
    # must stay the paths the slug will hold.
    return os.path.normpath(os.path.join(base, relative))


def _compiled_next_to(source: str, cache: dict[str, dict[str, list[str]]]) -> list[str]:
    """The .pyc of `source` in its __pycache__, for any interpreter tag and optimisation level on disk."""
    folder, filename = os.path.split(source)
    pycache = os.path.join(folder, "__pycache__")
    if pycache not in cache:
        cache[pycache] = _compiled_by_module(_listdir(pycache))
    return [os.path.join(pycache, entry) for entry in cache[pycache].get(filename[:-3], ())]


def _compiled_by_module(entries: list[str]) -> dict[str, list[str]]:
    """Group a __pycache__ listing by module: "m.cpython-313.pyc" and "m.cpython-313.opt-1.pyc" -> "m"."""
    by_module: dict[str, list[str]] = {}
    for entry in entries:
        if not entry.endswith(".pyc"):
            continue
        parts = entry[: -len(".pyc")].split(".")
        if len(parts) >= 3 and parts[-1].startswith("opt-"):
            module = ".".join(parts[:-2])
        elif len(parts) >= 2:
            module = ".".join(parts[:-1])
        else:
            continue
        by_module.setdefault(module, []).append(entry)
    return by_module


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _walk(top: str) -> list[str]:
    """Every file and symlink under `top` (or `top` itself when it is a file), links not followed."""
    if not os.path.isdir(top) or os.path.islink(top):
        return [top] if os.path.lexists(top) else []
    found: list[str] = []
    for folder, dirnames, filenames in os.walk(top):
        found.extend(os.path.join(folder, name) for name in filenames)
        found.extend(
            os.path.join(folder, name) for name in dirnames if os.path.islink(os.path.join(folder, name))
        )
    return found


def _package(
    item: _Installed,
    *,
    requires: Iterable[str],
    requested_by: Iterable[str],
    top_level: bool = False,
    exclusive_bytes: int | None = None,
    exclusive_packages: tuple[str, ...] = (),
) -> Package:
    return Package(
        name=item.name,
        version=item.version,
        bytes=item.bytes,
        file_count=len(item.files),
        location=item.location,
        files=tuple(item.files),
        file_stats=tuple(item.stats),
        requires=tuple(requires),
        requested_by=tuple(requested_by),
        top_level=top_level,
        exclusive_bytes=exclusive_bytes,
        exclusive_packages=exclusive_packages,
        invalid_requires=item.invalid_requires,
        modules=top_level_modules(
            os.path.relpath(path, item.location).replace(os.sep, "/") for path in item.files
        ),
    )


# --- the dependency graph ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Closure:
    extras: dict[str, Extras]  # every required name (installed or not) with the extras asked of it
    edges: dict[str, set[str]]  # parent -> children, as walked with those extras


class _Graph:
    """Who requires whom.

    Every edge comes from the installed metadata (Requires-Dist, or a legacy .egg-info's requires.txt),
    its markers evaluated against the marker environment the target interpreter reported, extras
    included: an extra adds edges (`requests[socks]` -> PySocks) only when the app asks for it.
    pipdeptree was read beside it until its edges were compared with these on four environments (the
    benchmark tree, a development venv and two sample apps' venvs: 130 distributions): not one edge
    differed, while it cost 0.07-0.12 s a run and started the interpreter outside `processes.py`.
    """

    def __init__(
        self,
        installed: Mapping[str, _Installed],
        marker_environment: Mapping[str, str],
    ) -> None:
        self.installed = installed
        self.marker_environment = dict(marker_environment)
        self.notes: list[str] = []
        self._applies: dict[tuple[str, int, str], bool] = {}

    def base_children(self, name: str) -> set[str]:
        return set(self._children_from_metadata(name, NO_EXTRAS))

    def children(self, name: str, extras: Extras) -> dict[str, Extras]:
        """Each child of `name` asked for with `extras`, with the extras asked of that child."""
        result = {child: NO_EXTRAS for child in self.base_children(name)}
        for child, child_extras in self._children_from_metadata(name, extras).items():
            result[child] = result.get(child, NO_EXTRAS) | child_extras
        return result

    def _children_from_metadata(self, name: str, extras: Extras) -> dict[str, Extras]:
        item = self.installed.get(name)
        if item is None:
            return {}
        result: dict[str, Extras] = {}
        for index, requirement in enumerate(item.requirements):
            child = canonicalize_name(requirement.name)
            if self._evaluate(item, index, "") or any(self._evaluate(item, index, e) for e in extras):
                child_extras = frozenset(canonicalize_name(extra) for extra in requirement.extras)
                result[child] = result.get(child, NO_EXTRAS) | child_extras
        return result

    def _evaluate(self, item: _Installed, index: int, extra: str) -> bool:
        key = (item.name, index, extra)
        if key not in self._applies:
            requirement = item.requirements[index]
            where = f"{item.name} {item.version}: its requirement {requirement.name}"
            extras = (extra,) if extra else ()
            decision = decide(requirement.marker, self.marker_environment, where=where, extras=extras)
            if decision.note and decision.note not in self.notes:
                self.notes.append(decision.note)
            self._applies[key] = decision.applies
        return self._applies[key]

    def closure(self, tops: Mapping[str, Extras]) -> _Closure:
        """Every name reachable from `tops`; a name reached again with new extras is expanded again."""
        extras: dict[str, Extras] = {}
        edges: dict[str, set[str]] = {}
        pending = list(tops.items())
        while pending:
            name, asked = pending.pop()
            known = extras.get(name)
            if known is not None and asked <= known:
                continue
            extras[name] = (known or NO_EXTRAS) | asked
            children = self.children(name, extras[name])
            edges[name] = set(children)
            pending.extend(children.items())
        return _Closure(extras=extras, edges=edges)


# --- reading the requirements ------------------------------------------------------------------------


def _top_level(requirements: RequirementsFile) -> dict[str, Extras]:
    """Applicable named requirements, in file order, with all the extras asked for each."""
    tops: dict[str, Extras] = {}
    for line in requirements.requirements:
        if line.applies and line.name is not None:
            tops[line.name] = tops.get(line.name, NO_EXTRAS) | frozenset(line.extras)
    return tops


def _requirement_files(requirements: RequirementsFile) -> dict[str, set[str]]:
    files: dict[str, set[str]] = {}
    for line in requirements.requirements:
        if line.applies and line.name is not None:
            files.setdefault(line.name, set()).add(line.source.rsplit(":", 1)[0])
    return files


def _version_notes(requirements: RequirementsFile, installed: Mapping[str, _Installed]) -> list[str]:
    """Tell when the environment holds another version than requirements.txt asks for."""
    notes = []
    for line in requirements.requirements:
        item = installed.get(line.name) if line.applies and line.name is not None else None
        if item is None:
            continue
        try:
            specifier = Requirement(line.text).specifier
            version = item.version
            if specifier and not specifier.contains(version, prereleases=True):
                notes.append(
                    f"{line.source}: {line.text} asked, {version} installed: sizes are of the installed one"
                )
        except (InvalidRequirement, InvalidVersion):
            continue
    return notes


def _extra_notes(tops: Mapping[str, Extras], installed: Mapping[str, _Installed]) -> list[str]:
    notes = []
    for name, extras in tops.items():
        item = installed.get(name)
        if item is None:
            continue
        for extra in sorted(extras - item.provides_extras):
            notes.append(f"{name} {item.version} does not provide the extra {extra!r}")
    return notes
