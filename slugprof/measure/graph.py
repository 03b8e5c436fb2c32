"""Dependency graphs: closures, and what each top-level requirement alone brings in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def closure(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(edges.get(name, ()))
    return seen


def exclusive_sets(tops: Iterable[str], edges: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """For each top-level name: the packages that would leave if it alone were removed."""
    tops = list(dict.fromkeys(tops))
    everything = closure(tops, edges)
    return {top: everything - closure([t for t in tops if t != top], edges) for top in tops}
