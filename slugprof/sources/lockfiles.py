"""Read the lock files the buildpack installs from, the way it installs them, for one target dyno.

- `uv.lock`: `uv sync --locked --no-default-groups`: the project's own dependencies (no dependency
  groups, no extras of the project), markers evaluated for the dyno, each package's wheel chosen by
  the dyno's tags from the wheels the lock lists (with their URL and, when the index gave it, size).
- `poetry.lock`: `poetry sync --only main`: the main group only, no extras; markers evaluated. The lock
  names each file (with its hash) but not its URL: that is looked up in the index later.
- `Pipfile.lock`: `pipenv install --deploy`: the "default" section only; markers evaluated; the lock
  holds hashes only, and the index each package comes from (`_meta.sources`).

Garbage, or a missing field the installer needs, is a one-line UsageError naming the file.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from slugprof.errors import UsageError
from slugprof.markers import decide
from slugprof.model import Target
from slugprof.sources.target import (
    choose_filename,
    is_sdist,
    tag_ranks,
    target_marker_environment,
    target_tags,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

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


# --- shared helpers --------------------------------------------------------------------------------


def _load_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"{shown}: cannot read it ({error.strerror or error})") from error
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UsageError(f"{shown}: not UTF-8 text") from error
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{shown}: not valid TOML ({error})") from error


def _table(value: object, shown: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{shown}: {what} must be a table")
    return value


def _text(value: object, shown: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{shown}: {what} must be a non-empty string")
    return value


def _marker_applies(
    text: object, environment: Mapping[str, str], shown: str, where: str, notes: list[str]
) -> bool:
    if text is not None and not isinstance(text, str):
        raise UsageError(f"{shown}: {where}: marker must be a string")
    decision = decide(text, environment, where=f"{shown}: {where}")
    if decision.note and decision.note not in notes:
        notes.append(decision.note)
    return decision.applies


def _file_url(path: Path) -> str:
    return path.resolve().as_uri()


def _filename_of(location: str) -> str:
    return unquote(urlsplit(location).path).rstrip("/").rsplit("/", 1)[-1]


def _choose(files: Iterable[LockedFile], target: Target) -> LockedFile | None:
    by_name = {file.filename: file for file in files}
    chosen = choose_filename(by_name, tag_ranks(target_tags(target)))
    return by_name[chosen] if chosen is not None else None


def _kind(filename: str) -> Literal["wheel", "sdist"] | None:
    if filename.endswith(".whl"):
        return "wheel"
    if is_sdist(filename):
        return "sdist"
    return None


def _sha256(value: object) -> str | None:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value.removeprefix("sha256:")
    return None


def _project_table(app_root: Path, files_read: list[str]) -> dict[str, Any]:
    path = app_root / "pyproject.toml"
    if not path.is_file():
        return {}
    files_read.append("pyproject.toml")
    return _load_toml(path, "pyproject.toml")


def _sorted(packages: Iterable[LockedPackage]) -> tuple[LockedPackage, ...]:
    return tuple(sorted(packages, key=lambda package: (package.name, package.version)))


# --- uv.lock -------------------------------------------------------------------------------------


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


# --- poetry.lock ---------------------------------------------------------------------------------


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

    tables: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(raw_packages, start=1):
        table = _table(raw, shown, f"package #{index}")
        name = str(canonicalize_name(_text(table.get("name"), shown, f"package #{index}: name")))
        _text(table.get("version"), shown, f"package {name}: version")
        tables[name] = table  # poetry locks one version per name

    pyproject = _project_table(app_root, files_read)
    main_requirements = _poetry_main_requirements(pyproject, environment, notes)

    def dependencies_of(name: str, extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
        table = tables[name]
        raw = table.get("dependencies", {})
        dependencies = _table(raw, shown, f"package {name}: dependencies")
        wanted_optional = set()
        package_extras = table.get("extras", {})
        if isinstance(package_extras, dict):
            for extra in extras:
                for requirement in package_extras.get(extra, []) or []:
                    wanted_optional.add(
                        canonicalize_name(re.split(r"[\s(\[;<>=!~]", str(requirement), maxsplit=1)[0])
                    )
        found: list[tuple[str, frozenset[str]]] = []
        for dependency_name, constraint in dependencies.items():
            child = canonicalize_name(dependency_name)
            # Several constraints for one name carry markers: the first that holds on the dyno counts.
            for item in constraint if isinstance(constraint, list) else [constraint]:
                child_extras: frozenset[str] = frozenset()
                if isinstance(item, dict):
                    if item.get("optional") and child not in wanted_optional:
                        continue
                    if not _marker_applies(item.get("markers"), environment, shown, f"package {name}", notes):
                        continue
                    child_extras = frozenset(canonicalize_name(str(e)) for e in item.get("extras", []) or [])
                if child in tables:
                    found.append((child, child_extras))
                break
        return found

    with_groups = bool(tables) and all("groups" in table for table in tables.values())
    selected: set[str] = set()
    if with_groups:
        for name, table in tables.items():
            groups = table.get("groups")
            if not isinstance(groups, list) or "main" not in groups or table.get("optional") is True:
                continue
            markers = table.get("markers")
            if isinstance(markers, dict):
                markers = markers.get("main")
            if _marker_applies(markers, environment, shown, f"package {name}", notes):
                selected.add(name)
    else:
        if main_requirements is None:
            categories = {name for name, table in tables.items() if table.get("category", "main") == "main"}
            main_requirements = [(name, frozenset()) for name in sorted(categories)]
            notes.append(f"{shown}: no pyproject.toml: every package of the main category is taken")
        queue = list(main_requirements)
        seen: set[tuple[str, frozenset[str]]] = set()
        while queue:
            name, extras = queue.pop()
            if name not in tables or (name, extras) in seen:
                continue
            seen.add((name, extras))
            selected.add(name)
            queue.extend(dependencies_of(name, extras))

    top_level = {name for name, _ in main_requirements or []} & selected
    if main_requirements is None:
        children = {child for name in selected for child, _ in dependencies_of(name, frozenset())}
        top_level = selected - children

    ranks = tag_ranks(target_tags(target))
    locked: list[LockedPackage] = []
    for name in selected:
        table = tables[name]
        version = str(table["version"])
        requires = tuple(sorted({child for child, _ in dependencies_of(name, frozenset())} & selected))
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
        source = table.get("source", {})
        source = source if isinstance(source, dict) else {}
        source_type, source_url = source.get("type"), source.get("url")
        common: dict[str, Any] = {
            "name": name,
            "version": version,
            "requires": requires,
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
            locked.append(
                LockedPackage(**common, chosen=chosen, direct=f"{source_type} {location}", note=note)
            )
            continue
        if source_type in ("file", "url"):
            location = str(source_url)
            url = location if source_type == "url" else _file_url(app_root / location)
            filename = _filename_of(location)
            chosen = LockedFile(
                filename, url, _kind(filename) or "sdist", sha256=files[0].sha256 if files else None
            )
            locked.append(LockedPackage(**common, chosen=chosen, direct=f"{source_type} {location}"))
            continue
        by_name = {file.filename: file for file in files}
        chosen_name = choose_filename(by_name, ranks)
        index_url = str(source_url) if source_type == "legacy" and source_url else None
        missing = "no file in the lock installs on the dyno" if chosen_name is None and files else None
        locked.append(
            LockedPackage(
                **common,
                chosen=by_name.get(chosen_name) if chosen_name else None,
                hashes=tuple(f.sha256 for f in files if f.sha256),
                index_url=index_url,
                note=missing,
            )
        )
    return LockedSet(
        manager="poetry",
        lock_file=POETRY_LOCK,
        files_read=tuple(files_read),
        packages=_sorted(locked),
        top_level=tuple(sorted(top_level)),
        edges_known=True,
        notes=tuple(notes),
    )


def _poetry_main_requirements(
    pyproject: Mapping[str, Any], environment: Mapping[str, str], notes: list[str]
) -> list[tuple[str, frozenset[str]]] | None:
    """The main group's direct requirements ([project] and [tool.poetry.dependencies]), markers evaluated."""
    if not pyproject:
        return None
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
    tool = pyproject.get("tool", {})
    poetry = tool.get("poetry", {}) if isinstance(tool, dict) else {}
    dependencies = poetry.get("dependencies", {}) if isinstance(poetry, dict) else {}
    for name, constraint in dependencies.items() if isinstance(dependencies, dict) else []:
        if name.lower() == "python":
            continue
        items = constraint if isinstance(constraint, list) else [constraint]
        for item in items:
            if isinstance(item, dict):
                if item.get("optional"):
                    continue
                where = f"[tool.poetry.dependencies] {name}"
                markers = str(item.get("markers") or "")
                if not _marker_applies(markers, environment, "pyproject.toml", where, notes):
                    continue
                found[canonicalize_name(name)] = frozenset(str(e) for e in item.get("extras", []) or [])
            else:
                found[canonicalize_name(name)] = frozenset()
            break
    return sorted(found.items())


# --- Pipfile.lock --------------------------------------------------------------------------------

_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass
class _PipfileSources:
    urls: dict[str, str] = field(default_factory=dict)
    first: str | None = None


def read_pipfile_lock(app_root: Path, target: Target, environ: Mapping[str, str] | None = None) -> LockedSet:
    """What `pipenv install --deploy` installs on the target: the "default" section of `Pipfile.lock`.

    `environ` expands `${VAR}` in the lock's source URLs, as Pipenv does (default: this process's).
    """
    shown = PIPFILE_LOCK
    try:
        text = (app_root / PIPFILE_LOCK).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise UsageError(f"{shown}: cannot read it ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{shown}: not UTF-8 text") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{shown}: not valid JSON ({error})") from error
    document = _table(document, shown, "the document")
    files_read = [PIPFILE_LOCK]
    notes: list[str] = []
    meta = _table(document.get("_meta", {}), shown, "_meta")
    variables = dict(os.environ if environ is None else environ)
    sources = _PipfileSources()
    raw_sources = meta.get("sources", [])
    if not isinstance(raw_sources, list):
        raise UsageError(f"{shown}: _meta.sources must be an array")
    for raw in raw_sources:
        source = _table(raw, shown, "_meta.sources entry")
        url = _expand(_text(source.get("url"), shown, "_meta.sources: url"), variables, shown)
        sources.urls[str(source.get("name", ""))] = url
        sources.first = sources.first or url
    if "default" not in document:
        raise UsageError(f'{shown}: no "default" section')
    default = _table(document["default"], shown, '"default"')
    environment = target_marker_environment(target)

    locked: list[LockedPackage] = []
    for raw_name, raw in default.items():
        entry = _table(raw, shown, f"package {raw_name}")
        name = canonicalize_name(raw_name)
        where = f"package {raw_name}"
        if not _marker_applies(entry.get("markers"), environment, shown, where, notes):
            continue
        hashes = entry.get("hashes", [])
        if not isinstance(hashes, list):
            raise UsageError(f"{shown}: {where}: hashes must be an array")
        digests = tuple(d for d in (_sha256(h) for h in hashes) if d)
        extras = tuple(canonicalize_name(str(e)) for e in entry.get("extras", []) or [])
        vcs = next((key for key in ("git", "hg", "svn", "bzr") if key in entry), None)
        if vcs is not None:
            location = f"{vcs}+{entry[vcs]}" + (f"@{entry['ref']}" if entry.get("ref") else "")
            locked.append(
                LockedPackage(
                    name=name,
                    version=str(entry.get("version", "")).removeprefix("=="),
                    chosen=LockedFile(f"{name} ({vcs})", location, "sdist"),
                    extras=extras,
                    direct=location,
                    note=f"built from a {vcs} checkout on the dyno",
                )
            )
            continue
        if "path" in entry:
            locked.append(
                LockedPackage(
                    name=name,
                    version=str(entry.get("version", "")).removeprefix("=="),
                    extras=extras,
                    direct=f"path {entry['path']}",
                    note=f"installed from the app's folder {entry['path']!r}: counted with the app",
                )
            )
            continue
        if "file" in entry:
            location = str(entry["file"])
            filename = _filename_of(location)
            url = location if "://" in location else _file_url(app_root / location)
            locked.append(
                LockedPackage(
                    name=name,
                    version=str(entry.get("version", "")).removeprefix("=="),
                    chosen=LockedFile(filename, url, _kind(filename) or "sdist"),
                    extras=extras,
                    direct=f"file {location}",
                )
            )
            continue
        version = _text(entry.get("version"), shown, f"{where}: version")
        if not version.startswith("=="):
            raise UsageError(f"{shown}: {where}: version {version!r} is not pinned with '=='")
        index_name = entry.get("index")
        if index_name is not None and str(index_name) not in sources.urls:
            raise UsageError(f"{shown}: {where}: index {index_name!r} is not in _meta.sources")
        index_url = sources.urls[str(index_name)] if index_name is not None else sources.first
        locked.append(
            LockedPackage(
                name=name,
                version=version.removeprefix("=="),
                hashes=digests,
                index_url=index_url,
                extras=extras,
            )
        )

    top_level: set[str] = set()
    pipfile = app_root / "Pipfile"
    if pipfile.is_file():
        files_read.append("Pipfile")
        packages = _load_toml(pipfile, "Pipfile").get("packages", {})
        if isinstance(packages, dict):
            top_level = {canonicalize_name(name) for name in packages}
    else:
        notes.append("no Pipfile: which packages are top-level is unknown")
    names = {package.name for package in locked}
    return LockedSet(
        manager="pipenv",
        lock_file=PIPFILE_LOCK,
        files_read=tuple(files_read),
        packages=_sorted(locked),
        top_level=tuple(sorted(top_level & names)),
        edges_known=False,
        notes=tuple(notes),
    )


def _expand(url: str, variables: Mapping[str, str], shown: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise UsageError(f"{shown}: a source URL uses ${{{name}}}, which is not set")
        return variables[name]

    return _ENV_REFERENCE.sub(replace, url)
