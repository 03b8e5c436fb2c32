from collections.abc import Iterable

from slugprof.measure.graph import closure, exclusive_sets, what_leaves_with

EDGES = {"a": ["b", "c"], "d": ["c"], "c": ["e"], "b": []}


def test_closure_follows_edges_and_survives_cycles() -> None:
    assert closure(["a"], EDGES) == {"a", "b", "c", "e"}
    assert closure(["x"], {"x": ["y"], "y": ["x"]}) == {"x", "y"}


def test_exclusive_sets_leave_shared_dependencies_out() -> None:
    exclusive = exclusive_sets(["a", "d"], EDGES)
    assert exclusive["a"] == {"a", "b"}  # c (and e) stay: d needs them
    assert exclusive["d"] == {"d"}


def test_what_leaves_with_takes_any_walk() -> None:
    """The installed graph's walk follows extras: 'a[x]' brings in 'x-lib', which plain edges do not."""
    extras_edges = {**EDGES, "a[x]": ["a", "x-lib"]}

    def walk(roots: Iterable[str]) -> set[str]:
        return {name.split("[")[0] for name in closure(roots, extras_edges)}

    leaving = what_leaves_with(["a[x]", "d"], walk)
    assert leaving["a[x]"] == {"a", "b", "x-lib"}
    assert leaving["d"] == {"d"}
