"""What each resolved package will weigh in the slug, read from its wheel's zip central directory.

For a wheel, one or two small HTTP range requests are enough: a suffix range for the zip's last 64 KiB
(the end-of-central-directory record, zip64 too, and for most wheels the whole central directory),
then the rest of the directory when it is longer. They give every member's name, uncompressed size and
deflated size. A server that ignores ranges (a 200 instead of a 206) has already started sending the
whole file: it is saved into the cache folder's `wheels/`, read there, then deleted. Each wheel's
member list is cached in `wheel-members-v1/<sha256 or url-hash>.json`, so a warm run makes no request.

From the member list, the installed files are laid out as pip installs them on the dyno
(`.data/purelib|platlib` into site-packages, `.data/scripts` into `bin/`, `.data/headers|data` under
the prefix; RECORD rewritten; INSTALLER, REQUESTED and the entry points' scripts added), with one
`.pyc` per module in site-packages (see `bytecode`). The compressed size is the package's predicted
share of `gzip -6` of the slug's tar stream, per file, from the member's own deflated size
(`_StreamModel`).

A source distribution is built into a wheel and measured (`build_sdists=True`), or estimated from its
download size. Whatever cannot be measured comes back with `measured=False`, zero sizes and a method
that says why: never a silent zero.

Calibration (all figures from real installs; the ground truth is never this module's output)
--------------------------------------------------------------------------------------------
Three sets were installed from PyPI with `pip install --target` (pip 23.2, CPython 3.11, Linux
x86_64), each with the member lists of the exact wheels pip chose (`--report`), read by this module:

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

`_StreamModel`, fitted on FIT (3.11): an empty file costs 34.7 bytes (its header), 9.4 more with a GNU
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

import configparser
import contextlib
import hashlib
import math
import os
import struct
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from slugprof.cache import JsonStore, scratch_folder, temporary_sibling, versioned
from slugprof.errors import ToolFailure
from slugprof.measure.bytecode import (
    HEROKU_PYTHON_HOME,
    BytecodeTable,
    pyc_bytes,
    pyc_path,
    pyc_share,
    table_for,
)
from slugprof.model import ResolvedFile, ResolvedPackage, SizedPackage, Target
from slugprof.net import (
    Client,
    HttpFailure,
    NetError,
    NetworkFailure,
    Response,
    host_of,
    local_path,
    strip_credentials,
)
from slugprof.processes import run_command
from slugprof.progress import NoProgress, Progress

METHOD_RANGES: Final = "wheel central directory"
METHOD_DOWNLOAD: Final = "downloaded wheel"
METHOD_BUILT: Final = "built sdist"
METHOD_SDIST_ESTIMATE: Final = "estimated from sdist"
METHOD_WHEEL_ESTIMATE: Final = "estimated from wheel size"
NOT_MEASURED: Final = "not measured"

MEMBERS_FOLDER: Final = versioned("wheel-members", 1)  # bump when a listing is stored differently
WHEELS_FOLDER: Final = "wheels"
SDISTS_FOLDER: Final = "sdists"

TAIL_BYTES: Final = 64 * 1024  # the first request; it held the whole directory of 95 of FIT's 103 wheels
BUILD_TIMEOUT_SECONDS: Final = 900.0
CHUNK: Final = 1024 * 1024


# --- the zip central directory -------------------------------------------------------------------------

_EOCD: Final = b"PK\x05\x06"
_EOCD_LEN: Final = 22
_ZIP64_LOCATOR: Final = b"PK\x06\x07"
_ZIP64_LOCATOR_LEN: Final = 20
_ZIP64_EOCD: Final = b"PK\x06\x06"
_ZIP64_EOCD_LEN: Final = 56
_CENTRAL: Final = b"PK\x01\x02"
_CENTRAL_LEN: Final = 46
_LOCAL: Final = b"PK\x03\x04"
_LOCAL_LEN: Final = 30
_ZIP64_EXTRA: Final = 0x0001
_UTF8_FLAG: Final = 0x800
_MAX_COMMENT: Final = 0xFFFF
STORED: Final = 0
DEFLATED: Final = 8


class CorruptWheelError(Exception):
    """The bytes are not a readable zip archive."""


@dataclass(frozen=True)
class WheelMember:
    """One file of a wheel, from its central directory entry."""

    name: str
    size: int  # uncompressed bytes
    compressed: int  # bytes stored in the zip (deflated, or the file itself when stored)
    method: int  # 0 stored, 8 deflated, others rare
    offset: int = 0  # of its local header in the archive


ReadRange = Callable[[int, int], bytes]  # (start, end) -> the archive's bytes [start, end)


def read_central_directory(tail: bytes, tail_start: int, read: ReadRange) -> list[WheelMember]:
    """Every member of a zip archive, from its last bytes `tail` (which start at `tail_start`).

    `read` fetches any other range the directory needs (a zip64 record, the start of a long directory).
    Raises CorruptWheelError when the bytes are not a zip archive.
    """
    try:
        return _read_central_directory(tail, tail_start, read)
    except struct.error as error:  # a record cut short
        raise CorruptWheelError(f"a truncated record ({error})") from None


def _read_central_directory(tail: bytes, tail_start: int, read: ReadRange) -> list[WheelMember]:
    end = tail.rfind(_EOCD, max(0, len(tail) - _EOCD_LEN - _MAX_COMMENT))
    if end < 0 or len(tail) - end < _EOCD_LEN:
        raise CorruptWheelError("no zip end-of-central-directory record")
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = struct.unpack_from("<4sHHHHIIH", tail, end)
    if disk not in (0, 0xFFFF) or cd_disk not in (0, 0xFFFF):
        raise CorruptWheelError("a multi-disk zip archive")
    record_at = tail_start + end  # where the records after the central directory begin
    locator_at = end - _ZIP64_LOCATOR_LEN
    has_locator = locator_at >= 0 and tail[locator_at : locator_at + 4] == _ZIP64_LOCATOR
    if not has_locator and (entries == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset)):
        raise CorruptWheelError("a zip64 archive without its locator")
    if has_locator:  # zip64 end records sit between the directory and this record, whatever it says
        # The zip64 end record sits just before its locator (as zipfile assumes); the offset the
        # locator gives is relative to the archive's start, wrong when bytes were prepended.
        eocd64_at = tail_start + locator_at - _ZIP64_EOCD_LEN
        record = _slice(tail, tail_start, eocd64_at, eocd64_at + _ZIP64_EOCD_LEN, read)
        if record[:4] != _ZIP64_EOCD:
            (eocd64_at,) = struct.unpack_from("<Q", tail, locator_at + 8)
            if not 0 <= eocd64_at <= tail_start + locator_at - _ZIP64_EOCD_LEN:
                raise CorruptWheelError("a zip64 end record out of place")
            record = _slice(tail, tail_start, eocd64_at, eocd64_at + _ZIP64_EOCD_LEN, read)
        if record[:4] != _ZIP64_EOCD:
            raise CorruptWheelError("a zip64 archive without its end record")
        entries, _, cd_size, cd_offset = struct.unpack_from("<QQQQ", record, 24)
        record_at = eocd64_at
    if cd_size > record_at:
        raise CorruptWheelError("a central directory larger than the archive")
    # The directory ends where the end records begin; bytes prepended to the archive shift cd_offset.
    cd_start = record_at - cd_size
    members = _parse_entries(_slice(tail, tail_start, cd_start, record_at, read), entries)
    shift = cd_start - cd_offset
    if shift:
        members = [WheelMember(m.name, m.size, m.compressed, m.method, m.offset + shift) for m in members]
    return members


def _slice(tail: bytes, tail_start: int, start: int, end: int, read: ReadRange) -> bytes:
    if start >= tail_start:
        return tail[start - tail_start : end - tail_start]
    if end <= tail_start:
        return read(start, end)
    return read(start, tail_start) + tail[: end - tail_start]


def _parse_entries(directory: bytes, expected: int) -> list[WheelMember]:
    members: list[WheelMember] = []
    position = 0
    while position + _CENTRAL_LEN <= len(directory):
        if directory[position : position + 4] != _CENTRAL:
            raise CorruptWheelError("a damaged central directory entry")
        flags, method, compressed, size, name_len, extra_len, comment_len, offset = struct.unpack_from(
            "<8xHH8xIIHHH8xI", directory, position
        )
        start = position + _CENTRAL_LEN
        raw_name = directory[start : start + name_len]
        extra = directory[start + name_len : start + name_len + extra_len]
        position = start + name_len + extra_len + comment_len
        if position > len(directory):
            raise CorruptWheelError("a truncated central directory")
        if 0xFFFFFFFF in (size, compressed, offset):
            size, compressed, offset = _zip64_sizes(extra, size, compressed, offset)
        name = raw_name.decode("utf-8" if flags & _UTF8_FLAG else "cp437", "replace")
        members.append(WheelMember(name, size, compressed, method, offset))
    if len(members) != expected and expected not in (0xFFFF, 0xFFFFFFFF):
        raise CorruptWheelError(
            f"{len(members)} central directory entries where the end record says {expected}"
        )
    return members


def _zip64_sizes(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if tag != _ZIP64_EXTRA:
            continue
        values = [value for (value,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        if size == 0xFFFFFFFF and values:
            size = values.pop(0)
        if compressed == 0xFFFFFFFF and values:
            compressed = values.pop(0)
        if offset == 0xFFFFFFFF and values:
            offset = values.pop(0)
        return size, compressed, offset
    raise CorruptWheelError("a zip64 entry without its sizes")


def member_bytes(member: WheelMember, read: ReadRange) -> bytes:
    """The uncompressed content of one (small) member."""
    header = read(member.offset, member.offset + _LOCAL_LEN)
    if len(header) != _LOCAL_LEN or header[:4] != _LOCAL:
        raise CorruptWheelError(f"no local header for {member.name}")
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    start = member.offset + _LOCAL_LEN + name_len + extra_len
    data = read(start, start + member.compressed)
    if len(data) != member.compressed:
        raise CorruptWheelError(f"{member.name} is cut short")
    if member.method == STORED:
        return data
    if member.method == DEFLATED:
        try:
            return zlib.decompress(data, -zlib.MAX_WBITS)
        except zlib.error as error:
            raise CorruptWheelError(f"{member.name}: {error}") from error
    raise CorruptWheelError(f"{member.name}: compression method {member.method} not supported")


# --- fetching ------------------------------------------------------------------------------------------


class _NotListed(Exception):
    """The wheel's members could not be listed for a reason of its own (a build failed, a file unread)."""


def _content_range_start(value: str | None) -> int:
    """The first byte of a `Content-Range: bytes a-b/n` answer."""
    try:
        unit, _, rest = (value or "").partition(" ")
        if unit.strip().lower() != "bytes":
            raise ValueError
        return int(rest.split("-", 1)[0])
    except ValueError:
        raise HttpFailure(f"a partial answer with an unreadable Content-Range: {value!r}") from None


# --- what is known of one wheel: its members -----------------------------------------------------------


@dataclass(frozen=True)
class WheelListing:
    """A wheel's member list, as read (and cached)."""

    members: tuple[WheelMember, ...]
    entry_points: str | None  # the text of .dist-info/entry_points.txt, when the wheel has one
    method: str  # METHOD_RANGES, METHOD_DOWNLOAD or METHOD_BUILT


def _entry_points_member(members: Sequence[WheelMember]) -> WheelMember | None:
    for member in members:
        folder, _, name = member.name.rpartition("/")
        if name == "entry_points.txt" and folder.endswith(".dist-info") and "/" not in folder:
            return member
    return None


def _listing(members: list[WheelMember], read: ReadRange, method: str) -> WheelListing:
    member = _entry_points_member(members)
    entry_points = None
    if member is not None:
        entry_points = member_bytes(member, read).decode("utf-8", "replace")
    return WheelListing(tuple(members), entry_points, method)


def read_local_wheel(path: Path, method: str = METHOD_DOWNLOAD) -> WheelListing:
    """The member list of a wheel on disk, read with the same parser as a remote one."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail_start = max(0, size - TAIL_BYTES)
        handle.seek(tail_start)
        tail = handle.read()

        def read(start: int, end: int) -> bytes:
            handle.seek(start)
            data = handle.read(max(0, end - start))
            if len(data) != end - start:
                raise CorruptWheelError("a truncated archive")
            return data

        return _listing(read_central_directory(tail, tail_start, read), read, method)


class _Cache:
    """Member lists as JSON documents, one per wheel, and the folders downloads pass through."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._store = JsonStore(root, MEMBERS_FOLDER)

    def get(self, key: str) -> WheelListing | None:
        data = self._store.get(key)
        if data is None:
            return None
        try:
            members = tuple(WheelMember(str(n), int(s), int(c), int(m)) for n, s, c, m in data["members"])
            entry_points = data.get("entry_points")
            return WheelListing(
                members, str(entry_points) if entry_points is not None else None, str(data["method"])
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, listing: WheelListing, file: ResolvedFile) -> None:
        self._store.put(
            key,
            {
                "filename": file.filename,
                "url": strip_credentials(file.url),
                "method": listing.method,
                "entry_points": listing.entry_points,
                "members": [[m.name, m.size, m.compressed, m.method] for m in listing.members],
            },
        )

    def folder(self, name: str) -> Path | None:
        return scratch_folder(self.root, name)


def _cache_key(file: ResolvedFile, prefix: str = "") -> str:
    if file.sha256:
        return prefix + file.sha256.lower()
    return prefix + "url-" + hashlib.sha256(strip_credentials(file.url).encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _download_folder(cache: _Cache, name: str) -> Iterator[Path]:
    folder = cache.folder(name)
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="slugprof-") as scratch:
        yield Path(scratch)


def _save_body(response: Response, file: ResolvedFile, folder: Path) -> Path:
    """Stream a whole file into `folder`; check its sha256 when the index gave one."""
    target = folder / Path(file.filename).name
    partial = temporary_sibling(target, ".part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as sink:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                sink.write(chunk)
        if file.sha256 and digest.hexdigest() != file.sha256.lower():
            raise CorruptWheelError(
                f"sha256 mismatch: the index says {file.sha256[:12]}..., got {digest.hexdigest()[:12]}..."
            )
        os.replace(partial, target)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return target


def _fetch_wheel(client: Client, file: ResolvedFile, cache: _Cache) -> WheelListing:
    local = local_path(file.url)
    if local is not None:
        try:
            return read_local_wheel(local, METHOD_RANGES)
        except OSError as error:
            raise _NotListed(f"cannot read {local.name}: {error.strerror or error}") from None
    host = host_of(file.url)
    with client.open(file.url, byte_range=f"bytes=-{TAIL_BYTES}", shown=host) as response:
        if response.status == 206:
            tail_start = _content_range_start(response.headers.get("Content-Range"))
            tail = response.read()
        elif response.status != 200:
            raise HttpFailure(f"{host}: HTTP {response.status}", response.status)
        else:  # ranges not served: the whole file is coming anyway
            with _download_folder(cache, WHEELS_FOLDER) as folder:
                path = _save_body(response, file, folder)
                try:
                    return read_local_wheel(path, METHOD_DOWNLOAD)
                finally:
                    with contextlib.suppress(OSError):
                        path.unlink()  # the member list is what is kept: wheels can weigh gigabytes

    def read(start: int, end: int) -> bytes:
        if start >= tail_start and end <= tail_start + len(tail):
            return tail[start - tail_start : end - tail_start]
        return client.read_range(file.url, start, end, shown=host)

    return _listing(read_central_directory(tail, tail_start, read), read, METHOD_RANGES)


def _build_sdist(client: Client, file: ResolvedFile, cache: _Cache) -> WheelListing:
    """Download the sdist and build a wheel from it with pip, as the buildpack's pip would.

    The build runs on this machine's Python (pip's own build isolation fetches the build requirements
    from the index pip is configured with): exact for a pure-Python project; for a compiled one, the
    sizes of this platform's build, the nearest measurement available.
    """
    local = local_path(file.url)
    with _download_folder(cache, SDISTS_FOLDER) as folder:
        if local is None:
            with client.open(file.url, shown=host_of(file.url)) as response:
                sdist = _save_body(response, file, folder)
        else:
            sdist = local
        try:
            with tempfile.TemporaryDirectory(prefix="slugprof-build-") as scratch:
                command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "-q"]
                result = run_command(
                    [*command, "-w", scratch, str(sdist)], cwd=scratch, timeout=BUILD_TIMEOUT_SECONDS
                )
                if result.returncode != 0:
                    raise _NotListed(f"pip wheel failed: {_pip_error(result.stderr or result.stdout)}")
                built = sorted(Path(scratch).glob("*.whl"))
                if not built:
                    raise _NotListed("pip wheel produced no wheel")
                return read_local_wheel(built[0], METHOD_BUILT)
        finally:
            if local is None:
                with contextlib.suppress(OSError):
                    sdist.unlink()


_PIP_DECORATION: Final = "\u00d7\u2570\u2500\u2502> "  # the box drawing pip puts in front of its errors


def _pip_error(output: bytes) -> str:
    """The line of pip's output that says what went wrong (its last lines are hints)."""
    text = output.decode("utf-8", "replace")
    lines = [line.strip().lstrip(_PIP_DECORATION) for line in text.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if "error" in line.lower() and not line.startswith(("note:", "hint:"))]
    return (errors or lines or ["no output"])[-1][:200]


# --- the installed layout and its size -----------------------------------------------------------------

# What each installer writes into .dist-info besides the wheel's files (INSTALLER's content; REQUESTED
# is empty, written for top-level requirements). Measured: pip 23.2 "pip\n", uv 0.13 "uv".
_INSTALLER_CONTENT: Final = {"pip": b"pip\n", "pipenv": b"pip\n", "uv": b"uv", "poetry": b"Poetry 2.4.1\n"}
_HASH_ROW: Final = len(",sha256=") + 43 + len(",")  # a RECORD row's hash column around the path
# pip writes RECORD with the csv module's default line ending, "\r\n" (checked in pip 23.2 and 26.3),
# where wheel builders write "\n": one byte more a row. uv and the installer library keep "\n".
_CRLF_MANAGERS: Final = frozenset({"pip", "pipenv"})
_NO_PYC_ROWS: Final = frozenset({"uv"})  # uv 0.13 compiles bytecode but lists none of it in RECORD
_PIP_SCRIPT: Final = (
    "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {name}\n"
    "if __name__ == '__main__':\n"
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
    "    sys.exit({call}())\n"
)
_UV_SCRIPT: Final = (
    "#!{python}\n# -*- coding: utf-8 -*-\nimport sys\nfrom {module} import {name}\n"
    'if __name__ == "__main__":\n'
    '    if sys.argv[0].endswith("-script.pyw"):\n        sys.argv[0] = sys.argv[0][:-11]\n'
    '    elif sys.argv[0].endswith(".exe"):\n        sys.argv[0] = sys.argv[0][:-4]\n'
    "    sys.exit({call}())\n"
)


class _StreamModel:
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
        return cls.HEADER + (cls.LONG_NAME if _long_name(name) else 0.0)

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


def _long_name(name: str) -> bool:
    return len(f"./{name}".encode("utf-8", "surrogateescape")) > _NAME_FIELD


@dataclass
class _Totals:
    installed: int = 0
    pyc: int = 0
    compressed: float = 0.0
    files: int = 0

    def add(self, name: str, size: int, compressed: float, *, bytecode: bool = False) -> None:
        self.installed += size
        self.pyc += size if bytecode else 0
        self.compressed += compressed
        self.files += 1


@dataclass(frozen=True)
class _Layout:
    site: str  # site-packages, relative to the build dir
    bin: str
    prefix: str
    python: str  # the interpreter's path on the dyno, for script shebangs
    table: BytecodeTable
    python_minor: str

    @classmethod
    def of(cls, target: Target) -> _Layout:
        prefix = HEROKU_PYTHON_HOME.lstrip("/").removeprefix("app/")
        return cls(
            site=f"{prefix}/lib/python{target.python_minor}/site-packages",
            bin=f"{prefix}/bin",
            prefix=prefix,
            python=f"{HEROKU_PYTHON_HOME}/bin/python",
            table=table_for(target.python_minor),
            python_minor=target.python_minor,
        )

    def shared_folders(self) -> set[str]:
        """Folders of the Python install itself: not attributed to any package."""
        folders = {self.prefix, f"{self.prefix}/include", f"{self.prefix}/share"}
        for path in (self.site, self.bin):
            parts = path.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        return folders


def _dist_info(members: Sequence[WheelMember]) -> str | None:
    for member in members:
        folder, _, name = member.name.partition("/")
        if folder.endswith(".dist-info") and name == "WHEEL":
            return folder
    return None


def _scripts(entry_points: str | None) -> list[tuple[str, str]]:
    """(script name, module:attr) of console and GUI entry points."""
    if not entry_points:
        return []
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the scripts' case
    try:
        parser.read_string(entry_points)
    except configparser.Error:
        return []
    found: list[tuple[str, str]] = []
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            found.extend(
                (name.strip(), value.split("[", 1)[0].strip()) for name, value in parser.items(section)
            )
    return found


def _script_text(reference: str, python: str, manager: str) -> str:
    module, _, attribute = reference.partition(":")
    attribute = attribute.strip() or "main"
    template = _UV_SCRIPT if manager == "uv" else _PIP_SCRIPT
    return template.format(python=python, module=module.strip(), name=attribute.split(".")[0], call=attribute)


def _predict_installed(listing: WheelListing, package: ResolvedPackage, target: Target) -> _Totals:
    """The files the installer writes for this wheel on the dyno, with their bytecode, summed."""
    layout = _Layout.of(target)
    totals = _Totals()
    members = [m for m in listing.members if not m.name.endswith("/")]
    dist_info = _dist_info(members)
    data_prefix = f"{dist_info[: -len('.dist-info')]}.data/" if dist_info else None
    project = dist_info.rsplit("-", 1)[0] if dist_info else package.name
    record_name = f"{dist_info}/RECORD" if dist_info else None
    folders: set[str] = set()
    added_rows = 0
    record_bytes = 0
    newline = 2 if target.manager in _CRLF_MANAGERS else 1  # bytes ending each RECORD row
    record_cost = 0.0

    def place(path: str) -> None:
        folder = path.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]

    for member in members:
        if member.name == record_name:
            record_bytes += member.size + (newline - 1) * len(members)  # a row a member, RECORD's own too
            record_cost += _StreamModel.RECORD_RATIO * _StreamModel.deflated(member)
            continue
        path, in_site = _installed_path(member.name, data_prefix, project, layout)
        place(path)
        totals.add(path, member.size, _StreamModel.member(path, member))
        if in_site and path.endswith(".py"):
            compiled = f"{layout.site}/{pyc_path(path[len(layout.site) + 1 :], layout.python_minor)}"
            size = pyc_bytes(member.size, _StreamModel.deflated(member), len(f"/app/{path}"), layout.table)
            place(compiled)
            totals.add(compiled, size, _StreamModel.pyc(compiled, member, layout.table), bytecode=True)
            if target.manager not in _NO_PYC_ROWS:
                added_rows += 1
                record_bytes += len(compiled) - len(layout.site) - 1 + len(",,") + newline

    if dist_info is not None:
        generated = [(f"{dist_info}/INSTALLER", _INSTALLER_CONTENT.get(target.manager, b"pip\n"))]
        if package.top_level:
            generated.append((f"{dist_info}/REQUESTED", b""))
        for name, content in generated:
            path = f"{layout.site}/{name}"
            totals.add(path, len(content), _generated_cost(path, len(content)))
            added_rows += 1
            record_bytes += len(name) + _HASH_ROW + len(str(len(content))) + newline
        for script, reference in _scripts(listing.entry_points):
            path = f"{layout.bin}/{script}"
            size = len(_script_text(reference, layout.python, target.manager).encode("utf-8"))
            place(path)
            totals.add(path, size, _generated_cost(path, size))
            added_rows += 1
            record_bytes += len(f"../../../bin/{script}") + _HASH_ROW + len(str(size)) + newline
        path = f"{layout.site}/{dist_info}/RECORD"
        record_cost += _StreamModel.RECORD_ROW * added_rows + _StreamModel.header(path)
        totals.add(path, record_bytes, record_cost)

    shared = layout.shared_folders()
    for folder in folders - shared:
        totals.compressed += _StreamModel.FOLDER + (
            _StreamModel.LONG_NAME if _long_name(folder + "/") else 0.0
        )
    return totals


def _generated_cost(path: str, size: int) -> float:
    return _StreamModel.header(path) + _StreamModel.GENERATED_PER_BYTE * size


def _installed_path(name: str, data_prefix: str | None, project: str, layout: _Layout) -> tuple[str, bool]:
    """Where pip puts a wheel member, relative to the build dir; True when it lands in site-packages."""
    if data_prefix is not None and name.startswith(data_prefix):
        scheme, _, rest = name[len(data_prefix) :].partition("/")
        if scheme in ("purelib", "platlib"):
            return f"{layout.site}/{rest}", True
        if scheme == "scripts":
            return f"{layout.bin}/{rest}", False
        if scheme == "headers":
            return f"{layout.prefix}/include/python{layout.python_minor}/{project}/{rest}", False
        if scheme == "data":
            return f"{layout.prefix}/{rest}", False
    return f"{layout.site}/{name}", True


# --- estimates from a download's size ------------------------------------------------------------------


@dataclass(frozen=True)
class _SizeRatios:
    installed: float  # installed bytes (with .pyc) per byte of the download
    pyc: float  # .pyc bytes per byte of the download
    compressed: float  # share of the slug's gzip per byte of the download


# Measured on the fit set with Python 3.11 (see CALIBRATION): the real installs against the download
# sizes. Pure-Python wheels: the median package (63 packages; they vary from 2x to 15x). Platform wheels:
# ratio of sums (33 packages), which the big ones dominate, as they do a slug. sdists: the median of 18
# pure-Python sdists (installed/sdist from 0.26x for starlette, whose sdist holds docs and tests, to 11.8x
# for sympy); on 12 others (django, requests, flask...) the total was +6% installed, per package -53%..+216%.
PURE_WHEEL_RATIOS: Final = _SizeRatios(installed=7.83, pyc=4.06, compressed=2.33)
PLATFORM_WHEEL_RATIOS: Final = _SizeRatios(installed=3.50, pyc=0.41, compressed=1.13)
SDIST_RATIOS: Final = _SizeRatios(installed=3.12, pyc=1.41, compressed=1.00)


def _wheel_ratios(filename: str) -> _SizeRatios:
    return PURE_WHEEL_RATIOS if filename.endswith("-none-any.whl") else PLATFORM_WHEEL_RATIOS


def _estimate(package: ResolvedPackage, size: int, ratios: _SizeRatios, method: str) -> SizedPackage:
    return SizedPackage(
        name=package.name,
        version=package.version,
        installed_bytes=round(size * ratios.installed),
        pyc_bytes=round(size * ratios.pyc),
        compressed_bytes=round(size * ratios.compressed),
        file_count=0,
        measured=False,
        method=method,
    )


def _not_measured(package: ResolvedPackage, reason: str) -> SizedPackage:
    return SizedPackage(package.name, package.version, 0, 0, 0, 0, False, f"{NOT_MEASURED}: {reason}")


def _sized(package: ResolvedPackage, listing: WheelListing, target: Target) -> SizedPackage:
    totals = _predict_installed(listing, package, target)
    return SizedPackage(
        name=package.name,
        version=package.version,
        installed_bytes=totals.installed,
        pyc_bytes=totals.pyc,
        compressed_bytes=round(totals.compressed),
        file_count=totals.files,
        measured=True,
        method=listing.method,
    )


# --- the public function -------------------------------------------------------------------------------


@dataclass
class _Outcome:
    sized: SizedPackage
    network_error: NetworkFailure | None = None
    used_network: bool = False


def size_packages(
    packages: Sequence[ResolvedPackage],
    target: Target,
    *,
    cache_dir: Path | None,
    offline: bool,
    build_sdists: bool,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
    workers: int = 8,
) -> list[SizedPackage]:
    """What each package will weigh in the slug once installed on `target`, in the order given.

    Wheels are measured from their zip central directory (HTTP ranges, or a download when ranges are
    not served), cached under `cache_dir` (None: no cache). `offline`: the cache only; other packages
    are estimated from their download size when the index gave it, else not measured. sdists are built
    (`build_sdists`) or estimated. A package that cannot be measured comes back with `measured=False`
    and a method starting with "not measured: " and the reason. Raises ToolFailure when the network
    failed for every package that needed it and nothing else could be measured.
    """
    cache = _Cache(cache_dir)
    client = Client()
    progress.stage("Sizing packages", total=len(packages))
    outcomes: list[_Outcome | None] = [None] * len(packages)

    def work(package: ResolvedPackage) -> _Outcome:
        return _size_one(package, target, cache, client, offline=offline, build_sdists=build_sdists)

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="slugprof-wheels") as pool:
            futures = {pool.submit(work, package): index for index, package in enumerate(packages)}
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                progress.advance()
    finally:
        client.close()

    done = [outcome for outcome in outcomes if outcome is not None]
    failures = [outcome.network_error for outcome in done if outcome.network_error is not None]
    reached = any(outcome.used_network and outcome.network_error is None for outcome in done)
    if failures and not reached and not any(outcome.sized.measured for outcome in done):
        hosts = ", ".join(sorted({error.host for error in failures}))
        raise ToolFailure(f"{failures[0]}; no package could be measured (hosts: {hosts})")
    return [outcome.sized for outcome in done]


def _size_one(
    package: ResolvedPackage,
    target: Target,
    cache: _Cache,
    client: Client,
    *,
    offline: bool,
    build_sdists: bool,
) -> _Outcome:
    file = package.file
    if file is None:
        return _Outcome(_not_measured(package, "no installable file for the target"))
    if file.kind == "wheel":
        key = _cache_key(file)
        cached = cache.get(key)
        if cached is not None:
            return _Outcome(_sized(package, cached, target))
        if offline:
            if file.size:
                return _Outcome(
                    _estimate(
                        package,
                        file.size,
                        _wheel_ratios(file.filename),
                        f"{METHOD_WHEEL_ESTIMATE} (offline, not in the cache)",
                    )
                )
            return _Outcome(_not_measured(package, "offline and not in the cache"))
        return _network(package, lambda: _fetch_wheel(client, file, cache), key, cache, target)

    if build_sdists:
        key = _cache_key(file, prefix="built-")
        cached = cache.get(key)
        if cached is not None:
            return _Outcome(_sized(package, cached, target))
        if not offline:
            outcome = _network(package, lambda: _build_sdist(client, file, cache), key, cache, target)
            if outcome.sized.measured or outcome.network_error is not None:
                return outcome
            reason = outcome.sized.method.removeprefix(f"{NOT_MEASURED}: ")
            return _sdist_estimate(package, file, client, offline=offline, why=f"build failed: {reason}")
        return _sdist_estimate(package, file, client, offline=offline, why="offline: not built")
    return _sdist_estimate(package, file, client, offline=offline, why=None)


def _sdist_estimate(
    package: ResolvedPackage, file: ResolvedFile, client: Client, *, offline: bool, why: str | None
) -> _Outcome:
    method = METHOD_SDIST_ESTIMATE + (f" ({why})" if why else "")
    if file.size:
        return _Outcome(_estimate(package, file.size, SDIST_RATIOS, method))
    if offline:
        return _Outcome(_not_measured(package, "offline, and the index gave no sdist size"))
    try:
        size = client.size(file.url, shown=host_of(file.url))
    except NetworkFailure as error:
        return _Outcome(_not_measured(package, str(error)), error, used_network=True)
    except NetError as error:
        return _Outcome(_not_measured(package, str(error)), used_network=True)
    if not size:
        return _Outcome(_not_measured(package, "the sdist's size is unknown"), used_network=True)
    return _Outcome(_estimate(package, size, SDIST_RATIOS, method), used_network=True)


def _network(
    package: ResolvedPackage,
    fetch: Callable[[], WheelListing],
    key: str,
    cache: _Cache,
    target: Target,
) -> _Outcome:
    file = package.file
    assert file is not None
    try:
        listing = fetch()
    except NetworkFailure as error:
        return _Outcome(_not_measured(package, str(error)), error, used_network=True)
    except (NetError, _NotListed) as error:
        return _Outcome(_not_measured(package, f"{file.filename}: {error}"), used_network=True)
    except CorruptWheelError as error:
        return _Outcome(
            _not_measured(package, f"{file.filename} is not a readable wheel ({error})"), used_network=True
        )
    except ToolFailure as error:  # run_command: pip missing or too slow
        return _Outcome(_not_measured(package, str(error)), used_network=True)
    except OSError as error:  # writing the download (disk full, read-only cache)
        reason = error.strerror or str(error)
        return _Outcome(_not_measured(package, f"cannot save {file.filename}: {reason}"), used_network=True)
    cache.put(key, listing, file)
    return _Outcome(_sized(package, listing, target), used_network=True)
