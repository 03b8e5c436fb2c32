"""Lending slugprof's own memray to an app environment without one: which files, and the folder of links
put first on the app's PYTHONPATH while it runs under memray.

Measured with memray 1.20 (CPython 3.11, Linux): `memray run` imports jinja2, markupsafe, platformdirs,
rich, textual and typing_extensions (and many standard modules: asyncio, json, logging, ssl...) into the
tracked process before tracking starts. Their memory is in the process's RSS (about 20 MiB more per
process, inherited by the workers) but not in the captures, and an app's own import of them (Flask
imports jinja2) costs nothing there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from slugprof.markers import decide

LENT_FOLDER_NAME = "memray-lent"  # in the output folder: links to slugprof's memray and its dependencies


class CannotLend(Exception):
    pass


def _runtime_requirements(distribution: metadata.Distribution, extras: Iterable[str]) -> list[Requirement]:
    """What the distribution needs at run time, with the extras it is required with."""
    environments = [{"extra": extra} for extra in ("", *extras)]
    requirements = []
    for text in distribution.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        where = f"{distribution.metadata['Name']}: its requirement {requirement.name}"
        if any(decide(requirement.marker, environment, where=where).applies for environment in environments):
            requirements.append(requirement)
    return requirements


def memray_closure() -> list[str]:
    """memray and every distribution it needs at run time, as installed alongside slugprof."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement("memray")]
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        pending.extend(_runtime_requirements(distribution, requirement.extras))
    return sorted({name for name, _ in seen})


def _satisfies(requirement: Requirement, version: str) -> bool:
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def lent_distributions(app_installed: Mapping[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """The top-level files and folders of memray and of the dependencies the app's environment lacks.

    A dependency the app already has in a version memray accepts is not lent: `memray run` imports its
    dependencies into the app's process, and the app must keep its own versions where it can. Returns
    the paths and the app's distributions that the lent ones replace while profiling.
    """
    lent, shadowed = _lent_closure(app_installed)
    paths: set[str] = set()
    for lent_name, distribution in lent.items():
        paths.update(_top_level_paths(lent_name, distribution))
    return tuple(sorted(paths)), sorted(shadowed)


def _lent_closure(app_installed: Mapping[str, str]) -> tuple[dict[str, metadata.Distribution], list[str]]:
    """memray and the run-time dependencies the app's environment cannot provide, as installed alongside
    slugprof; and the app's distributions (name and version) that they replace."""
    lent: dict[str, metadata.Distribution] = {}
    expanded: set[tuple[str, frozenset[str]]] = set()
    shadowed: list[str] = []
    pending = [Requirement("memray")]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        theirs = app_installed.get(name)
        key = (name, frozenset(requirement.extras))
        if key in expanded or _the_app_provides(requirement, theirs):
            continue
        expanded.add(key)
        if name not in lent:
            distribution = _slugprofs_distribution(name)
            if distribution is None:
                continue  # not installed with slugprof either, where memray runs without it
            lent[name] = distribution
            if theirs is not None and name != "memray":
                shadowed.append(f"{distribution.metadata['Name']} {distribution.version}")
        pending.extend(_runtime_requirements(lent[name], requirement.extras))
    return lent, shadowed


def _the_app_provides(requirement: Requirement, app_version: str | None) -> bool:
    """The app has this dependency in a version memray accepts (memray itself is always lent)."""
    if canonicalize_name(requirement.name) == "memray" or app_version is None:
        return False
    return _satisfies(requirement, app_version)


def _slugprofs_distribution(name: str) -> metadata.Distribution | None:
    """The distribution as installed alongside slugprof, None if it is not; memray must be."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError as error:
        if name == "memray":
            raise CannotLend("its distribution metadata is missing") from error
        return None


def _top_level_paths(name: str, distribution: metadata.Distribution) -> set[str]:
    """The distribution's installed top-level files and folders (no .pth files, nothing outside)."""
    files = distribution.files
    if not files:
        raise CannotLend(f"{name} lists no files")
    paths: set[str] = set()
    for top in {f.parts[0] for f in files if f.parts}:
        if top in ("..", "__pycache__") or top.endswith(".pth"):
            continue
        location = Path(str(distribution.locate_file(top)))
        if location.exists():
            paths.add(str(location))
    return paths


def lend_folder(output_dir: Path, paths: Iterable[str]) -> Path:
    """A folder holding only links to memray and the dependencies lent with it."""
    folder = output_dir / LENT_FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / Path(path).name
        if not link.is_symlink():
            link.symlink_to(path, target_is_directory=Path(path).is_dir())
    return folder
