from slugprof.measure.graph import closure, exclusive_sets

EDGES = {"a": ["b", "c"], "d": ["c"], "c": ["e"], "b": []}


def test_closure_follows_edges_and_survives_cycles() -> None:
    assert closure(["a"], EDGES) == {"a", "b", "c", "e"}
    assert closure(["x"], {"x": ["y"], "y": ["x"]}) == {"x", "y"}


def test_exclusive_sets_leave_shared_dependencies_out() -> None:
    exclusive = exclusive_sets(["a", "d"], EDGES)
    assert exclusive["a"] == {"a", "b"}  # c (and e) stay: d needs them
    assert exclusive["d"] == {"d"}
