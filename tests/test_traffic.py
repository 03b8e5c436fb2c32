"""Tracebacks read from a server's output: chained ones, interrupted ones, interleaved ones."""

from __future__ import annotations

from slugprof.measure.traffic import _tracebacks, app_error

INTERLEAVED = [
    "[2026-01-01 00:00:00 +0000] [7] [INFO] Booting worker with pid: 8",  # 0
    "Traceback (most recent call last):",  # 1
    '  File "/srv/app/app.py", line 2, in <module>',  # 2
    "[2026-01-01 00:00:00 +0000] [9] [INFO] Booting worker with pid: 9",  # 3: another worker's line
    "    import missing",  # 4
    "ModuleNotFoundError: No module named 'missing'",  # 5
    "Traceback (most recent call last):",  # 6
    '  File "/srv/app/other.py", line 1, in <module>',  # 7
    "",  # 8: the output stops mid-traceback, without an exception line
    "Failed to find attribute 'app' in 'app'.",  # 9
]


def test_a_line_from_another_process_inside_a_traceback_is_not_part_of_it() -> None:
    chains, used = _tracebacks(INTERLEAVED)
    ((traceback,),) = chains
    assert traceback.frames == (("/srv/app/app.py", 2),)
    assert traceback.exception == "ModuleNotFoundError: No module named 'missing'"
    assert used == {1, 2, 4, 5, 6, 7}


def test_a_traceback_without_its_exception_line_ends_at_a_blank_line() -> None:
    assert app_error("\n".join(INTERLEAVED[6:])) == "Failed to find attribute 'app' in 'app'."


def test_chained_tracebacks_form_one_chain_and_a_new_one_starts_another() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'x'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "RuntimeError: y",
        "Traceback (most recent call last):",
        '  File "b.py", line 9, in <module>',
        "ValueError: z",
    ]
    chains, used = _tracebacks(lines)
    assert [[t.exception for t in chain] for chain in chains] == [
        ["KeyError: 'x'", "RuntimeError: y"],
        ["ValueError: z"],
    ]
    assert used == set(range(len(lines))) - {3, 5}
