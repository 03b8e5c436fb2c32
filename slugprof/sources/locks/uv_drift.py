"""Whether `uv.lock` was made from the `pyproject.toml` beside it, compared as `uv sync --locked` compares
them before installing, on the two files' contents (no uv is run).

uv records the project's own declarations in the lock, on the project's [[package]]: `[package.metadata]
requires-dist` (its dependencies, and those of its extras with an `extra == '...'` marker),
`provides-extras`, `[package.metadata.requires-dev]` (each dependency group, `include-group` expanded,
`[tool.uv] dev-dependencies` in `dev`), the package's version, and the lock's top-level
`requires-python`. Each is compared with what pyproject.toml declares now: names and extras
canonicalised, version specifiers as sets (`>=1` is `>=1.0`), markers by what they select for the
project's Python versions (see `markers_equal`). Where a requirement comes from (an index, a URL, a
`[tool.uv.sources]` entry) is not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from slugprof.sources.locks.content_hashes import table_of
from slugprof.sources.locks.markers_equal import markers_equal


@dataclass(frozen=True)
class Declared:
    """One requirement, in the form both files can be compared in."""

    name: str  # canonical
    extras: frozenset[str]
    specifier: SpecifierSet
    marker: Marker | None

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        marker = f"; {self.marker}" if self.marker is not None else ""
        return f"{self.name}{extras}{self.specifier}{marker}"


def uv_lock_drift(lock: Mapping[str, Any], pyproject: Mapping[str, Any]) -> tuple[str, ...] | None:
    """What differs between the lock's record of the project and pyproject.toml, one line each; () when
    they agree; None when there is nothing to compare (no [project] name, no package for it in the lock)."""
    project = pyproject.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        return None
    root = _root_package(lock, canonicalize_name(project["name"]))
    if root is None:
        return None
    requires_python = _specifier(project.get("requires-python"))
    metadata = table_of(root.get("metadata"))
    drift = _name_drift(root, project)
    drift += _requires_python_drift(lock.get("requires-python"), project.get("requires-python"))
    drift += _version_drift(root, project)
    drift += requirements_drift(
        "dependency",
        _locked_list(metadata.get("requires-dist")),
        declared_dependencies(project),
        requires_python,
    )
    drift += _extras_drift(metadata, project)
    drift += _groups_drift(metadata.get("requires-dev"), declared_groups(pyproject), requires_python)
    return tuple(drift)


def _root_package(lock: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The lock's package for the project: by name, else the one whose source is the app's folder."""
    packages = [p for p in lock.get("package", []) or [] if isinstance(p, dict)]
    for package in packages:
        if canonicalize_name(str(package.get("name", ""))) == name:
            return package
    for package in packages:
        source = package.get("source")
        if isinstance(source, dict) and "." in (source.get("editable"), source.get("virtual")):
            return package
    return None


def _name_drift(root: Mapping[str, Any], project: Mapping[str, Any]) -> list[str]:
    locked, declared = canonicalize_name(str(root.get("name", ""))), canonicalize_name(project["name"])
    return [] if locked == declared else [f"project name: uv.lock has {locked}, pyproject.toml {declared}"]


def _requires_python_drift(locked: object, declared: object) -> list[str]:
    # Without requires-python in pyproject.toml, uv takes one from the interpreter: nothing to compare.
    if declared is None:
        return []
    if _specifier(locked) == _specifier(declared):
        return []
    return [f"requires-python: uv.lock has {locked or 'none'}, pyproject.toml {declared}"]


def _version_drift(root: Mapping[str, Any], project: Mapping[str, Any]) -> list[str]:
    dynamic = project.get("dynamic", [])
    locked, declared = root.get("version"), project.get("version")
    if "version" in (dynamic if isinstance(dynamic, list) else []) or locked is None or declared is None:
        return []
    try:
        same = Version(str(locked)) == Version(str(declared))
    except InvalidVersion:
        same = str(locked) == str(declared)
    return [] if same else [f"version: uv.lock has {locked}, pyproject.toml {declared}"]


def declared_dependencies(project: Mapping[str, Any]) -> list[Declared]:
    """[project] dependencies, then each extra's with its `extra == '...'` marker, as uv records them."""
    declared = [d for d in (_parse(text) for text in _strings(project.get("dependencies"))) if d]
    optional = project.get("optional-dependencies")
    for extra, texts in optional.items() if isinstance(optional, dict) else []:
        for text in _strings(texts):
            requirement = _parse(text)
            if requirement is not None:
                declared.append(_with_extra(requirement, canonicalize_name(str(extra))))
    return declared


def _with_extra(requirement: Declared, extra: str) -> Declared:
    condition = f'extra == "{extra}"'
    marker = Marker(f"({requirement.marker}) and {condition}" if requirement.marker else condition)
    return Declared(requirement.name, requirement.extras, requirement.specifier, marker)


def declared_groups(pyproject: Mapping[str, Any]) -> dict[str, list[Declared]]:
    """[dependency-groups] with `include-group` expanded, and [tool.uv] dev-dependencies in `dev`."""
    raw = table_of(pyproject.get("dependency-groups"))
    groups: dict[str, object] = {canonicalize_name(str(name)): items for name, items in raw.items()}
    expanded = {name: _expand_group(name, groups, frozenset()) for name in groups}
    legacy = table_of(table_of(pyproject.get("tool")).get("uv")).get("dev-dependencies")
    if isinstance(legacy, list):
        expanded.setdefault("dev", []).extend(d for d in (_parse(text) for text in _strings(legacy)) if d)
    return expanded


def _expand_group(name: str, groups: Mapping[str, object], seen: frozenset[str]) -> list[Declared]:
    found: list[Declared] = []
    items = groups.get(name)
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            requirement = _parse(item)
            if requirement is not None:
                found.append(requirement)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            included = canonicalize_name(item["include-group"])
            if included not in seen and included != name:
                found.extend(_expand_group(included, groups, seen | {name}))
    return found


def _extras_drift(metadata: Mapping[str, Any], project: Mapping[str, Any]) -> list[str]:
    """The extras the project provides, when the lock records them (`provides-extras`)."""
    if "provides-extras" not in metadata:
        return []
    optional = project.get("optional-dependencies")
    declared = {canonicalize_name(str(name)) for name in optional} if isinstance(optional, dict) else set()
    locked = {canonicalize_name(str(name)) for name in _strings(metadata.get("provides-extras"))}
    lines = [f"extra {name} added in pyproject.toml" for name in sorted(declared - locked)]
    lines += [f"extra {name} removed from pyproject.toml" for name in sorted(locked - declared)]
    return lines


def _groups_drift(
    locked_groups: object, declared: Mapping[str, list[Declared]], requires_python: SpecifierSet
) -> list[str]:
    locked: dict[str, list[Declared]] = {
        canonicalize_name(str(name)): _locked_list(items) for name, items in table_of(locked_groups).items()
    }
    lines = [
        f"dependency group {name} added in pyproject.toml" for name in sorted(set(declared) - set(locked))
    ]
    lines += [
        f"dependency group {name} removed from pyproject.toml" for name in sorted(set(locked) - set(declared))
    ]
    for name in sorted(set(declared) & set(locked)):
        lines += requirements_drift(
            f"group {name}: dependency", locked[name], declared[name], requires_python
        )
    return lines


def requirements_drift(
    what: str, locked: Iterable[Declared], declared: Iterable[Declared], requires_python: SpecifierSet
) -> list[str]:
    """Requirements added, removed or changed in pyproject.toml since the lock, one line each."""
    unmatched = list(locked)
    added: list[Declared] = []
    for requirement in declared:
        match = next((each for each in unmatched if _same(each, requirement, requires_python)), None)
        if match is None:
            added.append(requirement)
        else:
            unmatched.remove(match)
    lines: list[str] = []
    for requirement in added:
        before = next((each for each in unmatched if each.name == requirement.name), None)
        if before is None:
            lines.append(f"{what} added in pyproject.toml: {requirement}")
        else:
            unmatched.remove(before)
            lines.append(f"{what} changed: uv.lock has {before}, pyproject.toml {requirement}")
    lines += [f"{what} removed from pyproject.toml: {requirement}" for requirement in unmatched]
    return lines


def _same(first: Declared, second: Declared, requires_python: SpecifierSet) -> bool:
    return (
        first.name == second.name
        and first.extras == second.extras
        and first.specifier == second.specifier
        and markers_equal(first.marker, second.marker, requires_python)
    )


def _locked_list(entries: object) -> list[Declared]:
    """The lock's inline tables ({ name, specifier, marker, extras }) as requirements."""
    found: list[Declared] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        try:
            marker = Marker(entry["marker"]) if isinstance(entry.get("marker"), str) else None
        except InvalidMarker:
            marker = None
        found.append(
            Declared(
                name=canonicalize_name(entry["name"]),
                extras=frozenset(canonicalize_name(str(e)) for e in _strings(entry.get("extras"))),
                specifier=_specifier(entry.get("specifier")),
                marker=marker,
            )
        )
    return found


def _parse(text: str) -> Declared | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None  # uv refuses the project file itself: not a question of the lock
    return Declared(
        name=canonicalize_name(requirement.name),
        extras=frozenset(canonicalize_name(extra) for extra in requirement.extras),
        specifier=requirement.specifier,
        marker=requirement.marker,
    )


def _specifier(value: object) -> SpecifierSet:
    try:
        return SpecifierSet(value if isinstance(value, str) else "")
    except InvalidSpecifier:
        return SpecifierSet()


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
