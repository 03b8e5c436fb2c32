"""Whether two environment markers select the same environments, for a project of a given requires-python.

uv writes the markers of a lock in its own normal form (`python_version >= '3.8'` becomes
`python_full_version >= '3.8'`, a marker always true for the project's Python versions is dropped), and
compares markers by what they select. Comparing their text would call a fresh lock stale, so two markers
are equal here when their text is, or when they agree on every environment of a grid built from the
values they name: Python versions around each version they compare with (only those the project's
requires-python admits) and, for every other variable, each value they name plus one they do not.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from packaging.markers import Marker, default_environment
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

_PYTHON_VARIABLES = ("python_version", "python_full_version")
# packaging writes a marker as `variable op "value"` (or `"value" op variable`), values in double quotes.
_OPERATOR = r"(?:===|==|!=|<=|>=|~=|<|>|not in|in)"
_VARIABLE_FIRST = re.compile(rf'(\w+)\s*{_OPERATOR}\s*"([^"]*)"')
_VALUE_FIRST = re.compile(rf'"([^"]*)"\s*{_OPERATOR}\s*(\w+)')
_UNNAMED = "slugprof-unnamed-value"  # a value no marker names: the "anything else" of a variable
_GRID_LIMIT = 20_000  # environments; past it, only the text decides


def markers_equal(first: Marker | None, second: Marker | None, requires_python: SpecifierSet) -> bool:
    """Whether the two markers (None: no marker, always true) select the same environments among those
    whose Python satisfies `requires_python`."""
    if str(first or "") == str(second or ""):
        return True
    named = _named_values(" ".join(str(marker) for marker in (first, second) if marker is not None))
    pythons = _python_versions(
        [value for variable in _PYTHON_VARIABLES for value in named.pop(variable, [])], requires_python
    )
    variables = sorted(named)
    values = [[*named[variable], "", _UNNAMED] for variable in variables]
    size = len(pythons) * _product_size(values)
    if size == 0 or size > _GRID_LIMIT:
        return False
    base: dict[str, str] = {key: str(value) for key, value in default_environment().items()}
    for python in pythons:
        for combination in itertools.product(*values):
            environment: dict[str, str] = {
                **base,
                "python_full_version": python,
                "python_version": ".".join(python.split(".")[:2]),
                "extra": "",
                **dict(zip(variables, combination, strict=True)),
            }
            if _evaluate(first, environment) != _evaluate(second, environment):
                return False
    return True


def _named_values(text: str) -> dict[str, list[str]]:
    """Each variable the markers compare, with the values they compare it with."""
    named: dict[str, list[str]] = {}
    pairs = [(v, value) for v, value in _VARIABLE_FIRST.findall(text)]
    pairs += [(v, value) for value, v in _VALUE_FIRST.findall(text)]
    for variable, value in pairs:
        if value not in named.setdefault(variable, []):
            named[variable].append(value)
    return named


def _evaluate(marker: Marker | None, environment: dict[str, str]) -> bool | None:
    if marker is None:
        return True
    try:
        return marker.evaluate(environment)
    except Exception:  # a comparison packaging cannot make: undecided, equal only to itself
        return None


def _product_size(values: list[list[str]]) -> int:
    size = 1
    for each in values:
        size *= len(each)
    return size


def _python_versions(literals: Iterable[str], requires_python: SpecifierSet) -> list[str]:
    """X.Y.0 for every minor from 2.7 to 3.30, and the neighbours of each version the markers name,
    kept when requires-python admits them."""
    candidates: set[tuple[int, int, int]] = {(2, 7, 0), (2, 7, 18)}
    candidates |= {(3, minor, 0) for minor in range(31)}
    for literal in literals:
        try:
            release = Version(literal.rstrip(".*")).release
        except InvalidVersion:
            continue
        major, minor, patch = (*release, 0, 0)[:3]
        for bumped in ((major, minor, patch), (major, minor, patch + 1), (major, minor, max(patch - 1, 0))):
            candidates.add(bumped)
        candidates |= {(major, minor, 99), (major, minor + 1, 0), (major, max(minor - 1, 0), 99)}
    versions = [".".join(str(part) for part in version) for version in sorted(candidates)]
    return [version for version in versions if requires_python.contains(version, prereleases=True)]
