"""A file's predicted share of `gzip -6` of the slug's tar stream, from what a wheel's central directory
says of it: its size and its own deflated size.

Calibration (all figures from real installs; the ground truth is never this module's output)
--------------------------------------------------------------------------------------------
Three sets were installed from PyPI with `pip install --target` (pip 23.2, CPython 3.11, Linux
x86_64), each with the member lists of the exact wheels pip chose (`--report`), read by `wheelzip`:

- FIT (what every constant below was fitted on): 103 distributions, 786 MB installed: matplotlib,
  pillow, sqlalchemy, boto3/botocore, sympy, networkx, pyarrow, cryptography, lxml, pydantic, fastapi,
  pygments, rich, docutils, babel, pyyaml, psycopg2-binary, protobuf, grpcio, celery, mypy, black,
  setuptools, pip and their dependencies. The packages of VALIDATION (numpy, six, urllib3...) were
  left out of the fit.
- VALIDATION, the issue's set: numpy, pandas, scipy, scikit-learn, django, requests, flask and their
  dependencies: 25 distributions, 392 MB installed, 15,043 files.
- SDK: a deliberately awkward set: kubernetes, transformers, plotly, stripe, openai, faker, wagtail,
  django-allauth, sphinx, google-api-python-client, googleapis-common-protos... (120 distributions,
  883 MB): generated API clients and locale-heavy Django apps.

The true compressed share of each file: the trees' files were laid out in GNU tar order under the
slug's names (`./.heroku/python/lib/python3.X/site-packages/...`) and each member (header, data,
padding) deflated at level 6 with the 32 KiB of the stream before it as preset dictionary: deflate's
own window, so cross-file matches count as in the real stream. Summed, these shares were within 0.3%
of `tar | gzip -6` of the same folders (FIT 254.6 MB against 255.4 MB, VALIDATION 117.3 against
117.6, SDK 204.3 against 205.5; the real tar is in directory order and with shorter names). For 3.10,
3.12 and 3.13 the trees were compiled again by those interpreters and measured the same way.

`StreamModel`, fitted on FIT (3.11): an empty file costs 34.7 bytes (its header), 9.4 more with a GNU
long name, a folder 37.4. A member's data costs its own zip deflate size times a ratio by log2 of its
size: 0.27-0.6 below 1 KiB (the stream shares Huffman tables and finds matches in neighbours, the
zip deflates each member alone), 0.73-0.86 from 1 to 16 KiB, 0.94-1.0 above. The installed RECORD
costs 1.017 x the wheel's RECORD deflate size + 4.35 bytes a row the installer adds.

Results (predicted against true; per package, installed / compressed):
- VALIDATION, 3.11: installed +0.46%, compressed +1.54% (against real `tar | gzip -6` of the same
  install laid out as in the slug: +0.46% and +0.86%, see benchmarks/bench_dependencies.py). scipy
  +0.3% / +1.1%, pandas -1.4% / -3.2%, numpy -1.7% / -0.9%, scikit-learn +4.4% / +2.8%, django +2.6% /
  +19.2% (its 1,226 .po/.mo translations share their msgids across languages: the stream finds them,
  the zip cannot); the small packages within about 15%, but idna +50% (tables as code, see
  `bytecode`). 3.10: +0.76% / +2.08%; 3.12: +0.25% / +1.86%; 3.13: +0.64% / +2.06%.
- The standard library as 27 packages (3.11): +10.1% / +10.3%; most within 5-10%, `encodings` and
  `pydoc_data` (data as modules) +50% to +200%.
- SDK, 3.11: +11.4% / +19.8%; most packages within 1-5%, but kubernetes +45% / +169% (74 MB of
  generated, repetitive source whose docstrings compress 10:1 across files), stripe, openai, faker
  and plotly +15% to +35% / +40% to +100%. Code generators repeat themselves across files in ways a
  per-member deflate size cannot see: for such packages the figures are upper bounds.
"""

from __future__ import annotations

import math
from typing import Final

from slugprof.measure.bytecode import BytecodeTable, pyc_share
from slugprof.measure.wheelzip import STORED, WheelMember


class StreamModel:
    """A file's predicted share of `gzip -6(tar(slug))`, from what the central directory says.

    Fitted on the FIT set (see "Calibration" in the module's docstring).
    """

    HEADER: Final = 34.7  # a 512-byte tar header (and the file's zero padding), compressed
    LONG_NAME: Final = 9.4  # more for a GNU long-name header (names past 100 bytes)
    FOLDER: Final = 37.4  # a folder's header
    # A deflated member's share per byte of its own zip deflate size, by log2 of its uncompressed
    # size (clamped): small files gain from the stream's shared Huffman blocks and cross-file matches.
    # fmt: off
    MEMBER_RATIOS: Final = (
        0.269, 0.269, 0.269, 0.417, 0.455, 0.617, 0.594, 0.53, 0.613, 0.548,  # 1 B .. 512 B
        0.758, 0.733, 0.843, 0.855, 0.935, 0.971, 0.988, 0.997, 0.999, 0.999,  # 1 KiB .. 512 KiB and up
    )
    # fmt: on
    STORED_DEFLATE_RATIO: Final = 0.329  # a stored member: its deflate size estimated from its size
    RECORD_RATIO: Final = 1.017  # the wheel's RECORD deflate size carries over
    RECORD_ROW: Final = 4.35  # each row the installer adds (a .pyc, INSTALLER, a script)
    GENERATED_PER_BYTE: Final = 0.266  # scripts and INSTALLER: small texts much like their neighbours

    @classmethod
    def header(cls, name: str) -> float:
        return cls.HEADER + (cls.LONG_NAME if long_name(name) else 0.0)

    @classmethod
    def member(cls, name: str, member: WheelMember) -> float:
        if member.size <= 0:
            return cls.header(name)
        ratio = cls.MEMBER_RATIOS[_bucket(member.size, len(cls.MEMBER_RATIOS))]
        return cls.header(name) + ratio * cls.deflated(member)

    @classmethod
    def pyc(cls, name: str, source: WheelMember, table: BytecodeTable) -> float:
        return cls.header(name) + pyc_share(source.size, cls.deflated(source), table)

    @classmethod
    def deflated(cls, member: WheelMember) -> float:
        return member.compressed if member.method != STORED else member.size * cls.STORED_DEFLATE_RATIO


def _bucket(size: int, count: int) -> int:
    """log2 of the size, clamped to a table of `count` entries."""
    return min(int(math.log2(size)) if size > 0 else 0, count - 1)


_NAME_FIELD: Final = 100  # GNU tar: a longer name (with its "./") takes a long-name header first


def long_name(name: str) -> bool:
    """Whether GNU tar writes a long-name header before this member."""
    return len(f"./{name}".encode("utf-8", "surrogateescape")) > _NAME_FIELD
