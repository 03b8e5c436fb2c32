"""The model's JSON codec on each kind of type hint it knows, and the field its errors name."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import pytest

from slugprof.model.codec import DecodeError, decode, encode, transient


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Inner:
    name: str
    size: int = 0


@dataclass(frozen=True)
class Sample:
    kind: Literal["a", "b"]
    colour: Colour
    ratio: float
    flag: bool
    maybe: int | None
    old_style: Optional[str]  # noqa: UP045 (the typing.Union origin, as older models write it)
    pair: tuple[str, int]
    many: tuple[Inner, ...]
    by_pid: dict[int, Inner]
    by_name: dict[str, float]
    anything: Any
    nothing: None = None
    note: str = "default"
    scratch: tuple[int, ...] = transient(())


SAMPLE = Sample(
    kind="b",
    colour=Colour.BLUE,
    ratio=0.5,
    flag=True,
    maybe=None,
    old_style="x",
    pair=("p", 2),
    many=(Inner("one", 1), Inner("two")),
    by_pid={7: Inner("seven", 7)},
    by_name={"x": 1.5},
    anything={"free": ["form"]},
    scratch=(1, 2),
)


def test_every_kind_of_hint_round_trips_and_transient_fields_are_not_written() -> None:
    data = encode(SAMPLE)
    assert "scratch" not in data and data["by_pid"] == {"7": {"name": "seven", "size": 7}}
    assert decode(Sample, data) == SAMPLE
    assert decode(Sample, data).scratch == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "c"}, "Sample.kind: expected 'a' or 'b', found 'c'"),
        ({"colour": "green"}, "Sample.colour: 'green' is not one of 'red' or 'blue'"),
        ({"ratio": True}, "Sample.ratio: expected a number, found True"),
        ({"maybe": "3"}, "Sample.maybe: expected a whole number, found '3'"),
        ({"pair": ["p"]}, "Sample.pair: expected 2 items, found 1"),
        ({"many": [{"name": "one"}, {"size": 2}]}, "Sample.many[1]: the field 'name' is missing"),
        ({"by_pid": {"seven": {"name": "s"}}}, "Sample.by_pid: key 'seven' is not a whole number"),
        ({"by_name": []}, "Sample.by_name: expected an object, found []"),
        ({"nothing": 0}, "Sample.nothing: expected null, found 0"),
    ],
)
def test_a_value_that_does_not_fit_names_its_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        decode(Sample, {**encode(SAMPLE), **changes})
    assert str(raised.value) == message


def test_a_type_the_codec_does_not_know_is_a_programming_error() -> None:
    @dataclass(frozen=True)
    class WithSet:
        values: frozenset[int] = field(default_factory=frozenset)

    with pytest.raises(TypeError, match="does not know the type"):
        decode(WithSet, {"values": [1]})
