"""The sampled estimator's bookkeeping, piece by piece, against a direct count over the pieces."""

from __future__ import annotations

import pytest

from slugprof.measure.compress import PIECE, _piece_count, _piece_length, _probability, _uncertain_bytes

LENGTHS = (1, 511, 512, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 700, 10 * PIECE)
UNITS = (0.0, 1.0, 512.0, 700.0, PIECE - 1.0, float(PIECE), PIECE + 1.0, 4.0 * PIECE, 1e9)


def _direct_count(length: int, unit: float) -> int:
    """The bytes of every piece whose inclusion probability is below 1, summed piece by piece."""
    pieces = range(_piece_count(length))
    return sum(_piece_length(length, k) for k in pieces if _probability(_piece_length(length, k), unit) < 1)


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("length", LENGTHS)
def test_uncertain_bytes_are_the_pieces_sampled_below_certainty(length: int, unit: float) -> None:
    assert _uncertain_bytes(length, unit) == _direct_count(length, unit)


def test_a_unit_of_zero_takes_everything() -> None:
    assert _uncertain_bytes(10 * PIECE, 0.0) == 0


def test_only_a_short_last_piece_is_uncertain_when_the_unit_is_one_piece() -> None:
    assert _uncertain_bytes(3 * PIECE + 700, float(PIECE)) == 700
