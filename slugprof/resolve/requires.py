"""The dependencies a package's metadata names for the dyno: Requires-Dist with markers evaluated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from slugprof.markers import decide


def requires_from_metadata(
    requires_dist: Iterable[str], extras: Sequence[str], environment: Mapping[str, str]
) -> set[str]:
    """The canonical names of the requirements that apply on the dyno, with the given extras."""
    found: set[str] = set()
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if not decide(requirement.marker, environment, where=requirement.name, extras=extras).applies:
            continue
        found.add(canonicalize_name(requirement.name))
    return found
