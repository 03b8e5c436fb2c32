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
    lent: dict[str, metadata.Distribution] = {}
    expanded: set[tuple[str, frozenset[str]]] = set()
    shadowed: list[str] = []
    pending = [Requirement("memray")]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        theirs = app_installed.get(name)
        key = (name, frozenset(requirement.extras))
        if key in expanded or (name != "memray" and theirs is not None and _satisfies(requirement, theirs)):
            continue
        expanded.add(key)
        if name not in lent:
            try:
                lent[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError as error:
                if name == "memray":
                    raise CannotLend("its distribution metadata is missing") from error
                continue  # not installed with slugprof either, where memray runs without it
            if theirs is not None and name != "memray":
                shadowed.append(f"{lent[name].metadata['Name']} {lent[name].version}")
        pending.extend(_runtime_requirements(lent[name], requirement.extras))
    paths: set[str] = set()
    for lent_name, distribution in lent.items():
        files = distribution.files
        if not files:
            raise CannotLend(f"{lent_name} lists no files")
        for top in {f.parts[0] for f in files if f.parts}:
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            location = Path(str(distribution.locate_file(top)))
            if location.exists():
                paths.add(str(location))
    return tuple(sorted(paths)), sorted(shadowed)


def lend_folder(output_dir: Path, paths: Iterable[str]) -> Path:
    """A folder holding only links to memray and the dependencies lent with it."""
    folder = output_dir / LENT_FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / Path(path).name
        if not link.is_symlink():
            link.symlink_to(path, target_is_directory=Path(path).is_dir())
    return folder
