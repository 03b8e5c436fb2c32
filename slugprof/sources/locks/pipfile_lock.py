"""Read `Pipfile.lock` as `pipenv install --deploy` installs it: the "default" section."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from slugprof.errors import UsageError
from slugprof.model import Target
from slugprof.sources.locks.common import (
    _file_url,
    _filename_of,
    _kind,
    _load_toml,
    _marker_applies,
    _sha256,
    _sorted,
    _table,
    _text,
)
from slugprof.sources.locks.results import PIPFILE_LOCK, LockedFile, LockedPackage, LockedSet
from slugprof.sources.target import (
    target_marker_environment,
)

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
    document = _load_json(app_root / PIPFILE_LOCK, shown)
    files_read = [PIPFILE_LOCK]
    notes: list[str] = []
    meta = _table(document.get("_meta", {}), shown, "_meta")
    sources = _pipfile_sources(meta, dict(os.environ if environ is None else environ), shown)
    if "default" not in document:
        raise UsageError(f'{shown}: no "default" section')
    default = _table(document["default"], shown, '"default"')
    environment = target_marker_environment(target)

    locked: list[LockedPackage] = []
    for raw_name, raw in default.items():
        entry = _table(raw, shown, f"package {raw_name}")
        if not _marker_applies(entry.get("markers"), environment, shown, f"package {raw_name}", notes):
            continue
        if _app_folder(app_root, entry):
            notes.append(
                f"{shown}: {raw_name} is installed editable from the app's folder {entry['path']!r}: its "
                "files are counted with the app"
            )
            continue
        locked.append(_pipfile_locked_package(app_root, raw_name, entry, sources, shown))

    top_level = _pipfile_top_level(app_root, files_read, notes)
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


def _load_json(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise UsageError(f"{shown}: cannot read it ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{shown}: not UTF-8 text") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{shown}: not valid JSON ({error})") from error
    return _table(document, shown, "the document")


def _pipfile_sources(meta: Mapping[str, Any], variables: Mapping[str, str], shown: str) -> _PipfileSources:
    sources = _PipfileSources()
    raw_sources = meta.get("sources", [])
    if not isinstance(raw_sources, list):
        raise UsageError(f"{shown}: _meta.sources must be an array")
    for raw in raw_sources:
        source = _table(raw, shown, "_meta.sources entry")
        url = _expand(_text(source.get("url"), shown, "_meta.sources: url"), variables, shown)
        sources.urls[str(source.get("name", ""))] = url
        sources.first = sources.first or url
    return sources


def _pipfile_locked_package(
    app_root: Path, raw_name: str, entry: Mapping[str, Any], sources: _PipfileSources, shown: str
) -> LockedPackage:
    """One entry of the "default" section: from a VCS, a local folder, a file or URL, or an index."""
    name = canonicalize_name(raw_name)
    where = f"package {raw_name}"
    hashes = entry.get("hashes", [])
    if not isinstance(hashes, list):
        raise UsageError(f"{shown}: {where}: hashes must be an array")
    digests = tuple(d for d in (_sha256(h) for h in hashes) if d)
    extras = tuple(canonicalize_name(str(e)) for e in entry.get("extras", []) or [])
    direct = _pipfile_direct_package(app_root, name, entry, extras)
    if direct is not None:
        return direct
    version = _text(entry.get("version"), shown, f"{where}: version")
    if not version.startswith("=="):
        raise UsageError(f"{shown}: {where}: version {version!r} is not pinned with '=='")
    index_name = entry.get("index")
    if index_name is not None and str(index_name) not in sources.urls:
        raise UsageError(f"{shown}: {where}: index {index_name!r} is not in _meta.sources")
    index_url = sources.urls[str(index_name)] if index_name is not None else sources.first
    return LockedPackage(
        name=name,
        version=version.removeprefix("=="),
        hashes=digests,
        index_url=index_url,
        extras=extras,
    )


def _pipfile_direct_package(
    app_root: Path, name: str, entry: Mapping[str, Any], extras: tuple[str, ...]
) -> LockedPackage | None:
    """The package when it comes from a VCS, a local folder or a file or URL; None when from an index."""
    version = str(entry.get("version", "")).removeprefix("==")
    vcs = next((key for key in ("git", "hg", "svn", "bzr") if key in entry), None)
    if vcs is not None:
        location = _vcs_location(vcs, entry)
        editable = bool(entry.get("editable"))
        return LockedPackage(
            name=name,
            version=version or "unknown",
            chosen=LockedFile(f"{name} ({vcs})", location, "sdist", editable=editable),
            extras=extras,
            direct=location,
            note=f"installed editable: Pipenv clones the {vcs} repository into the slug"
            if editable
            else f"built from a {vcs} checkout on the dyno",
        )
    if "path" in entry:
        return LockedPackage(
            name=name,
            version=version,
            extras=extras,
            direct=f"path {entry['path']}",
            note=f"installed from the app's folder {entry['path']!r}: counted with the app",
        )
    if "file" in entry:
        location = str(entry["file"])
        filename = _filename_of(location)
        url = location if "://" in location else _file_url(app_root / location)
        return LockedPackage(
            name=name,
            version=version,
            chosen=LockedFile(filename, url, _kind(filename) or "sdist"),
            extras=extras,
            direct=f"file {location}",
        )
    return None


def _vcs_location(vcs: str, entry: Mapping[str, Any]) -> str:
    """The pip URL of a VCS entry as Pipenv writes it: `"git": "https://..."` (or already
    `"git+https://..."`), `"ref"` the commit or tag, `"subdirectory"` the project's folder in it."""
    url = str(entry[vcs])
    if not url.lower().startswith(f"{vcs}+"):
        url = f"{vcs}+{url}"
    url, _, fragment = url.partition("#")
    ref = entry.get("ref")
    if ref:
        url = f"{url}@{ref}"
    subdirectory = entry.get("subdirectory")
    if subdirectory and "subdirectory=" not in fragment:
        fragment = "&".join(part for part in (fragment, f"subdirectory={subdirectory}") if part)
    return f"{url}#{fragment}" if fragment else url


def _app_folder(app_root: Path, entry: Mapping[str, Any]) -> bool:
    """An editable install of a folder inside the app: its files ship as the app's."""
    if "path" not in entry or not entry.get("editable"):
        return False
    try:
        (app_root / str(entry["path"])).resolve().relative_to(app_root.resolve())
    except ValueError:
        return False
    return True


def _pipfile_top_level(app_root: Path, files_read: list[str], notes: list[str]) -> set[str]:
    """The packages the Pipfile asks for directly; none known without a Pipfile."""
    pipfile = app_root / "Pipfile"
    if not pipfile.is_file():
        notes.append("no Pipfile: which packages are top-level is unknown")
        return set()
    files_read.append("Pipfile")
    packages = _load_toml(pipfile, "Pipfile").get("packages", {})
    if isinstance(packages, dict):
        return {canonicalize_name(name) for name in packages}
    return set()


def _expand(url: str, variables: Mapping[str, str], shown: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise UsageError(f"{shown}: a source URL uses ${{{name}}}, which is not set")
        return variables[name]

    return _ENV_REFERENCE.sub(replace, url)
