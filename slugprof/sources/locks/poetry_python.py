"""Poetry's Python constraint: which Python versions a Poetry project accepts.

Poetry reads `[project] requires-python` (PEP 440) and `[tool.poetry.dependencies] python` (its own
syntax, which must be a subset of the first) with one parser. Its syntax, as PEP 440 specifiers:
`^3.11` is `>=3.11,<4.0` (up to the next major; `^0.2` up to `0.3`), `~3.11` is `>=3.11,<3.12` (the
next minor; `~3` the next major), `~=3.11` is PEP 440's `>=3.11,<4.0`, `3.11.*` is `==3.11.*`, a bare
`3.11` is `==3.11` (3.11.0 only), `*` is anything; constraints joined by `,` or spaces must all hold,
alternatives are joined by `||`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_ONE = re.compile(r"\s*(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*(\*|[0-9][0-9A-Za-z.*+!_-]*)\s*,?")


@dataclass(frozen=True)
class PythonConstraint:
    """A Python constraint: any one of its alternatives, each a set of PEP 440 specifiers."""

    text: str  # as written
    alternatives: tuple[SpecifierSet, ...]
    shown: tuple[str, ...]  # each alternative's specifiers in the order written: ">=3.11,<4.0"

    def allows(self, version: str) -> bool:
        return any(each.contains(version, prereleases=True) for each in self.alternatives)

    @property
    def as_pep440(self) -> str:
        return " or ".join(each or "any version" for each in self.shown)


def parse_poetry_constraint(text: str) -> PythonConstraint | None:
    """The constraint, or None when it is not one Poetry's syntax allows."""
    alternatives: list[SpecifierSet] = []
    shown: list[str] = []
    for alternative in re.split(r"\s*\|\|?\s*", text.strip()):
        clauses = _alternative(alternative)
        if clauses is None:
            return None
        try:
            alternatives.append(SpecifierSet(",".join(clauses)))
        except InvalidSpecifier:
            return None
        shown.append(",".join(clauses))
    return PythonConstraint(text, tuple(alternatives), tuple(shown)) if alternatives else None


def _alternative(text: str) -> list[str] | None:
    clauses: list[str] = []
    position = 0
    while position < len(text):
        match = _ONE.match(text, position)
        if match is None or match.end() == position:
            return None
        position = match.end()
        converted = _clause(match.group(1) or "", match.group(2))
        if converted is None:
            return None
        clauses.extend(converted)
    return clauses


def _clause(operator: str, version: str) -> list[str] | None:
    """One constraint as PEP 440 specifiers."""
    if version == "*":
        return [] if operator in ("", "=", "==") else None
    if version.endswith(".*"):
        return (
            [f"{'!=' if operator == '!=' else '=='}{version}"] if operator in ("", "=", "==", "!=") else None
        )
    try:
        release = Version(version).release
    except InvalidVersion:
        return None
    if operator == "^":
        return [f">={version}", f"<{_caret_bound(release)}"]
    if operator == "~" or (operator == "~=" and len(release) < 2):
        return [f">={version}", f"<{_bump(release, 0 if len(release) == 1 else 1)}"]
    if operator in ("", "="):
        return [f"=={version}"]
    return [f"{operator}{version}"]


def _caret_bound(release: tuple[int, ...]) -> str:
    """The first version a caret constraint refuses: the next major, or below 1.0 the next non-zero part."""
    if release[0] > 0 or len(release) == 1:
        return _bump(release, 0)
    if release[1] > 0 or len(release) == 2:
        return _bump(release, 1)
    return _bump(release, 2)


def _bump(release: tuple[int, ...], index: int) -> str:
    parts = [*release[:index], release[index] + 1]
    return ".".join(str(part) for part in (parts if len(parts) > 1 else [*parts, 0]))


def poetry_python_constraints(pyproject: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Where the project states its Python, and what it says: `[project] requires-python` and
    `[tool.poetry.dependencies] python`, those present."""
    found: list[tuple[str, str]] = []
    project = pyproject.get("project")
    if isinstance(project, dict) and isinstance(project.get("requires-python"), str):
        found.append(("[project] requires-python", project["requires-python"]))
    tool = pyproject.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    dependencies = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(dependencies, dict):
        python = next((value for key, value in dependencies.items() if key.lower() == "python"), None)
        if isinstance(python, str):
            found.append(("[tool.poetry.dependencies] python", python))
    return found
