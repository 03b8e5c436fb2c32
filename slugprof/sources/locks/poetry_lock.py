"""Read `poetry.lock` as `poetry sync --only main` installs it on the target."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from slugprof.errors import UsageError
from slugprof.model import Target
from slugprof.sources.locks.common import (
    _file_url,
    _filename_of,
    _kind,
    _load_toml,
    _marker_applies,
    _project_table,
    _sha256,
    _sorted,
    _table,
    _text,
)
from slugprof.sources.locks.results import POETRY_LOCK, LockedFile, LockedPackage, LockedSet
from slugprof.sources.target import (
    choose_filename,
    tag_ranks,
    target_marker_environment,
    target_tags,
)


def read_poetry_lock(app_root: Path, target: Target) -> LockedSet:
    """What `poetry sync --only main` installs on the target, from `poetry.lock` (and pyproject.toml)."""
    shown = POETRY_LOCK
    document = _load_toml(app_root / POETRY_LOCK, shown)
    files_read = [POETRY_LOCK]
    notes: list[str] = []
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise UsageError(f"{shown}: no [metadata] table: regenerate it with `poetry lock`")
    raw_packages = document.get("package", [])
    if not isinstance(raw_packages, list):
        raise UsageError(f"{shown}: [[package]] must be an array of tables")
    legacy_files = metadata.get("files", {})  # lock-version 1.x kept the files here
    environment = target_marker_environment(target)
    lock = _PoetryLock(_poetry_tables(raw_packages, shown), environment, shown, notes)

    pyproject = _project_table(app_root, files_read)
    main_requirements = _poetry_main_requirements(pyproject, environment, notes)
    if lock.tables and all("groups" in table for table in lock.tables.values()):
        selected = lock.main_group()
    else:
        if main_requirements is None:
            main_requirements = lock.main_category()
            notes.append(f"{shown}: no pyproject.toml: every package of the main category is taken")
        selected = lock.reachable(main_requirements)

    top_level = {name for name, _ in main_requirements or []} & selected
    if main_requirements is None:
        children = {child for name in selected for child, _ in lock.dependencies_of(name, frozenset())}
        top_level = selected - children

    ranks = tag_ranks(target_tags(target))
    locked = [
        _poetry_locked_package(app_root, lock, name, selected, legacy_files, ranks) for name in selected
    ]
    return LockedSet(
        manager="poetry",
        lock_file=POETRY_LOCK,
        files_read=tuple(files_read),
        packages=_sorted(locked),
        top_level=tuple(sorted(top_level)),
        edges_known=True,
        notes=tuple(notes),
    )


def _poetry_tables(raw_packages: list[Any], shown: str) -> dict[str, dict[str, Any]]:
    """Each [[package]] table by canonical name: poetry locks one version per name."""
    tables: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(raw_packages, start=1):
        table = _table(raw, shown, f"package #{index}")
        name = str(canonicalize_name(_text(table.get("name"), shown, f"package #{index}: name")))
        _text(table.get("version"), shown, f"package {name}: version")
        tables[name] = table
    return tables


@dataclass(frozen=True)
class _PoetryLock:
    """The lock's packages, and what reading their dependencies for the dyno needs."""

    tables: dict[str, dict[str, Any]]
    environment: Mapping[str, str]
    shown: str
    notes: list[str]

    def main_group(self) -> set[str]:
        """Lock-version 2.1+ records each package's groups: the main group's, markers evaluated."""
        selected: set[str] = set()
        for name, table in self.tables.items():
            groups = table.get("groups")
            if not isinstance(groups, list) or "main" not in groups or table.get("optional") is True:
                continue
            markers = table.get("markers")
            if isinstance(markers, dict):
                markers = markers.get("main")
            if _marker_applies(markers, self.environment, self.shown, f"package {name}", self.notes):
                selected.add(name)
        return selected

    def main_category(self) -> list[tuple[str, frozenset[str]]]:
        """Without a pyproject.toml, an older lock's packages of the main category, as requirements."""
        categories = {name for name, table in self.tables.items() if table.get("category", "main") == "main"}
        return [(name, frozenset()) for name in sorted(categories)]

    def reachable(self, requirements: list[tuple[str, frozenset[str]]]) -> set[str]:
        """The locked packages the requirements reach, following each dependency's extras."""
        selected: set[str] = set()
        queue = list(requirements)
        seen: set[tuple[str, frozenset[str]]] = set()
        while queue:
            name, extras = queue.pop()
            if name not in self.tables or (name, extras) in seen:
                continue
            seen.add((name, extras))
            selected.add(name)
            queue.extend(self.dependencies_of(name, extras))
        return selected

    def dependencies_of(self, name: str, extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
        """The locked dependencies of a package installed with these extras, and their own extras."""
        table = self.tables[name]
        dependencies = _table(table.get("dependencies", {}), self.shown, f"package {name}: dependencies")
        wanted_optional = _optional_wanted(table, extras)
        found: list[tuple[str, frozenset[str]]] = []
        for dependency_name, constraint in dependencies.items():
            child = canonicalize_name(dependency_name)
            child_extras = self._constraint_extras(name, child, constraint, wanted_optional)
            if child_extras is not None and child in self.tables:
                found.append((child, child_extras))
        return found

    def _constraint_extras(
        self, name: str, child: str, constraint: object, wanted_optional: set[str]
    ) -> frozenset[str] | None:
        """The extras asked of a dependency, or None when none of its constraints applies."""
        # Several constraints for one name carry markers: the first that holds on the dyno counts.
        for item in constraint if isinstance(constraint, list) else [constraint]:
            if not isinstance(item, dict):
                return frozenset()
            if item.get("optional") and child not in wanted_optional:
                continue
            if not _marker_applies(
                item.get("markers"), self.environment, self.shown, f"package {name}", self.notes
            ):
                continue
            return frozenset(canonicalize_name(str(e)) for e in item.get("extras", []) or [])
        return None


def _optional_wanted(table: Mapping[str, Any], extras: frozenset[str]) -> set[str]:
    """The optional dependencies the requested extras of a package turn on."""
    wanted: set[str] = set()
    package_extras = table.get("extras", {})
    if not isinstance(package_extras, dict):
        return wanted
    for extra in extras:
        for requirement in package_extras.get(extra, []) or []:
            wanted.add(canonicalize_name(re.split(r"[\s(\[;<>=!~]", str(requirement), maxsplit=1)[0]))
    return wanted


def _poetry_locked_package(
    app_root: Path,
    lock: _PoetryLock,
    name: str,
    selected: set[str],
    legacy_files: object,
    ranks: Mapping[Tag, int],
) -> LockedPackage:
    """One selected package: from a checkout or folder, a file or URL, or an index's files."""
    table = lock.tables[name]
    files = _poetry_files(table, name, legacy_files, lock.shown)
    source = table.get("source", {})
    source = source if isinstance(source, dict) else {}
    source_type, source_url = source.get("type"), source.get("url")
    common: dict[str, Any] = {
        "name": name,
        "version": str(table["version"]),
        "requires": tuple(sorted({child for child, _ in lock.dependencies_of(name, frozenset())} & selected)),
        "files": tuple(files),
    }
    if source_type in ("git", "directory"):
        location = str(source_url)
        local = source_type == "directory"
        chosen = None if local else LockedFile(f"{name} (git)", location, "sdist")
        note = (
            f"installed from the app's folder {location!r}: its files are counted with the app"
            if local
            else "built from a git checkout on the dyno"
        )
        return LockedPackage(**common, chosen=chosen, direct=f"{source_type} {location}", note=note)
    if source_type in ("file", "url"):
        location = str(source_url)
        url = location if source_type == "url" else _file_url(app_root / location)
        filename = _filename_of(location)
        chosen = LockedFile(
            filename, url, _kind(filename) or "sdist", sha256=files[0].sha256 if files else None
        )
        return LockedPackage(**common, chosen=chosen, direct=f"{source_type} {location}")
    by_name = {file.filename: file for file in files}
    chosen_name = choose_filename(by_name, ranks)
    return LockedPackage(
        **common,
        chosen=by_name.get(chosen_name) if chosen_name else None,
        hashes=tuple(f.sha256 for f in files if f.sha256),
        index_url=str(source_url) if source_type == "legacy" and source_url else None,
        note="no file in the lock installs on the dyno" if chosen_name is None and files else None,
    )


def _poetry_files(table: Mapping[str, Any], name: str, legacy_files: object, shown: str) -> list[LockedFile]:
    """The wheels and sdists the lock lists for a package (in [metadata.files] for lock-version 1.x)."""
    raw_files = table.get("files")
    if raw_files is None and isinstance(legacy_files, dict):
        raw_files = legacy_files.get(table["name"], legacy_files.get(name, []))
    files: list[LockedFile] = []
    for entry in raw_files or []:
        entry_table = _table(entry, shown, f"package {name}: file")
        filename = _text(entry_table.get("file"), shown, f"package {name}: file name")
        kind = _kind(filename)
        if kind is not None:
            files.append(LockedFile(filename, None, kind, sha256=_sha256(entry_table.get("hash"))))
    return files


def _poetry_main_requirements(
    pyproject: Mapping[str, Any], environment: Mapping[str, str], notes: list[str]
) -> list[tuple[str, frozenset[str]]] | None:
    """The main group's direct requirements ([project] and [tool.poetry.dependencies]), markers evaluated."""
    if not pyproject:
        return None
    found: dict[str, frozenset[str]] = {}
    # Both tables may name a package: [tool.poetry.dependencies] is read second, so its extras count.
    found.update(_project_requirements(pyproject, environment, notes))
    found.update(_tool_poetry_requirements(pyproject, environment, notes))
    return sorted(found.items())


def _project_requirements(
    pyproject: Mapping[str, Any], environment: Mapping[str, str], notes: list[str]
) -> dict[str, frozenset[str]]:
    """[project] dependencies whose markers hold on the dyno, with the extras they ask for."""
    found: dict[str, frozenset[str]] = {}
    project = pyproject.get("project", {})
    for text in project.get("dependencies", []) if isinstance(project, dict) else []:
        try:
            requirement = Requirement(str(text))
        except InvalidRequirement:
            continue
        where = f"[project] dependency {requirement.name}"
        if _marker_applies(str(requirement.marker or ""), environment, "pyproject.toml", where, notes):
            found[canonicalize_name(requirement.name)] = frozenset(requirement.extras)
    return found


def _tool_poetry_requirements(
    pyproject: Mapping[str, Any], environment: Mapping[str, str], notes: list[str]
) -> dict[str, frozenset[str]]:
    """[tool.poetry.dependencies] other than python and optional ones, markers evaluated."""
    found: dict[str, frozenset[str]] = {}
    tool = pyproject.get("tool", {})
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    dependencies = poetry.get("dependencies", {}) if isinstance(poetry, dict) else {}
    for name, constraint in dependencies.items() if isinstance(dependencies, dict) else []:
        if name.lower() == "python":
            continue
        extras = _first_applying_constraint(name, constraint, environment, notes)
        if extras is not None:
            found[canonicalize_name(name)] = extras
    return found


def _first_applying_constraint(
    name: str, constraint: object, environment: Mapping[str, str], notes: list[str]
) -> frozenset[str] | None:
    """The extras of the first of a name's constraints that is neither optional nor off for the dyno."""
    for item in constraint if isinstance(constraint, list) else [constraint]:
        if not isinstance(item, dict):
            return frozenset()
        if item.get("optional"):
            continue
        where = f"[tool.poetry.dependencies] {name}"
        markers = str(item.get("markers") or "")
        if not _marker_applies(markers, environment, "pyproject.toml", where, notes):
            continue
        return frozenset(str(e) for e in item.get("extras", []) or [])
    return None
