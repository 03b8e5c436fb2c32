"""The dyno the dependencies are installed on: its stack, architecture, glibc and Python, and what follows.

From the target come the PEP 508 marker values the buildpack's installer evaluates, the wheel tags it
accepts (heroku-facts 3.5: CPython ABI, abi3, pure wheels, manylinux up to the stack's glibc, never
musllinux) and the `--python-platform` uv resolves for. Nothing here looks at the machine slugprof runs on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, cast

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from slugprof.errors import UsageError
from slugprof.heroku import (
    ARCHES,
    HEROKU_26_GLIBC_DEFAULT,
    LATEST_PYTHON_PATCH,
    PACKAGE_MANAGERS,
    STACK_ARCHES,
    STACK_GLIBC,
    STACKS,
)
from slugprof.model import Target

# The highest manylinux glibc uv's `--python-platform` names (uv 0.13).
UV_MAX_MANYLINUX_MINOR = 40

_PYTHON = re.compile(r"^3\.(\d+)(?:\.(\d+))?$")
_GLIBC = re.compile(r"^2\.(\d+)$")


def make_target(
    stack: str,
    arch: str,
    python: str,
    manager: str,
    glibc_overrides: Mapping[str, str] | None = None,
) -> Target:
    """The target dyno; `glibc_overrides` (stack -> "2.NN") come from settings. UsageError when unknown."""
    if stack not in STACKS:
        raise UsageError(f"unknown stack {stack!r}: choose one of {', '.join(STACKS)}")
    if arch not in ARCHES:
        raise UsageError(f"unknown architecture {arch!r}: choose amd64 or arm64")
    if arch not in STACK_ARCHES[stack]:
        raise UsageError(f"{stack} runs on amd64 only: the buildpack has no arm64 Python for it")
    if not _PYTHON.match(python):
        raise UsageError(f"Python version {python!r} is not of the form 3.N or 3.N.N")
    if manager not in PACKAGE_MANAGERS:
        raise UsageError(f"unknown package manager {manager!r}: choose one of {', '.join(PACKAGE_MANAGERS)}")
    overrides = glibc_overrides or {}
    glibc = overrides.get(stack) or STACK_GLIBC.get(stack) or HEROKU_26_GLIBC_DEFAULT
    if not _GLIBC.match(glibc):
        raise UsageError(f"glibc version {glibc!r} for {stack} is not of the form 2.NN")
    return Target(
        stack=stack,
        arch=cast(Literal["amd64", "arm64"], arch),
        python=python,
        glibc=glibc,
        manager=manager,
    )


def python_full_version(target: Target) -> str:
    """The patch release the buildpack installs: the one named, else its latest for that minor."""
    if target.python.count(".") >= 2:
        return target.python
    return LATEST_PYTHON_PATCH.get(target.python_minor, f"{target.python_minor}.0")


def target_marker_environment(target: Target) -> dict[str, str]:
    """PEP 508 marker values on the dyno (Linux, CPython); the kernel's release and version are unknown."""
    full = python_full_version(target)
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": target.python_minor,
        "sys_platform": "linux",
    }


def _glibc_minor(target: Target) -> int:
    match = _GLIBC.match(target.glibc)
    if match is None:  # make_target checked it; a hand-made Target may not have been
        raise UsageError(f"glibc version {target.glibc!r} is not of the form 2.NN")
    return int(match.group(1))


def platform_tags(target: Target) -> list[str]:
    """Platform tags pip accepts on the dyno, best first: manylinux_2_Y (Y <= glibc) with the legacy
    aliases at 2.17/2.12/2.5, then plain `linux_<machine>` (pip on Linux takes those too)."""
    machine = target.machine
    # packaging's rule: x86_64 goes down to glibc 2.5 (manylinux1), other architectures to 2.17.
    lowest = 5 if machine == "x86_64" else 17
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags: list[str] = []
    for minor in range(_glibc_minor(target), lowest - 1, -1):
        tags.append(f"manylinux_2_{minor}_{machine}")
        if minor in legacy:
            tags.append(f"{legacy[minor]}_{machine}")
    tags.append(f"linux_{machine}")
    return tags


def target_tags(target: Target) -> list[Tag]:
    """Every wheel tag the dyno's CPython installs, most preferred first (pip's order)."""
    major, minor = (int(part) for part in target.python_minor.split("."))
    platforms = platform_tags(target)
    tags = list(cpython_tags((major, minor), abis=[f"cp{major}{minor}"], platforms=platforms))
    tags += compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=platforms)
    return tags


def uv_python_platform(target: Target) -> str:
    """uv's `--python-platform` for the dyno, e.g. "x86_64-manylinux_2_39" (capped at what uv knows)."""
    return f"{target.machine}-manylinux_2_{min(_glibc_minor(target), UV_MAX_MANYLINUX_MINOR)}"


def describe(target: Target) -> str:
    """ "heroku-24/amd64, Python 3.13" for messages."""
    return f"{target.stack}/{target.arch}, Python {target.python}"


# --- choosing a file for the target ----------------------------------------------------------------


def tag_ranks(tags: Sequence[Tag]) -> dict[Tag, int]:
    """Tag -> priority (0 is best), for wheel_rank."""
    ranks: dict[Tag, int] = {}
    for index, tag in enumerate(tags):
        ranks.setdefault(tag, index)
    return ranks


def wheel_rank(filename: str, ranks: Mapping[Tag, int]) -> int | None:
    """The best priority among a wheel's tags, or None when the dyno cannot install it."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    found = [ranks[tag] for tag in tags if tag in ranks]
    return min(found) if found else None


def is_sdist(filename: str) -> bool:
    """A source archive pip would build (the formats it still accepts)."""
    if filename.endswith((".tar.bz2", ".tgz", ".tar")):
        return True
    if not filename.endswith((".tar.gz", ".zip")):
        return False
    try:
        parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return False
    return True


def choose_filename(filenames: Iterable[str], ranks: Mapping[Tag, int]) -> str | None:
    """The file the dyno's installer picks: the best-ranked wheel, else an sdist (.tar.gz first)."""
    best: tuple[int, str] | None = None
    sdists: list[str] = []
    for filename in filenames:
        if filename.endswith(".whl"):
            rank = wheel_rank(filename, ranks)
            if rank is not None and (best is None or (rank, filename) < best):
                best = (rank, filename)
        elif is_sdist(filename):
            sdists.append(filename)
    if best is not None:
        return best[1]
    if sdists:
        return sorted(sdists, key=lambda name: (not name.endswith(".tar.gz"), name))[0]
    return None
