"""Read `uv.lock` as `uv sync --locked --no-default-groups` installs it on the target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from slugprof.errors import UsageError
from slugprof.model import Target
from slugprof.sources.locks.common import (
    _choose,
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
from slugprof.sources.locks.results import UV_LOCK, LockedFile, LockedPackage, LockedSet
from slugprof.sources.target import (
    target_marker_environment,
)


@dataclass
class _UvPackage:
    name: str
    version: str
    source: dict[str, Any]
    table: dict[str, Any]


def read_uv_lock(app_root: Path, target: Target) -> LockedSet:
    """What `uv sync --locked --no-default-groups` installs on the target, from `uv.lock`."""
    shown = UV_LOCK
    document = _load_toml(app_root / UV_LOCK, shown)
    files_read = [UV_LOCK]
    notes: list[str] = []
    raw_packages = document.get("package", [])
    if not isinstance(raw_packages, list):
        raise UsageError(f"{shown}: [[package]] must be an array of tables")
    if "version" not in document:
        raise UsageError(f"{shown}: no lock format `version`: is this a uv lock file?")

    packages = _uv_packages(raw_packages, shown)
    by_name: dict[str, list[_UvPackage]] = {}
    for package in packages:
        by_name.setdefault(package.name, []).append(package)
    lock = _UvLock(by_name, target_marker_environment(target), shown, notes)
    project = _project_table(app_root, files_read).get("project", {})
    roots = _uv_roots(document, packages, project, shown, notes)
    selected, edges = lock.walk(roots)

    top_level: set[str] = set()
    for root in roots:
        top_level |= edges.get(id(root), set())
        if root.source.get("editable") is not None:
            notes.append(
                f"{shown}: the project {root.name} is installed in editable mode: its files are the app's"
            )
    root_keys = {id(root) for root in roots}
    locked = [
        _uv_locked_package(app_root, package, sorted(edges.get(key, set())), target, shown)
        for key, package in selected.items()
        if key not in root_keys
    ]
    return LockedSet(
        manager="uv",
        lock_file=UV_LOCK,
        files_read=tuple(files_read),
        packages=_sorted(locked),
        top_level=tuple(sorted(top_level)),
        edges_known=True,
        notes=tuple(notes),
    )


def _uv_packages(raw_packages: list[Any], shown: str) -> list[_UvPackage]:
    """Each [[package]] table, with the version only a local project may leave out."""
    packages: list[_UvPackage] = []
    for index, raw in enumerate(raw_packages, start=1):
        table = _table(raw, shown, f"package #{index}")
        name = canonicalize_name(_text(table.get("name"), shown, f"package #{index}: name"))
        source = _table(table.get("source", {}), shown, f"package {name}: source")
        version = table.get("version")
        if version is None and not ({"editable", "virtual", "directory"} & source.keys()):
            raise UsageError(f"{shown}: package {name}: no version")
        packages.append(_UvPackage(name, str(version or ""), source, table))
    return packages


def _uv_roots(
    document: dict[str, Any], packages: list[_UvPackage], project: object, shown: str, notes: list[str]
) -> list[_UvPackage]:
    """The project at the app root: by its pyproject name, else the '.' source, else the workspace members."""
    project_name = (
        canonicalize_name(project["name"]) if isinstance(project, dict) and project.get("name") else None
    )
    roots = [p for p in packages if p.name == project_name] if project_name else []
    if not roots:
        roots = [p for p in packages if p.source.get("editable") == "." or p.source.get("virtual") == "."]
    if not roots:
        manifest = document.get("manifest", {})
        members = manifest.get("members", []) if isinstance(manifest, dict) else []
        roots = [p for p in packages if p.name in {canonicalize_name(str(m)) for m in members}]
        if roots:
            notes.append(f"{shown}: no project at the app root; its workspace members are taken as roots")
    if not roots:
        raise UsageError(
            f"{shown}: no package for the project at the app root (source editable or virtual '.')"
        )
    return roots


@dataclass(frozen=True)
class _UvLock:
    """The lock's packages by name, and what following their dependencies on the dyno needs."""

    by_name: dict[str, list[_UvPackage]]
    environment: Mapping[str, str]
    shown: str
    notes: list[str]

    def walk(self, roots: list[_UvPackage]) -> tuple[dict[int, _UvPackage], dict[int, set[str]]]:
        """Every package the roots reach on the dyno (by identity), and each one's dependency names."""
        selected: dict[int, _UvPackage] = {}
        edges: dict[int, set[str]] = {}
        seen: set[tuple[int, str]] = set()
        queue: list[tuple[_UvPackage, str]] = [(root, "") for root in roots]
        while queue:
            package, extra = queue.pop()
            if (id(package), extra) in seen:
                continue
            seen.add((id(package), extra))
            selected[id(package)] = package
            where = f"package {package.name}"
            for raw in self._dependencies(package, extra, where):
                dependency = _table(raw, self.shown, f"{where}: dependency")
                if not _marker_applies(
                    dependency.get("marker"), self.environment, self.shown, where, self.notes
                ):
                    continue
                child = self._pick(dependency, where)
                edges.setdefault(id(package), set()).add(child.name)
                queue.append((child, ""))
                for child_extra in dependency.get("extra", []) or []:
                    queue.append((child, canonicalize_name(str(child_extra))))
        return selected, edges

    def _dependencies(self, package: _UvPackage, extra: str, where: str) -> list[Any]:
        """A package's dependencies, or those one of its extras adds."""
        if extra:
            optional = _table(
                package.table.get("optional-dependencies", {}), self.shown, f"{where}: optional-dependencies"
            )
            dependencies = optional.get(extra, [])
        else:
            dependencies = package.table.get("dependencies", [])
        if not isinstance(dependencies, list):
            raise UsageError(f"{self.shown}: {where}: dependencies must be an array")
        return dependencies

    def _pick(self, dependency: dict[str, Any], where: str) -> _UvPackage:
        """The locked package a dependency names: its version, or the fork whose markers hold."""
        name = canonicalize_name(_text(dependency.get("name"), self.shown, f"{where}: dependency name"))
        candidates = self.by_name.get(name, [])
        if "version" in dependency:
            candidates = [c for c in candidates if c.version == str(dependency["version"])]
        if len(candidates) > 1:  # a forked resolution: the fork whose markers hold on the dyno
            candidates = [c for c in candidates if self._fork_applies(c)] or candidates
        if not candidates:
            raise UsageError(f"{self.shown}: {where} depends on {name}, which the lock does not list")
        return candidates[0]

    def _fork_applies(self, candidate: _UvPackage) -> bool:
        markers = candidate.table.get("resolution-markers", [""]) or [""]
        return any(
            _marker_applies(m, self.environment, self.shown, f"package {candidate.name}", self.notes)
            for m in markers
        )


def _uv_locked_package(
    app_root: Path, package: _UvPackage, requires: list[str], target: Target, shown: str
) -> LockedPackage:
    source = package.source
    base = {"name": package.name, "version": package.version, "requires": tuple(requires)}
    checkout = _uv_local_or_git_package(package, base)
    if checkout is not None:
        return checkout
    files = _uv_files(app_root, package, shown)
    if not files and "url" in source:
        url = str(source["url"])
        kind = _kind(_filename_of(url)) or "sdist"
        files.append(LockedFile(_filename_of(url), url, kind))
    chosen = _choose(files, target)
    index = source.get("registry")
    return LockedPackage(
        **base,  # type: ignore[arg-type]
        files=tuple(files),
        chosen=chosen,
        index_url=str(index) if isinstance(index, str) and "://" in index else None,
        direct=f"url {source['url']}"
        if "url" in source
        else (f"path {source['path']}" if "path" in source else None),
        note=None if chosen is not None else "no wheel for the dyno and no sdist in the lock",
    )


def _uv_local_or_git_package(package: _UvPackage, base: dict[str, Any]) -> LockedPackage | None:
    """The package when it is installed from the app's folder or built from git; None otherwise."""
    source = package.source
    for key in ("editable", "directory", "virtual"):
        if key in source:
            return LockedPackage(
                **base,
                direct=f"{key} {source[key]}",
                note=f"installed from the app's folder {source[key]!r}: its files are counted with the app",
            )
    if "git" in source:
        return LockedPackage(
            **base,
            chosen=LockedFile(f"{package.name} (git)", str(source["git"]), "sdist"),
            direct=f"git {source['git']}",
            note="built from a git checkout on the dyno",
        )
    return None


def _uv_files(app_root: Path, package: _UvPackage, shown: str) -> list[LockedFile]:
    """The wheels, then the sdist, the lock lists for a package, where they are."""
    where = f"package {package.name}"
    source = package.source
    source_path = app_root / str(source["path"]) if "path" in source else None
    entries: list[tuple[object, str]] = []
    wheels = package.table.get("wheels", [])
    if not isinstance(wheels, list):
        raise UsageError(f"{shown}: {where}: wheels must be an array")
    entries.extend((wheel, "wheel") for wheel in wheels)
    if "sdist" in package.table:
        entries.append((package.table["sdist"], "sdist"))
    files: list[LockedFile] = []
    for entry, what in entries:
        located = _uv_locate(
            app_root, _table(entry, shown, f"{where}: {what}"), what, where, source_path, shown
        )
        if located is not None:
            files.append(located)
    return files


def _uv_locate(
    app_root: Path, entry: dict[str, Any], what: str, where: str, source_path: Path | None, shown: str
) -> LockedFile | None:
    """One wheel or sdist entry as a file: by URL, path, or filename within the package's path source."""
    url: str | None
    if "url" in entry:
        url = _text(entry["url"], shown, f"{where}: {what} url")
        filename = _filename_of(url)
    elif "path" in entry:
        path = app_root / _text(entry["path"], shown, f"{where}: {what} path")
        url, filename = _file_url(path), path.name
    elif "filename" in entry:
        filename = _text(entry["filename"], shown, f"{where}: {what} filename")
        url = _file_url(source_path) if source_path is not None else None
    else:
        raise UsageError(f"{shown}: {where}: a {what} without url, path or filename")
    kind = _kind(filename)
    if kind is None:
        return None
    size = entry.get("size")
    return LockedFile(
        filename=filename,
        url=url,
        kind=kind,
        size=size if isinstance(size, int) else None,
        sha256=_sha256(entry.get("hash")),
    )
