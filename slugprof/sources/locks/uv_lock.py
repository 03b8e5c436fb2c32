"""Read `uv.lock` as `uv sync --locked --no-default-groups` installs it on the target."""

from __future__ import annotations

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

    packages: list[_UvPackage] = []
    for index, raw in enumerate(raw_packages, start=1):
        table = _table(raw, shown, f"package #{index}")
        name = canonicalize_name(_text(table.get("name"), shown, f"package #{index}: name"))
        source = _table(table.get("source", {}), shown, f"package {name}: source")
        version = table.get("version")
        if version is None and not ({"editable", "virtual", "directory"} & source.keys()):
            raise UsageError(f"{shown}: package {name}: no version")
        packages.append(_UvPackage(name, str(version or ""), source, table))
    by_name: dict[str, list[_UvPackage]] = {}
    for package in packages:
        by_name.setdefault(package.name, []).append(package)

    environment = target_marker_environment(target)
    project = _project_table(app_root, files_read).get("project", {})
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

    def pick(dependency: dict[str, Any], where: str) -> _UvPackage | None:
        name = canonicalize_name(_text(dependency.get("name"), shown, f"{where}: dependency name"))
        candidates = by_name.get(name, [])
        if "version" in dependency:
            candidates = [c for c in candidates if c.version == str(dependency["version"])]
        if len(candidates) > 1:  # a forked resolution: the fork whose markers hold on the dyno
            candidates = [
                c
                for c in candidates
                if any(
                    _marker_applies(m, environment, shown, f"package {c.name}", notes)
                    for m in c.table.get("resolution-markers", [""]) or [""]
                )
            ] or candidates
        if not candidates:
            raise UsageError(f"{shown}: {where} depends on {name}, which the lock does not list")
        return candidates[0]

    root_keys = {id(root) for root in roots}
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
        if extra:
            optional = _table(
                package.table.get("optional-dependencies", {}), shown, f"{where}: optional-dependencies"
            )
            dependencies = optional.get(extra, [])
        else:
            dependencies = package.table.get("dependencies", [])
        if not isinstance(dependencies, list):
            raise UsageError(f"{shown}: {where}: dependencies must be an array")
        for raw in dependencies:
            dependency = _table(raw, shown, f"{where}: dependency")
            if not _marker_applies(dependency.get("marker"), environment, shown, where, notes):
                continue
            child = pick(dependency, where)
            if child is None:
                continue
            edges.setdefault(id(package), set()).add(child.name)
            queue.append((child, ""))
            for child_extra in dependency.get("extra", []) or []:
                queue.append((child, canonicalize_name(str(child_extra))))

    top_level: set[str] = set()
    for root in roots:
        top_level |= edges.get(id(root), set())
        if root.source.get("editable") is not None:
            notes.append(
                f"{shown}: the project {root.name} is installed in editable mode: its files are the app's"
            )
    locked: list[LockedPackage] = []
    for key, package in selected.items():
        if key in root_keys:
            continue
        locked.append(_uv_locked_package(app_root, package, sorted(edges.get(key, set())), target, shown))
    return LockedSet(
        manager="uv",
        lock_file=UV_LOCK,
        files_read=tuple(files_read),
        packages=_sorted(locked),
        top_level=tuple(sorted(top_level)),
        edges_known=True,
        notes=tuple(notes),
    )


def _uv_locked_package(
    app_root: Path, package: _UvPackage, requires: list[str], target: Target, shown: str
) -> LockedPackage:
    where = f"package {package.name}"
    source = package.source
    base = {"name": package.name, "version": package.version, "requires": tuple(requires)}
    for key in ("editable", "directory", "virtual"):
        if key in source:
            return LockedPackage(
                **base,  # type: ignore[arg-type]
                direct=f"{key} {source[key]}",
                note=f"installed from the app's folder {source[key]!r}: its files are counted with the app",
            )
    if "git" in source:
        return LockedPackage(
            **base,  # type: ignore[arg-type]
            chosen=LockedFile(f"{package.name} (git)", str(source["git"]), "sdist"),
            direct=f"git {source['git']}",
            note="built from a git checkout on the dyno",
        )
    source_path = app_root / str(source["path"]) if "path" in source else None

    def locate(entry: dict[str, Any], what: str) -> LockedFile | None:
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

    files: list[LockedFile] = []
    wheels = package.table.get("wheels", [])
    if not isinstance(wheels, list):
        raise UsageError(f"{shown}: {where}: wheels must be an array")
    for wheel in wheels:
        located = locate(_table(wheel, shown, f"{where}: wheel"), "wheel")
        if located is not None:
            files.append(located)
    if "sdist" in package.table:
        located = locate(_table(package.table["sdist"], shown, f"{where}: sdist"), "sdist")
        if located is not None:
            files.append(located)
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
