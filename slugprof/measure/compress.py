"""The compressed size of the slug: `gzip -6` of the GNU tar stream of the build dir, measured or estimated.

Heroku builds the slug with `tar czf slug.tgz -C build_dir .`, so its size is that of `gzip -6(tar(tree))`.
This module models that tar stream exactly (its length is known without reading a byte) and then either

- compresses all of it (`exact=True`): a real tar stream written by `tarfile` into a gzip compressor, or
- estimates it from a sample (the default), more than ten times faster than `tar | gzip -6`:

  1. The stream is cut into pieces aligned to members: a member (its header blocks, its data, its
     padding) is one piece, or several 16 KiB pieces when it is longer.
  2. Pieces are sampled with a probability proportional to their length (PPS). The decision depends
     only on the member's name, the piece's index and the sampling rate (rounded, so that it rarely
     moves), never on the contents of other files, so each file's measurements can be cached. Small
     groups get a floor of sampled bytes so that their own estimate is usable: a group below the
     floor is compressed whole.
  3. A sampled piece is deflated with the 32 KiB of the stream in front of it as a preset dictionary.
     That is deflate's own window, so the piece's matches against the files before it are found as
     in the real stream. Without it, separately compressed pieces are biased high by 7%; with it, the
     sum of all pieces is within half a percent of the real stream (see MODEL_BIAS_*).
  4. Totals are ratio estimates (Horvitz-Thompson weights, ratio to the known tar bytes) within strata
     of (group, file extension). The 95% interval comes from the sample variance, plus the model's
     measured bias bound.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import math
import multiprocessing
import multiprocessing.context
import os
import random
import tarfile
import threading
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Literal, NamedTuple

from slugprof.cache import ChunkCache, PieceSizes
from slugprof.model import CompressionEstimate, FileStat, GroupEstimate, TarGroup, TarMember
from slugprof.model.codec import DecodeError, decode, encode
from slugprof.progress import NoProgress, Progress

# --- the tar stream ------------------------------------------------------------------------------------

BLOCK: Final = 512
RECORD: Final = 20 * BLOCK  # GNU tar's default blocking factor: the archive is padded to 10 KiB
NAME_FIELD: Final = 100  # longer names (and link targets) take a GNU ././@LongLink member first
ARCHIVE_ROOT: Final = "."  # `tar czf slug.tgz -C build_dir .`: every name starts with "./"
NAME_ENCODING: Final = "utf-8"
NAME_ERRORS: Final = "surrogateescape"
GZIP_FRAMING: Final = 18  # gzip's 10-byte header and 8-byte trailer around the deflate stream

# --- the sampling model --------------------------------------------------------------------------------

MODEL_VERSION: Final = 1  # bump when a change alters measured piece sizes: it invalidates the cache
PIECE: Final = 16 * 1024
WINDOW: Final = 32 * 1024  # deflate's window: the preset dictionary of each sampled piece
# 8% of the stream: on the 573 MB tree (below), replaying the design with 60 different hashes gave a
# standard deviation of 0.38% for the total (worst 0.9%) in about 8% of `tar | gzip -6`'s time on two
# cores; 6% gave 0.53%. The other trees: 0.3% to 0.7%. The reported interval is wider (it assumes
# independent draws, while a long member's pieces are spread evenly): all replays fell within it.
SAMPLE_FRACTION: Final = 0.08  # expected share of the stream's bytes compressed
MIN_SAMPLE_BYTES: Final = 12 * 1024 * 1024  # smaller streams are sampled more densely, or whole
GROUP_FLOOR_BYTES: Final = 256 * 1024  # each group gets at least this much sampled, or all of it
MIN_STRATUM_SAMPLES: Final = 8  # extensions with fewer sampled pieces share their group's ratio
Z_95: Final = 1.96
GOLDEN: Final = (math.sqrt(5) - 1) / 2  # spreads one member's sampled pieces evenly along it

# The model's own error, measured, not tuned. Every piece of a tree was compressed with its preset
# dictionary (a census: no sampling error) and the sum compared with zlib's gzip -6 of the whole tar
# stream; each group with the exact mode's attribution. Five trees:
#   573 MB of installed packages (numpy, pandas, scipy, scikit-learn, matplotlib, django,
#     pillow, sqlalchemy, botocore and their dependencies; 28 groups)     total +0.03%
#   124 MB, a development virtualenv (mypy, ruff, pip...; 33 groups)     total +0.22%
#   53 MB, a Python standard library (206 groups)                        total -0.29%
#   114 MB of Debian package documentation, texts and .gz (473 groups)   total -0.45%
#   1008 MB of shared libraries and symlinks (461 groups)                total -0.23%
# The bound on the total adds two effects outside the model, measured on the 573 MB tree: tar in
# directory order instead of sorted by name (Heroku does not sort): +0.31%; GNU gzip 1.12 against
# zlib (which this module uses, and pigz too) on the same stream: +0.21%.
# Per group, every group of the five trees is within 2% + 2 KiB (tiny groups: block headers and where
# the attribution of a deflate block's bytes falls); the same 2 KiB covers such effects on a tiny total.
# Pieces of 8 KiB were +0.7% in total, 4 KiB +2.1% (a block header each): hence 16 KiB. Without the
# preset dictionary the total is +7.4%.
MODEL_BIAS_TOTAL: Final = 0.01
MODEL_BIAS_GROUP: Final = 0.02
MODEL_BIAS_BYTES: Final = 2048

IN_PROCESS_BELOW_BYTES: Final = 6 * 1024 * 1024  # less work than this is not worth starting workers
BATCH_BYTES: Final = 2 * 1024 * 1024  # work (pieces + their windows) per batch sent to a worker
MAX_PIECES_PER_JOB: Final = 64

Kind = Literal["file", "symlink", "dir"]


class _Desc(NamedTuple):
    """What a worker needs to rebuild one member's bytes of the stream (picklable, small)."""

    name: str  # the name in the archive: "./app.py", "./lib/" for a folder
    kind: Kind
    size: int  # data bytes (0 for folders and symlinks)
    path: str | None
    content: bytes | None
    link: str
    mode: int
    mtime: int
    header_len: int
    length: int  # header blocks + data + padding
    readable: bool


@dataclass(slots=True)
class _Entry:
    desc: _Desc
    group: TarGroup
    stratum: str
    token: str  # what the member's bytes depend on (for cache keys)
    cacheable: bool = False  # a readable file on disk
    offset: int = 0  # of the member's first header block in the stream
    unit: float = 0.0  # PPS unit: a piece of b bytes is sampled with probability min(1, b / unit)
    selected: list[int] = field(default_factory=list)  # piece indices in the sample
    pieces: PieceSizes = field(default_factory=dict)  # measured so far: index -> compressed bytes


# --- building the modelled stream ----------------------------------------------------------------------


def _clean_arcname(arcname: str) -> str:
    name = "/".join(part for part in arcname.replace("\\", "/").split("/") if part not in ("", "."))
    try:
        name.encode(NAME_ENCODING, NAME_ERRORS)
    except UnicodeEncodeError:
        name = name.encode(NAME_ENCODING, "backslashreplace").decode(NAME_ENCODING)
    return name


def _sort_key(name: str) -> bytes:
    """GNU tar --sort=name order: a depth-first walk, each folder's entries sorted by their bytes.

    Comparing the names with "/" replaced by the lowest byte gives the same order.
    """
    return name.encode(NAME_ENCODING, NAME_ERRORS).replace(b"/", b"\x00")


def _long_name_blocks(text: str) -> int:
    encoded = len(text.encode(NAME_ENCODING, NAME_ERRORS))
    if encoded <= NAME_FIELD:
        return 0
    return 1 + (encoded + 1 + BLOCK - 1) // BLOCK  # its own header, then the name and a NUL, padded


def _header_len(name: str, link: str) -> int:
    return BLOCK * (1 + _long_name_blocks(name) + _long_name_blocks(link))


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _entries(members: Sequence[TarMember]) -> tuple[list[_Entry], int]:
    """The archive's members in tar order, folders implied by the paths included, with offsets."""
    named: list[tuple[bytes, str, TarMember | None]] = []
    folders: set[str] = set()
    for member in members:
        name = _clean_arcname(member.arcname)
        if not name:
            continue
        named.append((_sort_key(name), name, member))
        slash = name.rfind("/")
        while slash > 0:
            folder = name[:slash]
            if folder in folders:
                break
            folders.add(folder)
            slash = folder.rfind("/")
    folders.difference_update(name for _, name, _ in named)
    named.extend((_sort_key(folder), folder, None) for folder in folders)
    named.append((b"", "", None))  # the root folder, "./"
    named.sort(key=lambda item: item[0])

    # A folder belongs to the group of the first member after it (the root: to the first one).
    following = next((member.group for _, _, member in named if member is not None), TarGroup.app())
    entries = []
    for _, name, entry_member in reversed(named):
        if entry_member is not None:
            following = entry_member.group
            entries.append(_member_entry(f"{ARCHIVE_ROOT}/{name}", entry_member))
        else:
            folder = f"{ARCHIVE_ROOT}/{name}/" if name else f"{ARCHIVE_ROOT}/"
            entries.append(_folder_entry(folder, following))
    entries.reverse()
    offset = 0
    for entry in entries:
        entry.offset = offset
        offset += entry.desc.length
    tar_bytes = offset + 2 * BLOCK  # the end-of-archive blocks
    tar_bytes += -tar_bytes % RECORD
    return entries, tar_bytes


def _folder_entry(tar_name: str, group: TarGroup) -> _Entry:
    header = _header_len(tar_name, "")
    desc = _Desc(tar_name, "dir", 0, None, None, "", 0o755, 0, header, header, True)
    return _Entry(desc, group, "(header)", token=tar_name)


def _member_entry(tar_name: str, member: TarMember) -> _Entry:
    if member.kind == "symlink":
        return _symlink_entry(tar_name, member)
    mode, mtime, readable, token = 0o644, 0, True, ""
    if member.content is not None:
        token = hashlib.blake2b(member.content, digest_size=16).hexdigest()
    elif member.path is None:
        readable = False  # neither bytes nor a file to read them from
    else:
        status = member.stat or _stat(member.path)
        if status is None:
            readable = False
        else:
            # A file that turns out unreadable is caught when it is read (counted incompressible).
            mode, mtime = status.mode & 0o7777, status.mtime_ns // 1_000_000_000
            path = member.path if os.path.isabs(member.path) else os.path.abspath(member.path)
            token = (
                f"{path}\0{member.size}\0{status.size}\0{status.mtime_ns}\0"
                f"{status.ino}\0{status.dev}\0{status.mode}"
            )
    header = _header_len(tar_name, "")
    length = header + _padded(member.size)
    desc = _Desc(
        tar_name, "file", member.size, member.path, member.content, "", mode, mtime, header, length, readable
    )
    cacheable = readable and member.content is None
    token = f"{tar_name}\0{mode}\0{mtime}\0{token}"
    return _Entry(desc, member.group, _stratum(tar_name), token, cacheable)


def _stat(path: str) -> FileStat | None:
    try:
        return FileStat.of(os.stat(path))
    except OSError:
        return None


def _symlink_entry(tar_name: str, member: TarMember) -> _Entry:
    link = member.link_target
    mtime = 0
    if member.path is not None:
        if link is None:
            with contextlib.suppress(OSError):
                link = os.readlink(member.path)
        with contextlib.suppress(OSError):
            mtime = int(os.lstat(member.path).st_mtime)
    link = link if link is not None else "x" * member.size
    header = _header_len(tar_name, link)
    desc = _Desc(tar_name, "symlink", 0, None, None, link, 0o777, mtime, header, header, True)
    return _Entry(desc, member.group, "(header)", f"{tar_name}\0{link}\0{mtime}")


_BINARY_SUFFIXES: Final = frozenset({"so", "pyd", "dylib", "dll", "a", "o"})


def _stratum(name: str) -> str:
    """The file's extension; shared libraries (`x.cpython-312-x86_64-linux-gnu.so`, `libz.so.1`) as one."""
    base = name[name.rfind("/") + 1 :].lower()
    suffixes = base.split(".")[1:]
    if not suffixes:
        return "(none)"
    while len(suffixes) > 1 and suffixes[-1].isdigit():  # libz.so.1.2.13
        suffixes.pop()
    return "(binary)" if suffixes[-1] in _BINARY_SUFFIXES else suffixes[-1][:16]


def _tarinfo(desc: _Desc) -> tarfile.TarInfo:
    info = tarfile.TarInfo(desc.name)
    info.mode = desc.mode
    info.mtime = desc.mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"  # Heroku: tar --owner=root
    if desc.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif desc.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = desc.link
    else:
        info.size = desc.size
    return info


def _header_bytes(desc: _Desc) -> bytes:
    return _tarinfo(desc).tobuf(tarfile.GNU_FORMAT, NAME_ENCODING, NAME_ERRORS)


def _filler(desc: _Desc, start: int, length: int) -> bytes:
    """Stand-in bytes for a file that cannot be read: incompressible, and the same on every run."""
    key = f"{desc.name}\0{start}".encode(NAME_ENCODING, NAME_ERRORS)
    return random.Random(hashlib.blake2b(key, digest_size=8).digest()).randbytes(length)


def member_stratum(name: str) -> str:
    """The stratum of a file of this name: its extension, shared libraries as one."""
    return _stratum(name)


def member_length(arcname: str, size: int) -> int:
    """The bytes a file of `size` bytes takes in the tar stream: header blocks, data, padding."""
    return _header_len(f"{ARCHIVE_ROOT}/{_clean_arcname(arcname)}", "") + _padded(size)


def tar_order(arcnames: Sequence[str]) -> list[str]:
    """Names in the order GNU tar (sorted by name) writes them."""
    return sorted(arcnames, key=lambda name: _sort_key(_clean_arcname(name)))


def _tar_entries(arcnames: Sequence[str], contents: Sequence[bytes]) -> Iterator[tuple[str, str, bytes]]:
    """The tar stream of just these files (and the folders their names imply), entry by entry: its
    name in the archive, its kind, its bytes (header and content)."""
    group = TarGroup.app()
    members = [
        TarMember(name, group, len(data), content=data) for name, data in zip(arcnames, contents, strict=True)
    ]
    for entry in _entries(members)[0]:
        with _MemberBytes(entry.desc, strict=False) as member:
            yield entry.desc.name, entry.desc.kind, member.range(0, entry.desc.length)


def stream_costs(arcnames: Sequence[str], contents: Sequence[bytes], level: int = 6) -> list[int]:
    """Each file's share of `gzip -<level>` of the tar stream of just these files (and the folders
    their names imply), measured as the sampled estimate measures a piece: each PIECE of the stream
    deflated with the WINDOW bytes of the stream before it. In the order given."""
    stream = bytearray()
    costs: dict[str, int] = {}
    for name, _, data in _tar_entries(arcnames, contents):
        cost = 0
        for start in range(0, len(data), PIECE):
            piece = data[start : start + PIECE]
            cost += _deflated_size(piece, bytes(stream[-WINDOW:]), level)
            stream += piece
        costs[name] = cost
    return [costs[f"{ARCHIVE_ROOT}/{_clean_arcname(name)}"] for name in arcnames]


def tar_stream_cost(
    arcnames: Sequence[str],
    contents: Sequence[bytes],
    *,
    omit_folders: frozenset[str] = frozenset(),
    window_names: Sequence[str] = (),
    level: int = 6,
) -> int:
    """Bytes of `gzip -<level>` that the tar stream of just these files (and the folders their names
    imply, less `omit_folders`) adds to the stream, deflated as one stream as `tar | gzip` deflates it.

    `window_names`: empty files whose tar headers stand for the stream before these files (deflate's
    window then holds them, as it holds the members of the slug that precede a package).
    """
    omitted = {f"{ARCHIVE_ROOT}/{_clean_arcname(name)}/" for name in omit_folders} | {f"{ARCHIVE_ROOT}/"}
    window = b"".join(data for _, _, data in _tar_entries(window_names, [b""] * len(window_names)))
    if window:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=window[-WINDOW:])
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = b"".join(
        data
        for name, kind, data in _tar_entries(arcnames, contents)
        if not (kind == "dir" and name in omitted)
    )
    # One call: zlib lets other threads run while it deflates, a call at a time.
    return len(compressor.compress(stream)) + len(compressor.flush())


# --- reading members' bytes (in the workers) -----------------------------------------------------------


class _UnreadableError(Exception):
    pass


class _MemberBytes:
    """Ranges of one member's bytes in the stream: header blocks, data, padding."""

    def __init__(self, desc: _Desc, *, strict: bool) -> None:
        self.desc = desc
        self.strict = strict  # raise on a read failure (the member measured) or use filler (a window)
        self._header: bytes | None = None
        self._fd: int | None = None
        self._failed = not desc.readable

    def __enter__(self) -> _MemberBytes:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def failed(self) -> bool:
        """True once the member's file could not be read (its bytes were replaced by filler)."""
        return self._failed and self.desc.content is None

    def range(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the member in the stream."""
        desc = self.desc
        parts: list[bytes] = []
        if start < desc.header_len:
            if self._header is None:
                self._header = _header_bytes(desc)
            parts.append(self._header[start : min(end, desc.header_len)])
        data_start = max(start, desc.header_len) - desc.header_len
        data_end = min(end - desc.header_len, desc.size)
        if data_end > data_start:
            parts.append(self.data(data_start, data_end))
        pad_start = max(start, desc.header_len + desc.size)
        if end > pad_start:
            parts.append(bytes(end - pad_start))
        return b"".join(parts)

    def data(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the member's data."""
        desc = self.desc
        if desc.content is not None:
            chunk = desc.content[start:end]
            return chunk + bytes(end - start - len(chunk))
        if not self._failed and desc.path is not None:
            try:
                if self._fd is None:
                    self._fd = os.open(desc.path, os.O_RDONLY)
                chunk = os.pread(self._fd, end - start, start)
                if len(chunk) == end - start:
                    return chunk
            except OSError:
                pass
            self._failed = True
        if self.strict:
            raise _UnreadableError(desc.name)
        return _filler(desc, start, end - start)


@dataclass
class _Job:
    index: int  # of the entry
    desc: _Desc
    before: tuple[_Desc, ...]  # the members in front of it, nearest first, covering WINDOW bytes
    pieces: tuple[int, ...]
    span: int = 0  # stream bytes to report done once it has run (progress)


JobResult = tuple[int, PieceSizes, bool]  # entry index, measured pieces, unreadable


def _window(job: _Job, own: _MemberBytes, start: int) -> bytes:
    """The WINDOW bytes of the stream in front of `start` (a position inside the job's member)."""
    parts = [own.range(max(0, start - WINDOW), start)]
    missing = WINDOW - start
    for desc in job.before:
        if missing <= 0:
            break
        take = min(missing, desc.length)
        with _MemberBytes(desc, strict=False) as member:
            parts.append(member.range(desc.length - take, desc.length))
        missing -= take
    parts.reverse()
    return b"".join(parts)


def _deflated_size(data: bytes, window: bytes, level: int) -> int:
    if window:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=window)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return len(compressor.compress(data)) + len(compressor.flush())


def _run_jobs(jobs: Sequence[_Job], level: int) -> list[JobResult]:
    """Measure the sampled pieces of some members (runs in a worker process, or in-process)."""
    results: list[JobResult] = []
    for job in jobs:
        sizes: PieceSizes = {}
        try:
            with _MemberBytes(job.desc, strict=True) as own:
                for piece in job.pieces:
                    start = piece * PIECE
                    data = own.range(start, min(start + PIECE, job.desc.length))
                    sizes[piece] = _deflated_size(data, _window(job, own, start), level)
        except _UnreadableError:
            results.append((job.index, {}, True))
            continue
        results.append((job.index, sizes, False))
    return results


# --- the sampling design -------------------------------------------------------------------------------


def _piece_count(length: int) -> int:
    return (length + PIECE - 1) // PIECE


def _piece_length(length: int, piece: int) -> int:
    return min(PIECE, length - piece * PIECE)


def _start(name: str) -> float:
    """A number in [0, 1) fixed by the member's name: where its pieces' sampling sequence starts."""
    key = f"v{MODEL_VERSION}\0{name}".encode(NAME_ENCODING, NAME_ERRORS)
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64


@dataclass
class _Lengths:
    """The pieces of some members: `full` pieces of PIECE bytes, and the shorter last pieces."""

    full: int = 0
    partial: list[int] = field(default_factory=list)

    def add(self, length: int) -> None:
        full, rest = divmod(length, PIECE)
        self.full += full
        if rest:
            self.partial.append(rest)

    @property
    def total(self) -> int:
        return self.full * PIECE + sum(self.partial)

    def expected(self, unit: float) -> float:
        """Bytes sampled, on average, with this PPS unit."""
        if unit <= 0:
            return float(self.total)
        return self.full * PIECE * min(1.0, PIECE / unit) + sum(b * min(1.0, b / unit) for b in self.partial)

    def unit_for(self, target: float) -> float:
        """The PPS unit S such that sum(min(1, b/S) * b) == target; 0 means "take everything"."""
        if target >= self.total:
            return 0.0
        certain = 0  # bytes of the largest pieces, taken with probability 1
        squares = self.full * PIECE * PIECE + sum(b * b for b in self.partial)
        sizes = [(PIECE, self.full)] if self.full else []
        sizes += [(b, 1) for b in sorted(self.partial, reverse=True)]
        for b, count in sizes:
            unit = squares / (target - certain)
            if unit >= b:
                return _quantised(unit)
            certain += b * count
            squares -= b * b * count
        return 0.0


def _quantised(unit: float) -> float:
    """Round down to a quarter power of two: the sample stays put while the tree changes a little."""
    return float(2.0 ** (math.floor(4 * math.log2(unit)) / 4))


def _probability(length: int, unit: float) -> float:
    return 1.0 if unit <= 0 else min(1.0, length / unit)


def _design(entries: list[_Entry], tar_bytes: int) -> None:
    """Choose each piece's inclusion probability, and which pieces are in the sample.

    Piece k of a member is in the sample when (start + k * GOLDEN) mod 1 < p: each piece has its
    probability p, and a long member's sampled pieces are spread evenly along it.
    """
    by_group: dict[TarGroup, _Lengths] = {}
    overall = _Lengths()
    for entry in entries:
        by_group.setdefault(entry.group, _Lengths()).add(entry.desc.length)
        overall.add(entry.desc.length)
    unit = overall.unit_for(max(SAMPLE_FRACTION * tar_bytes, MIN_SAMPLE_BYTES))
    group_unit: dict[TarGroup, float] = {}
    for group, lengths in by_group.items():
        group_unit[group] = unit
        floor = min(lengths.total, GROUP_FLOOR_BYTES)
        if unit > 0 and lengths.expected(unit) < floor:
            group_unit[group] = min(unit, lengths.unit_for(floor))
    for entry in entries:
        entry.unit = unit = group_unit[entry.group]
        length = entry.desc.length
        count = _piece_count(length)
        if unit <= 0 or _piece_length(length, count - 1) >= unit:
            entry.selected = list(range(count))
            continue
        start = _start(entry.desc.name)
        entry.selected = [
            piece
            for piece in range(count)
            if (start + piece * GOLDEN) % 1.0 < _piece_length(length, piece) / unit
        ]


# --- the cache -----------------------------------------------------------------------------------------


def _cache_keys(entries: list[_Entry], level: int) -> dict[int, str]:
    """For each readable file on disk, a digest of what its measurements depend on: the file itself
    (path, size, mtime, inode, mode), its name, and the members whose bytes are in its window."""
    digests = [
        hashlib.blake2b(entry.token.encode(NAME_ENCODING, NAME_ERRORS), digest_size=16).digest()
        for entry in entries
    ]
    prefix = f"{MODEL_VERSION}:{PIECE}:{WINDOW}:{level}".encode()
    keys: dict[int, str] = {}
    for index, entry in enumerate(entries):
        if not entry.cacheable:
            continue
        parts = [prefix, digests[index]]
        reach = WINDOW
        before = index - 1
        while reach > 0 and before >= 0:
            parts.append(digests[before])
            reach -= entries[before].desc.length
            before -= 1
        keys[index] = hashlib.blake2b(b"".join(parts), digest_size=20).hexdigest()
    return keys


# --- running the measurements --------------------------------------------------------------------------


def _jobs_for(entries: list[_Entry], index: int) -> list[_Job]:
    """The member's pieces still to measure; a long member's are split so that all workers share it."""
    entry = entries[index]
    missing = [piece for piece in entry.selected if piece not in entry.pieces]
    jobs = []
    for start in range(0, len(missing), MAX_PIECES_PER_JOB):
        pieces = tuple(missing[start : start + MAX_PIECES_PER_JOB])
        before: list[_Desc] = []
        reach = WINDOW - pieces[0] * PIECE  # the window reaches in front of the member
        other = index - 1
        while reach > 0 and other >= 0:
            before.append(entries[other].desc)
            reach -= entries[other].desc.length
            other -= 1
        jobs.append(_Job(index, entry.desc, tuple(before), pieces))
    return jobs


def _job_work(job: _Job) -> int:
    return sum(_piece_length(job.desc.length, piece) + WINDOW for piece in job.pieces)


def _batches(jobs: list[_Job], workers: int) -> list[list[_Job]]:
    total = sum(_job_work(job) for job in jobs)
    target = max(256 * 1024, min(BATCH_BYTES, total // (4 * workers) + 1))
    batches: list[list[_Job]] = []
    current: list[_Job] = []
    work = 0
    for job in jobs:
        current.append(job)
        work += _job_work(job)
        if work >= target:
            batches.append(current)
            current, work = [], 0
    if current:
        batches.append(current)
    return batches


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork is the cheapest start (a few ms), but forking a process that runs threads is unsafe."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context()


def _measure(jobs: list[_Job], level: int, workers: int, progress: Progress) -> Iterator[JobResult]:
    """Run the jobs, in worker processes when there is enough work; advance progress per batch."""
    batches = _batches(jobs, workers)
    done = 0
    use_pool = workers > 1 and len(batches) > 1 and sum(map(_job_work, jobs)) >= IN_PROCESS_BELOW_BYTES
    if use_pool:
        try:
            with ProcessPoolExecutor(
                max_workers=min(workers, len(batches)), mp_context=_pool_context()
            ) as pool:
                futures: list[Future[list[JobResult]]] = [pool.submit(_run_jobs, b, level) for b in batches]
                for future, batch in zip(futures, batches, strict=True):
                    results = future.result()
                    done += 1
                    yield from results
                    progress.advance(sum(job.span for job in batch))
        except (BrokenProcessPool, OSError):
            pass  # no worker processes here (no /dev/shm, a worker killed...): finish in-process
    for batch in batches[done:]:
        yield from _run_jobs(batch, level)
        progress.advance(sum(job.span for job in batch))


def _set_spans(entries: list[_Entry], jobs: list[_Job], tar_bytes: int) -> None:
    """Each job reports the stream from its first piece up to the next job's as done."""
    starts = [entries[job.index].offset + job.pieces[0] * PIECE for job in jobs] + [tar_bytes]
    starts[0] = 0
    for job, start, end in zip(jobs, starts, starts[1:], strict=False):
        job.span = end - start


# --- the estimator -------------------------------------------------------------------------------------


@dataclass
class _Stratum:
    certain: float = 0.0  # compressed bytes of the pieces taken with probability 1
    rest_bytes: float = 0.0  # stream bytes of the other pieces
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (bytes, compressed, p)

    def merge(self, other: _Stratum) -> None:
        self.certain += other.certain
        self.rest_bytes += other.rest_bytes
        self.samples.extend(other.samples)


@dataclass(frozen=True)
class _Estimate:
    """An estimate of compressed bytes with the variance of its sampling error and its degrees of freedom."""

    value: float
    variance: float = 0.0
    df: float = math.inf

    def half_width(self) -> float:
        """Half-width of the 95% interval of the sampling error (Student's t for small samples)."""
        return _t95(self.df) * math.sqrt(self.variance)


_T95: Final = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def _t95(df: float) -> float:
    """The 97.5% quantile of Student's t: the table to 10 degrees of freedom, then a close expansion."""
    if df < 1:
        return _T95[0]
    if df <= len(_T95):
        return _T95[int(df) - 1]
    return Z_95 + 2.4 / df  # within 0.01 of the table above 10 degrees of freedom


def _sum(estimates: Sequence[_Estimate]) -> _Estimate:
    """The sum of independent estimates; degrees of freedom by Welch-Satterthwaite."""
    variance = sum(e.variance for e in estimates)
    spread = sum(e.variance**2 / e.df for e in estimates if e.variance > 0)
    df = variance**2 / spread if spread > 0 else math.inf
    return _Estimate(sum(e.value for e in estimates), variance, df)


def _ratio_estimate(stratum: _Stratum) -> _Estimate | None:
    """The stratum's compressed bytes; None when none of its uncertain part was sampled."""
    if stratum.rest_bytes <= 0:
        return _Estimate(stratum.certain)
    samples = stratum.samples
    if not samples:
        return None
    weighted_bytes = sum(b / p for b, _, p in samples)
    ratio = sum(c / p for _, c, p in samples) / weighted_bytes
    scale = stratum.rest_bytes / weighted_bytes
    variance = scale * scale * sum((1 - p) / (p * p) * (c - ratio * b) ** 2 for b, c, p in samples)
    return _Estimate(stratum.certain + ratio * stratum.rest_bytes, variance, max(1, len(samples) - 1))


def _group_estimate(strata: dict[str, _Stratum]) -> _Estimate | None:
    """A group's compressed bytes; extensions with too few samples share a pooled ratio."""
    pooled = _Stratum()
    kept: list[_Stratum] = []
    for stratum in strata.values():
        if stratum.rest_bytes > 0 and len(stratum.samples) < MIN_STRATUM_SAMPLES:
            pooled.merge(stratum)
        else:
            kept.append(stratum)
    if pooled.rest_bytes > 0 and not pooled.samples and kept:
        max(kept, key=lambda s: len(s.samples)).merge(pooled)  # borrow the best-sampled ratio
    else:
        kept.append(pooled)
    parts: list[_Estimate] = []
    for stratum in kept:
        part = _ratio_estimate(stratum)
        if part is None:
            return None
        parts.append(part)
    return _sum(parts)


def _estimate_groups(
    entries: list[_Entry], tar_bytes: int, level: int
) -> tuple[dict[TarGroup, _Estimate], dict[TarGroup, int], int]:
    """Per group: its estimate and its tar bytes; and the bytes sampled."""
    strata: dict[TarGroup, dict[str, _Stratum]] = {}
    tar_of: dict[TarGroup, int] = {}
    sampled = 0
    for entry in entries:
        stratum = strata.setdefault(entry.group, {}).setdefault(entry.stratum, _Stratum())
        tar_of[entry.group] = tar_of.get(entry.group, 0) + entry.desc.length
        sampled += _add_entry(stratum, entry)
    # The end-of-archive blocks and the record padding (zeros, deflated to a few bytes) go to the last
    # group, gzip's framing to the first.
    last_group = entries[-1].group
    trailer = tar_bytes - sum(tar_of.values())
    tar_of[last_group] += trailer
    extra = {entries[0].group: float(GZIP_FRAMING)}
    extra[last_group] = extra.get(last_group, 0.0) + _deflated_size(bytes(trailer), b"", level)

    estimates = _estimate_each_group(strata, tar_of)
    for group, value in extra.items():
        estimate = estimates[group]
        estimates[group] = _Estimate(estimate.value + value, estimate.variance, estimate.df)
    return estimates, tar_of, sampled


def _add_entry(stratum: _Stratum, entry: _Entry) -> int:
    """Count the member's sampled pieces, and the bytes left to the estimate, in its stratum.

    Returns the bytes of its pieces that were sampled and measured."""
    sampled = 0
    member_length = entry.desc.length
    for piece in entry.selected:
        measured = entry.pieces.get(piece)
        length = _piece_length(member_length, piece)
        p = _probability(length, entry.unit)
        if measured is None:  # an unreadable file: counted whole, as incompressible
            stratum.certain += length
            continue
        sampled += length
        if p >= 1.0:
            stratum.certain += measured
        else:
            stratum.samples.append((float(length), float(measured), p))
    stratum.rest_bytes += _uncertain_bytes(member_length, entry.unit)
    return sampled


def _uncertain_bytes(member_length: int, unit: float) -> int:
    """The bytes of a member's pieces sampled with a probability below 1 under this PPS unit.

    Every piece but the last is PIECE bytes long, so either all pieces are below the unit or only the
    last, shorter one is (or none)."""
    if unit <= 0:  # everything is taken
        return 0
    if member_length < unit or unit > PIECE:  # the first piece, the longest, so all of them
        return member_length
    last = member_length - (member_length - 1) // PIECE * PIECE
    return last if last < unit else 0


def _estimate_each_group(
    strata: dict[TarGroup, dict[str, _Stratum]], tar_of: dict[TarGroup, int]
) -> dict[TarGroup, _Estimate]:
    """Each group's estimate; a group none of whose uncertain pieces was sampled (only possible by
    chance) takes the overall ratio of the others, with an error as large as the guess."""
    estimates: dict[TarGroup, _Estimate] = {}
    unmeasured: list[TarGroup] = []
    for group, group_strata in strata.items():
        estimate = _group_estimate(group_strata)
        if estimate is None:
            unmeasured.append(group)
        else:
            estimates[group] = estimate
    if unmeasured:
        known_tar = sum(tar_of[group] for group in estimates)
        ratio = sum(e.value for e in estimates.values()) / known_tar if known_tar else 1.0
        for group in unmeasured:
            guess = ratio * tar_of[group]
            estimates[group] = _Estimate(guess, guess * guess, 1)
    return estimates


# --- the public function -------------------------------------------------------------------------------


def estimate_compressed(
    members: Sequence[TarMember],
    *,
    level: int = 6,
    exact: bool = False,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> CompressionEstimate:
    """The size of `gzip -<level>` of the GNU tar stream of `members`, as `tar czf` writes it.

    Sampled by default (see the module's docstring), or measured whole with `exact=True`.
    `cache_dir` keeps per-file measurements between runs (None: no cache); `workers` is the number of
    processes that read and compress (None: one per CPU). Files that cannot be read are counted at
    their size as incompressible and listed in `unreadable`; they never raise. `sampled_bytes` is the
    size of the sample the estimate rests on, whether measured now or earlier (cached).
    """
    with _gc_paused():
        stream_key = _stream_key(members, level) if cache_dir is not None and not exact else None
        remembered = _remembered_estimate(cache_dir, stream_key) if stream_key else None
        if remembered is not None:
            # Every file on disk is answered from the cache.
            on_disk = sum(1 for m in members if m.kind == "file" and m.content is None and m.path is not None)
            remembered = dataclasses.replace(remembered, cached_files=on_disk)
            progress.stage("Compressing (unchanged since the last run)", total=remembered.tar_bytes)
            progress.advance(remembered.tar_bytes)
            return remembered
        entries, tar_bytes = _entries(members)
        progress.stage("Compressing", total=tar_bytes)
        if exact:
            return _exact(entries, tar_bytes, level, progress)
        estimate = _sampled(entries, tar_bytes, level, cache_dir, workers or _cpu_count(), progress)
        if cache_dir is not None and stream_key is not None and not estimate.unreadable:
            _remember_estimate(cache_dir, stream_key, estimate)
        return estimate


def _cpu_count() -> int:
    """CPUs this process may run on (a container's affinity mask, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Tens of thousands of small objects are built: the cyclic collector's passes over them cost
    about a third of a warm run (measured), and none of them form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sampled(
    entries: list[_Entry],
    tar_bytes: int,
    level: int,
    cache_dir: Path | None,
    workers: int,
    progress: Progress,
) -> CompressionEstimate:
    _design(entries, tar_bytes)
    keys: dict[int, str] = {}
    stored: dict[str, PieceSizes] = {}
    cached_files = 0
    cache = ChunkCache.open(cache_dir) if cache_dir is not None else None
    if cache is not None:
        keys = _cache_keys(entries, level)
        stored = cache.get_many(list(keys.values()))
        cache.close()  # no connection stays open across the fork of the workers
        for index, key in keys.items():
            known = stored.get(key)
            if known is not None:
                entries[index].pieces = dict(known)
                cached_files += all(piece in known for piece in entries[index].selected)

    unreadable = {
        i for i, entry in enumerate(entries) if entry.desc.kind == "file" and not entry.desc.readable
    }
    jobs = [
        job
        for index, entry in enumerate(entries)
        if index not in unreadable
        for job in _jobs_for(entries, index)
    ]
    _set_spans(entries, jobs, tar_bytes)
    if not jobs:
        progress.advance(tar_bytes)
    fresh: set[int] = set()
    for index, sizes, failed in _measure(jobs, level, workers, progress):
        if failed:
            unreadable.add(index)
        else:
            entries[index].pieces.update(sizes)
            fresh.add(index)
    for index in unreadable:
        entry = entries[index]
        entry.pieces = {}
        entry.unit = 0.0  # every piece certain, none measured: counted whole, as incompressible
        entry.selected = list(range(_piece_count(entry.desc.length)))
    writer = ChunkCache.open(cache_dir) if cache is not None and cache_dir is not None else None
    if writer is not None:
        writer.put_many(
            (key, entries[index].pieces)
            for index, key in keys.items()
            if index not in unreadable and (index in fresh or key not in stored)
        )
        writer.close()

    estimates, tar_of, sampled = _estimate_groups(entries, tar_bytes, level)
    groups = [
        GroupEstimate(
            group=group,
            tar_bytes=tar_of[group],
            compressed_bytes=round(estimate.value),
            error_bytes=math.ceil(
                estimate.half_width() + MODEL_BIAS_GROUP * estimate.value + MODEL_BIAS_BYTES
            ),
        )
        for group, estimate in estimates.items()
    ]
    total = _sum(list(estimates.values()))
    compressed = sum(g.compressed_bytes for g in groups)
    estimate = CompressionEstimate(
        method="sampled",
        level=level,
        tar_bytes=tar_bytes,
        compressed_bytes=compressed,
        error_bytes=math.ceil(total.half_width() + MODEL_BIAS_TOTAL * compressed + MODEL_BIAS_BYTES),
        sampled_bytes=sampled,
        cached_files=cached_files,
        groups=tuple(sorted(groups, key=lambda g: g.group)),
        unreadable=tuple(sorted(_source_name(entries[i]) for i in unreadable)),
    )
    return estimate


def _stream_key(members: Sequence[TarMember], level: int) -> str:
    """A digest of everything a sampled estimate depends on: the model, and each member's name, group
    and content (a file by its identity: path, size, mtime, inode, device and mode, as the per-file
    cache keys it). The stream's folders and layout follow from the names."""
    digest = hashlib.blake2b(f"{MODEL_VERSION}:{PIECE}:{WINDOW}:{level}".encode(), digest_size=20)
    for member in members:
        group = member.group
        if member.content is not None:
            what = hashlib.blake2b(member.content, digest_size=16).hexdigest()
        elif member.kind == "symlink":
            what = f"{member.link_target}\0{_symlink_mtime(member)}"
        else:
            status = member.stat or (_stat(member.path) if member.path is not None else None)
            what = "" if status is None else f"{status.size}\0{status.mtime_ns}\0{status.ino}\0{status.dev}"
            what += f"\0{status.mode if status else ''}\0{member.path}"
        line = f"{member.arcname}\0{member.kind}\0{member.size}\0{group.kind.value}\0{group.name}\0{what}\n"
        digest.update(line.encode(NAME_ENCODING, NAME_ERRORS))
    return digest.hexdigest()


def _symlink_mtime(member: TarMember) -> int:
    if member.path is None:
        return 0
    try:
        return int(os.lstat(member.path).st_mtime)
    except OSError:
        return 0


def _remembered_estimate(cache_dir: Path | None, key: str) -> CompressionEstimate | None:
    """The estimate made earlier for the very same stream, from the cache; None when there is none."""
    cache = ChunkCache.open(cache_dir) if cache_dir is not None else None
    if cache is None:
        return None
    text = cache.get_stream(key)
    cache.close()
    if text is None:
        return None
    try:
        remembered = decode(CompressionEstimate, json.loads(text))
    except (ValueError, DecodeError):
        return None  # a row written by another version of the model: measure again
    return remembered


def _remember_estimate(cache_dir: Path, key: str, estimate: CompressionEstimate) -> None:
    cache = ChunkCache.open(cache_dir)
    if cache is not None:
        cache.put_stream(key, json.dumps(encode(estimate), separators=(",", ":")))
        cache.close()


def _source_name(entry: _Entry) -> str:
    return entry.desc.path or entry.desc.name


# --- exact mode ----------------------------------------------------------------------------------------


class _GroupedGzipSink:
    """A write-only file that gzips what it is given and counts the output per group.

    At each change of group it ends the deflate block (Z_BLOCK), so that the output so far belongs to
    the groups before. That costs a block header per change: -0.002% on 573 MB with 38 changes.
    """

    def __init__(self, level: int, boundaries: list[tuple[int, TarGroup]], progress: Progress) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self._boundaries = boundaries  # (stream offset, group starting there), in order
        self._next = 1
        self._group = boundaries[0][1]
        self._position = 0
        self._progress = progress
        self.compressed: dict[TarGroup, int] = {}

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            limit = len(view)
            if self._next < len(self._boundaries):
                limit = min(limit, self._boundaries[self._next][0] - self._position)
            if limit > 0:
                self._count(self._compressor.compress(view[:limit]))
                self._position += limit
                view = view[limit:]
            if self._next < len(self._boundaries) and self._position >= self._boundaries[self._next][0]:
                self._count(self._compressor.flush(zlib.Z_BLOCK))
                self._group = self._boundaries[self._next][1]
                self._next += 1
        self._progress.advance(len(data))
        return len(data)

    def finish(self) -> None:
        self._count(self._compressor.flush(zlib.Z_FINISH))

    def _count(self, output: bytes) -> None:
        self.compressed[self._group] = self.compressed.get(self._group, 0) + len(output)


class _SafeReader:
    """A member's data for tarfile: the file's bytes, or incompressible filler when they cannot be read."""

    def __init__(self, desc: _Desc) -> None:
        self._member = _MemberBytes(desc, strict=False)
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        total = self._member.desc.size
        end = total if size < 0 else min(total, self._position + size)
        data = self._member.data(self._position, end) if end > self._position else b""
        self._position = end
        return data

    @property
    def failed(self) -> bool:
        return self._member.failed

    def close(self) -> None:
        self._member.close()


def _exact(entries: list[_Entry], tar_bytes: int, level: int, progress: Progress) -> CompressionEstimate:
    boundaries: list[tuple[int, TarGroup]] = []
    for entry in entries:
        if not boundaries or boundaries[-1][1] != entry.group:
            boundaries.append((entry.offset, entry.group))
    sink = _GroupedGzipSink(level, boundaries, progress)
    unreadable: list[str] = []
    tar_of: dict[TarGroup, int] = {}
    copy_buffer = 256 * 1024
    with tarfile.open(
        fileobj=_as_binary_io(sink),
        mode="w|",
        format=tarfile.GNU_FORMAT,
        encoding=NAME_ENCODING,
        errors=NAME_ERRORS,
        bufsize=copy_buffer,
    ) as archive:
        archive.copybufsize = copy_buffer  # type: ignore[attr-defined]  # read by addfile, not in stubs
        for entry in entries:
            tar_of[entry.group] = tar_of.get(entry.group, 0) + entry.desc.length
            if entry.desc.kind != "file":
                archive.addfile(_tarinfo(entry.desc))
                continue
            reader = _SafeReader(entry.desc)
            try:
                archive.addfile(_tarinfo(entry.desc), _as_binary_io(reader))
            finally:
                reader.close()
            if reader.failed:
                unreadable.append(_source_name(entry))
    sink.finish()
    tar_of[entries[-1].group] += tar_bytes - sum(tar_of.values())
    groups = tuple(
        GroupEstimate(group, tar, compressed_bytes=sink.compressed.get(group, 0), error_bytes=0)
        for group, tar in sorted(tar_of.items())
    )
    return CompressionEstimate(
        method="exact",
        level=level,
        tar_bytes=tar_bytes,
        compressed_bytes=sum(sink.compressed.values()),
        error_bytes=0,
        sampled_bytes=tar_bytes,
        cached_files=0,
        groups=groups,
        unreadable=tuple(sorted(unreadable)),
    )


def _as_binary_io(obj: object) -> IO[bytes]:
    """tarfile only calls read() and write() on these duck-typed files."""
    return obj  # type: ignore[return-value]
