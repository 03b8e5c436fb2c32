"""Dependency graphs: closures, and what each top-level requirement alone brings in.

`what_leaves_with` is the one "what leaves with it" computation, for installed and resolved
dependencies alike: each walks its own graph (installed metadata follows extras; a resolution's edges
are already the resolver's) and hands its closure in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

Closure = Callable[[Iterable[str]], set[str]]


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


def what_leaves_with(tops: Iterable[str], closure_of: Closure) -> dict[str, set[str]]:
    """For each top-level name: the packages that would leave if it alone were removed, where
    `closure_of(roots)` is everything the roots bring in."""
    tops = list(dict.fromkeys(tops))
    everything = closure_of(tops)
    return {top: everything - closure_of([t for t in tops if t != top]) for top in tops}


def exclusive_sets(tops: Iterable[str], edges: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """`what_leaves_with` over a plain graph of edges (a resolution's)."""
    return what_leaves_with(tops, lambda roots: closure(roots, edges))
