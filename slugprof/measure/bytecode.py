"""The `.pyc` the buildpack compiles for each installed module, predicted from the module's source size.

A small wheel (`sizing.SMALL_WHEEL_BYTES`) is compiled for real instead, by an interpreter of the
target's Python when one is at hand (`installed_tree`, `pyc_compiler`): this model sizes the larger
wheels, and every wheel when no such interpreter is found.

Every installer the buildpack runs compiles bytecode (pip by default, uv with `--compile-bytecode`,
Poetry with `--compile`; heroku-facts 3.4): one `__pycache__/<module>.cpython-3XY.pyc` per `.py`
installed in site-packages, at optimisation level 0 (docstrings and asserts kept). Bytecode differs
between Python versions, so each version has its own table.

How the tables were measured
----------------------------
The FIT set of `wheels` (103 distributions installed from PyPI with `pip install --target`; the
packages of the validation set left out: 7,473 modules, 115 MB of source) was compiled module by
module by CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0 as pip compiles (`compile()`, then the timestamp
`.pyc` layout: a 16-byte header and the marshalled code), under the file name each module has on a
dyno, `/app/.heroku/python/lib/python3.X/site-packages/<path>`. marshal stores that name once per
`.pyc`, so its length is added as it is, not fitted (pip's `--target` compiles under a temporary
folder's name instead: 13 bytes shorter a file, 0.06% of the `.pyc` bytes).

The model, for a module of `n` source bytes, `d` bytes deflated in its wheel (the zip's own figure),
whose path on the dyno has `p` characters:

    pyc = EMPTY + p + a[k] * n + b[k] * d        (EMPTY + p when n == 0; never under 0.3 * n)

`EMPTY` is an empty module's `.pyc` less its path (93 bytes on 3.10, 109 on 3.11, 97 on 3.12 and
3.13); `k` is log2(n) clamped to 2^6..2^18, and each bucket's (a, b) a least-squares fit over FIT's
modules of that size. The deflated size says what the size alone cannot: for the same size, text
(comments, dropped; docstrings, kept once) deflates worse than code, and compiles to less bytecode,
so `b` is negative (3.11, 4-8 KiB: 2.45 bytes of .pyc a source byte, less 3.19 a deflated byte).
Against a ratio by size alone it halved the error on comment-heavy code (stdlib's email: +13% ->
+6%) and lowered the median package's error on VALIDATION from 9.0% to 7.5% (3.11).

Validation, total predicted `.pyc` bytes against compiled, on sets not used to fit:
- VALIDATION (numpy, pandas, scipy, scikit-learn, django, requests, flask and dependencies; 4,981
  modules): 3.10 +3.9%, 3.11 +1.5%, 3.12 +0.9%, 3.13 +2.4%; per package (over 300 kB of `.pyc`) the
  median error is 7-8%, the worst about 15% (flask, urllib3, python-dateutil, scikit-learn).
- The standard library as packages (3.11, 667 modules): +22% in total, the median package 8%, but
  `encodings` +246% and `pydoc_data` +140%: modules that are data (codec tables, one dict of help
  texts) compile to about their size, far below code's ratio.
- SDK (generated API clients and friends: kubernetes, stripe, openai, faker, plotly...; 17,966
  modules): +14% (3.10) to +39% (3.11-3.13) in total, the median package 7-12%, but kubernetes
  +95% (3.11): its 74 MB of source is mostly repeated docstrings. Such packages are overestimated.

The `.pyc`'s share of the compressed slug (`share`, used by `wheels`) was fitted the same way on the
per-file shares of the FIT trees compiled by each version (see `wheels`): a * source bytes + b *
source's zip deflate size + c, by least squares over 7,455 `.pyc`.

Python 3.14 was not available to measure: it uses 3.13's table, and `note_for` says so. What is not
modelled: a module that does not compile (Python 2 syntax in a test fixture) gets no `.pyc` on the
dyno but is predicted one; pip compiles nothing outside site-packages (scripts, `.data/data`), and
neither does this model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

HEROKU_PYTHON_HOME: Final = "/app/.heroku/python"  # where the buildpack installs Python (heroku-facts 3.1)

FIRST_BUCKET: Final = 6  # sources under 64 bytes use the first bucket's coefficients
MIN_RATIO: Final = 0.3  # a floor for odd files (no FIT module came near it)


@dataclass(frozen=True)
class BytecodeTable:
    empty: int  # bytes of an empty module's .pyc, less its path
    # (a, b) for sources of 2**(FIRST_BUCKET + i) bytes and up: pyc bytes = a * source + b * deflated
    coefficients: tuple[tuple[float, float], ...]
    # The .pyc's share of the slug's gzip stream: a * source bytes + b * source's zip deflate + c
    share: tuple[float, float, float]
    measured: bool  # False: borrowed from another version


# fmt: off
TABLES: Final[dict[str, BytecodeTable]] = {
    "3.10": BytecodeTable(93, (
        (2.192, -1.31), (1.385, -0.433), (1.566, -0.817), (1.904, -1.894), (1.504, -1.334), (1.151, -0.641),
        (1.046, -0.512), (0.837, 0.024), (0.916, -0.336), (0.876, -0.384), (1.27, -1.979), (1.242, -1.742),
        (0.297, 1.85),
    ), (0.0759, 0.9055, 183.2), True),
    "3.11": BytecodeTable(109, (
        (3.052, -1.814), (2.019, -0.729), (2.725, -2.036), (3.296, -3.765), (3.194, -4.161), (2.639, -3.297),
        (2.447, -3.188), (2.058, -2.392), (1.918, -1.998), (1.838, -2.15), (1.834, -2.08), (1.165, 0.554),
        (1.225, 1.209),
    ), (0.1422, 1.3745, 114.9), True),
    "3.12": BytecodeTable(97, (
        (2.473, -1.368), (1.57, -0.398), (2.179, -1.455), (2.705, -2.945), (2.668, -3.301), (2.196, -2.504),
        (2.074, -2.485), (1.802, -1.977), (1.693, -1.684), (1.621, -1.767), (1.662, -1.865), (1.0, 0.796),
        (1.149, 1.156),
    ), (0.1348, 1.3242, 62.6), True),
    "3.13": BytecodeTable(97, (
        (2.699, -1.569), (1.557, -0.324), (2.211, -1.434), (2.786, -3.053), (2.725, -3.403), (2.237, -2.593),
        (2.105, -2.569), (1.806, -1.993), (1.689, -1.679), (1.615, -1.767), (1.673, -1.954), (0.996, 0.753),
        (1.146, 1.146),
    ), (0.1351, 1.3254, 76.7), True),
}
# fmt: on
_NEWEST_MEASURED: Final = "3.13"


def table_for(python_minor: str) -> BytecodeTable:
    """The table of a Python version ("3.12"); versions not measured use the nearest one measured."""
    known = TABLES.get(python_minor)
    if known is not None:
        return known
    nearest = TABLES[_nearest_measured(python_minor)]
    return BytecodeTable(nearest.empty, nearest.coefficients, nearest.share, measured=False)


def note_for(python_minor: str) -> str | None:
    """A line for the report when this version's bytecode sizes are borrowed from another version."""
    if table_for(python_minor).measured:
        return None
    return (
        f"bytecode sizes for Python {python_minor} are predicted with the table measured on Python "
        f"{_nearest_measured(python_minor)}, the nearest version measured (see slugprof.measure.bytecode)"
    )


def _nearest_measured(python_minor: str) -> str:
    return "3.10" if _minor_number(python_minor) < 10 else _NEWEST_MEASURED


def _minor_number(python_minor: str) -> int:
    try:
        return int(python_minor.split(".")[1])
    except (IndexError, ValueError):
        return 99


def cache_tag(python_minor: str) -> str:
    """`cpython-312` for "3.12": the middle part of the .pyc's file name."""
    return "cpython-" + python_minor.replace(".", "")


def pyc_path(source: str, python_minor: str) -> str:
    """`pkg/__pycache__/mod.cpython-312.pyc` for `pkg/mod.py` (POSIX paths)."""
    folder, _, name = source.rpartition("/")
    stem = name[: -len(".py")]
    prefix = f"{folder}/" if folder else ""
    return f"{prefix}__pycache__/{stem}.{cache_tag(python_minor)}.pyc"


def pyc_bytes(source_bytes: int, source_deflated: float, dyno_path_length: int, table: BytecodeTable) -> int:
    """Predicted size of a module's .pyc, from its source's size and zip deflate size and the length of
    its path on the dyno."""
    if source_bytes <= 0:
        return table.empty + dyno_path_length
    bucket = min(max(int(math.log2(source_bytes)), FIRST_BUCKET), FIRST_BUCKET + len(table.coefficients) - 1)
    a, b = table.coefficients[bucket - FIRST_BUCKET]
    code = max(a * source_bytes + b * source_deflated, MIN_RATIO * source_bytes)
    return round(table.empty + dyno_path_length + code)


def pyc_share(source_bytes: int, source_deflated: float, table: BytecodeTable) -> float:
    """The .pyc's data in the slug's gzip stream (its tar header not included)."""
    a, b, c = table.share
    return a * source_bytes + b * source_deflated + c
