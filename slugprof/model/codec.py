"""The one JSON codec of the model: frozen dataclasses to plain JSON data and back, by their type hints.

A field's name is its JSON key. A field marked `transient()` is pipeline-internal: never written, and
left at its default when a report is read back. Everything else round-trips: `decode(T, encode(x)) == x`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")

_TRANSIENT = "slugprof.transient"


class DecodeError(ValueError):
    """The data does not fit the model; the message names the field, e.g. `app.files[3].bytes`."""


def transient(default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that stays in memory only (absolute paths of installed files, raw estimates)."""
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={_TRANSIENT: True}, compare=False)
    return dataclasses.field(default=default, metadata={_TRANSIENT: True}, compare=False)


def encode(value: Any) -> Any:
    """Plain JSON data (dicts, lists, str, int, float, bool, None) for a model value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: encode(getattr(value, name)) for name in saved_field_names(type(value))}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    return value


def decode(cls: type[T], data: Any, where: str = "") -> T:
    """The model value of type `cls` for `data`; DecodeError naming the first field that does not fit."""
    result: T = _decode(cls, data, where or cls.__name__)
    return result


@cache
def saved_field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get(_TRANSIENT))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, data: Any, where: str) -> Any:
    if hint is Any:
        return data
    if hint is type(None):
        return _expect(data is None, data, where, "null")
    by_origin = _BY_ORIGIN.get(typing.get_origin(hint))
    if by_origin is not None:
        return by_origin(typing.get_args(hint), data, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _decode_enum(hint, data, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _decode_dataclass(hint, data, where)
    scalar = _SCALARS.get(hint)
    if scalar is not None:
        return scalar(data, where)
    raise TypeError(f"the codec does not know the type {hint!r} (at {where})")


def _decode_literal(choices: tuple[Any, ...], data: Any, where: str) -> Any:
    return _expect(data in choices, data, where, " or ".join(repr(choice) for choice in choices))


def _decode_enum(cls: type[enum.Enum], data: Any, where: str) -> enum.Enum:
    try:
        return cls(data)
    except ValueError:
        values = " or ".join(repr(member.value) for member in cls)
        raise DecodeError(f"{where}: {_shown(data)} is not one of {values}") from None


def _decode_union(options: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None and type(None) in options:
        return None
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _decode(option, data, where)
        except DecodeError as error:
            errors.append(str(error))
    raise DecodeError(errors[0] if len(errors) == 1 else f"{where}: {_shown(data)} fits none of its types")


def _decode_tuple(arguments: tuple[Any, ...], data: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise DecodeError(f"{where}: expected a list, found {_shown(data)}")
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        return tuple(_decode(arguments[0], item, f"{where}[{index}]") for index, item in enumerate(data))
    if len(arguments) != len(data):
        raise DecodeError(f"{where}: expected {len(arguments)} items, found {len(data)}")
    return tuple(
        _decode(argument, item, f"{where}[{index}]")
        for index, (argument, item) in enumerate(zip(arguments, data, strict=True))
    )


def _decode_dict(arguments: tuple[Any, ...], data: Any, where: str) -> dict[Any, Any]:
    if not isinstance(data, dict):
        raise DecodeError(f"{where}: expected an object, found {_shown(data)}")
    key_type, value_type = arguments
    result = {}
    for key, value in data.items():
        if key_type is int:
            try:
                typed_key: Any = int(key)
            except ValueError:
                raise DecodeError(f"{where}: key {key!r} is not a whole number") from None
        else:
            typed_key = _decode(key_type, key, where)
        result[typed_key] = _decode(value_type, value, f"{where}.{key}")
    return result


def _decode_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise DecodeError(f"{where}: expected an object, found {_shown(data)}")
    hints = _hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.metadata.get(_TRANSIENT) or not field.init:
            continue
        if field.name in data:
            values[field.name] = _decode(hints[field.name], data[field.name], f"{where}.{field.name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise DecodeError(f"{where}: the field {field.name!r} is missing")
    return cls(**values)


def _expect(ok: bool, data: Any, where: str, wanted: str) -> Any:
    if not ok:
        raise DecodeError(f"{where}: expected {wanted}, found {_shown(data)}")
    return data


def _shown(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 40 else text[:37] + "..."


def _decode_int(data: Any, where: str) -> int:
    return int(_expect(isinstance(data, int) and not isinstance(data, bool), data, where, "a whole number"))


def _decode_float(data: Any, where: str) -> float:
    number = _expect(isinstance(data, (int, float)) and not isinstance(data, bool), data, where, "a number")
    return float(number)


def _decode_str(data: Any, where: str) -> str:
    return str(_expect(isinstance(data, str), data, where, "a string"))


def _decode_bool(data: Any, where: str) -> bool:
    return bool(_expect(isinstance(data, bool), data, where, "true or false"))


_SCALARS: dict[Any, Callable[[Any, str], Any]] = {
    int: _decode_int,
    float: _decode_float,
    str: _decode_str,
    bool: _decode_bool,
}

# Generic hints by their origin (`int | None`, `Literal["a"]`, `tuple[int, ...]`, `dict[str, int]`):
# each decoder takes the hint's arguments.
_BY_ORIGIN: dict[Any, Callable[[tuple[Any, ...], Any, str], Any]] = {
    typing.Union: _decode_union,
    types.UnionType: _decode_union,
    typing.Literal: _decode_literal,
    tuple: _decode_tuple,
    dict: _decode_dict,
}
