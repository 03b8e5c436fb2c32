"""Resolve the app's dependencies for the dyno's platform, from any machine, without installing them.

- requirements.txt (pip): uv resolves for the dyno (`uv pip compile --python-platform ...`) from the
  packages' metadata alone: once in the pylock.toml format, which names each package's file for the
  target, and once in the annotated format, whose `# via` lines give the dependency edges. Without uv,
  pip's `install --dry-run --report` is the fallback (it evaluates markers on this machine: said in notes).
- uv.lock, poetry.lock, Pipfile.lock: the lock is the resolution. Where it names no URL, the file is found
  in the index's PEP 503 page (JSON when served, else the HTML anchors).

Resolutions are cached as JSON under `<cache>/resolve-v1/`, keyed by every manager file's bytes, the
target, the indexes and the resolver's version: a changed requirement re-resolves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from slugprof.errors import ToolFailure, UsageError
from slugprof.model import Resolution, Target
from slugprof.progress import NoProgress, Progress
from slugprof.resolve.cached import ResolutionCache, cache_key, lock_inputs
from slugprof.resolve.context import Context, requirements_files
from slugprof.resolve.locked import LOCK_READER_VERSION, resolution_from_lock
from slugprof.resolve.pip import pip_version, resolve_with_pip
from slugprof.resolve.uv import find_uv, resolve_with_uv, uv_version
from slugprof.sources.buildpack import PackageManagerChoice
from slugprof.sources.locks import read_pipfile_lock, read_poetry_lock, read_uv_lock

__all__ = ["find_uv", "resolve"]


def resolve(
    app_root: Path,
    target: Target,
    choice: PackageManagerChoice,
    *,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    cache_dir: Path | None,
    offline: bool,
    index_url: str | None = None,
    build_sdists: bool = False,
    edited: Mapping[str, str] | None = None,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> Resolution:
    """The packages the buildpack installs on `target`, each with the file it installs.

    `choice` is the package manager the buildpack selects (the caller has checked that the build gets
    that far). UsageError: a lock file is garbage. ToolFailure: a requirement cannot be resolved, or
    the index cannot be reached.
    """
    if choice.build_fails or choice.file is None:
        raise UsageError("the Heroku build would fail before installing dependencies: see the build verdict")
    if edited and choice.name != "pip":
        raise ToolFailure(f"{choice.file} would need locking again: changed requirements are sized for pip")
    notes: list[str] = []
    if choice.name != target.manager:
        notes.append(f"the app's {choice.file} selects {choice.name}, not {target.manager}")
        target = dataclasses.replace(target, manager=choice.name)
    extra_indexes = tuple(dotenv.get("PIP_EXTRA_INDEX_URL", "").split())
    context = Context(
        app_root=app_root,
        target=target,
        environ=environ,
        cache_dir=cache_dir,
        offline=offline,
        index_url=index_url,
        extra_indexes=extra_indexes,
        progress=progress,
        build_sdists=build_sdists,
        edited=edited or {},
    )

    uv = find_uv() if choice.name == "pip" else None
    if choice.name == "pip":
        resolver = uv_version(uv, context) if uv else pip_version(context)
        manager_files = requirements_files(app_root, target, edited)
    else:
        resolver = f"{choice.file} (lock reader {LOCK_READER_VERSION})"
        manager_files = lock_inputs(app_root, choice.file)
    # A resolution that may build sdists can differ (their dependencies are followed): kept apart.
    keyed_resolver = f"{resolver} building sdists" if build_sdists and choice.name == "pip" else resolver
    key = cache_key(app_root, manager_files, target, index_url, extra_indexes, keyed_resolver, edited)
    cache = ResolutionCache(cache_dir)
    cached = cache.get(key)
    if cached is not None:
        return cached

    if choice.name == "pip":
        resolution = resolve_with_uv(context, uv, resolver) if uv else resolve_with_pip(context, resolver)
    else:
        resolution = _from_lock(context, choice.name, {**environ, **dotenv}, resolver)
    if notes:
        resolution = dataclasses.replace(resolution, notes=(*notes, *resolution.notes))
    # A lock read offline is not kept: its files were not looked up yet.
    if not any(package.file is not None and not package.file.url for package in resolution.packages):
        cache.put(key, resolution)
    return resolution


def _from_lock(context: Context, manager: str, environ: Mapping[str, str], resolver: str) -> Resolution:
    if manager == "uv":
        locked = read_uv_lock(context.app_root, context.target)
    elif manager == "poetry":
        locked = read_poetry_lock(context.app_root, context.target)
    else:
        locked = read_pipfile_lock(context.app_root, context.target, environ=environ)
    return resolution_from_lock(context, locked, resolver)
