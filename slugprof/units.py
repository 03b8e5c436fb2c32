"""Sizes for humans: parsing "500 MB" / "1 GiB" and printing bytes.

Printed sizes use decimal units (1 MB = 1,000,000 bytes), the unit Heroku's limit is quoted in.
"""

from __future__ import annotations

import re

from slugprof.errors import UsageError

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")

PRINTED_UNIT_NOTE = "sizes in decimal units: 1 MB = 1,000,000 bytes"


def parse_size(text: str | int | float, *, what: str = "size") -> int:
    """Parse "500 MB", "1GiB", "300M" or a plain number of bytes into bytes.

    "M" and "G" alone mean MB and GB, as Heroku prints them in its build log.
    """
    if isinstance(text, bool):
        raise UsageError(f"{what}: expected a size like '500 MB', got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise UsageError(f"{what}: a size cannot be negative ({text})")
        return int(text)
    match = _SIZE.match(str(text))
    if match is None or match.group(2).lower() not in _UNITS:
        raise UsageError(
            f"{what}: cannot read {text!r}; write a number with a unit: B, KB, MB, GB, KiB, MiB or GiB"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_growth(text: str | int | float, *, what: str = "growth") -> tuple[int | None, float | None]:
    """A growth allowance: "5%" is (None, 0.05), "2 MB" is (2000000, None)."""
    match = _PERCENT.match(str(text))
    if match is not None:
        return None, float(match.group(1)) / 100
    try:
        return parse_size(text, what=what), None
    except UsageError:
        hint = "write a size like '2 MB' or a share like '5%'"
        raise UsageError(f"{what}: cannot read {text!r}; {hint}") from None


def format_bytes(count: int | float, *, signed: bool = False) -> str:
    """Print a byte count for humans, in decimal units: 512 B, 12.3 kB, 145.2 MB, 1.10 GB."""
    sign = ""
    if signed and count > 0:
        sign = "+"
    if count < 0:
        sign = "-"
        count = -count
    if count < 1000:
        return f"{sign}{int(count)} B"
    for unit, scale in (("kB", 1000), ("MB", 1000**2)):
        if count < 1000 * scale:
            value = count / scale
            return f"{sign}{value:.1f} {unit}" if value < 100 else f"{sign}{value:.0f} {unit}"
    return f"{sign}{count / 1000**3:.2f} GB"


def format_binary(count: int | float) -> str:
    """Memory for humans, in binary units as dyno quotas are: 812 KiB, 243.5 MiB, 1.50 GiB."""
    if count < 1024:
        return f"{int(count)} B"
    if count < 1024**2:
        return f"{count / 1024:.0f} KiB"
    if count < 1024**3:
        return f"{count / 1024**2:.1f} MiB"
    return f"{count / 1024**3:.2f} GiB"
