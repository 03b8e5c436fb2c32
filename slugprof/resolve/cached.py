"""Resolutions kept between runs, through the project's cache."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from slugprof.cache import JsonStore, digest_key, versioned
from slugprof.model import Resolution, ResolvedFile, ResolvedPackage, Target

CACHE_FORMAT = versioned("resolve", 1)  # bump when a Resolution is stored differently


def lock_inputs(app_root: Path, lock_file: str) -> tuple[str, ...]:
    """The lock file and the project file beside it: what a locked resolution depends on."""
    companions = {
        "Pipfile.lock": ("Pipfile",),
        "poetry.lock": ("pyproject.toml",),
        "uv.lock": ("pyproject.toml",),
    }
    return (lock_file, *(name for name in companions.get(lock_file, ()) if (app_root / name).is_file()))


def cache_key(
    app_root: Path,
    manager_files: Sequence[str],
    target: Target,
    index_url: str | None,
    extra_indexes: Sequence[str],
    resolver: str,
    edited: Mapping[str, str] | None = None,
) -> str:
    """A key for everything a resolution depends on: each manager file's bytes (or its text as a fix
    would leave it), the target, the indexes and the resolver's version."""
    parts: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "target": dataclasses.asdict(target),
        "index_url": index_url,
        "extra_indexes": list(extra_indexes),
        "resolver": resolver,
        "files": {},
    }
    for relative in manager_files:
        if edited and relative in edited:
            parts["files"][relative] = hashlib.sha256(edited[relative].encode("utf-8")).hexdigest()
            continue
        try:
            parts["files"][relative] = hashlib.sha256((app_root / relative).read_bytes()).hexdigest()
        except OSError:
            parts["files"][relative] = None
    return digest_key(parts)


def resolution_to_json(resolution: Resolution) -> dict[str, Any]:
    return dataclasses.asdict(resolution)


def resolution_from_json(data: Mapping[str, Any]) -> Resolution:
    """The inverse of resolution_to_json; KeyError/TypeError/ValueError on a document of another shape."""
    packages = []
    for raw in data["packages"]:
        file = raw["file"]
        packages.append(
            ResolvedPackage(
                name=str(raw["name"]),
                version=str(raw["version"]),
                file=ResolvedFile(**file) if file is not None else None,
                requires=tuple(raw["requires"]),
                top_level=bool(raw["top_level"]),
                requested_by=tuple(raw["requested_by"]),
            )
        )
    return Resolution(
        target=Target(**data["target"]),
        resolver=str(data["resolver"]),
        manager_files=tuple(data["manager_files"]),
        top_level=tuple(data["top_level"]),
        packages=tuple(packages),
        notes=tuple(data["notes"]),
        from_cache=bool(data.get("from_cache", False)),
    )


class ResolutionCache:
    """Resolutions by key in `<cache>/resolve-v1/`; a cache_dir of None keeps nothing."""

    def __init__(self, cache_dir: Path | None) -> None:
        self._store = JsonStore(cache_dir, CACHE_FORMAT)

    def get(self, key: str) -> Resolution | None:
        data = self._store.get(key)
        if data is None:
            return None
        try:
            return dataclasses.replace(resolution_from_json(data), from_cache=True)
        except (ValueError, KeyError, TypeError):
            return None  # written by another version: resolve again

    def put(self, key: str, resolution: Resolution) -> None:
        self._store.put(key, resolution_to_json(dataclasses.replace(resolution, from_cache=False)))
