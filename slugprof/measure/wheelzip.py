"""A wheel's members from its zip central directory, read from the archive's last bytes (and any range
they point to), the same way for a wheel on disk and one behind HTTP ranges.
"""

from __future__ import annotations

import contextlib
import email.parser
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packaging.requirements import InvalidRequirement, Requirement

from slugprof.model import SizeMethod

# The zip's last bytes read first; they held the whole central directory of 95 of the 103 wheels of
# the fit set (see stream_model's calibration).
TAIL_BYTES: Final = 64 * 1024

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


_EXTRA_GUESS: Final = 128  # bytes allowed for a local header's extra field, to read a member in one range


def member_bytes(member: WheelMember, read: ReadRange) -> bytes:
    """The uncompressed content of one (small) member: its local header and data in one read, unless
    the header's extra field is longer than usual."""
    name_guess = len(member.name.encode("utf-8"))
    span = read(member.offset, member.offset + _LOCAL_LEN + name_guess + _EXTRA_GUESS + member.compressed)
    if len(span) < _LOCAL_LEN or span[:4] != _LOCAL:
        raise CorruptWheelError(f"no local header for {member.name}")
    name_len, extra_len = struct.unpack_from("<HH", span, 26)
    skip = _LOCAL_LEN + name_len + extra_len
    data = span[skip : skip + member.compressed]
    if len(data) != member.compressed:
        start = member.offset + skip
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


@dataclass(frozen=True)
class WheelListing:
    """A wheel's member list, as read (and cached)."""

    members: tuple[WheelMember, ...]
    entry_points: str | None  # the text of .dist-info/entry_points.txt, when the wheel has one
    method: SizeMethod  # how the member list was read: ranges, a download or a built sdist
    # Requires-Dist values of its METADATA that are not PEP 508 (pip 24.1 and later refuse the wheel)
    invalid_requires: tuple[str, ...] = ()
    # (stratum, ratio): its files' share in the tar stream, measured on runs of it, against the
    # per-member model (see `neighbours`); strata not listed keep the model
    neighbour_ratios: tuple[tuple[str, float], ...] = ()

    def ratio(self, stratum: str) -> float:
        """The measured correction of the per-member model for files of this stratum (1.0: none)."""
        return dict(self.neighbour_ratios).get(stratum, 1.0)


def _dist_info_member(members: Sequence[WheelMember], wanted: str) -> WheelMember | None:
    for member in members:
        folder, _, name = member.name.rpartition("/")
        if name == wanted and folder.endswith(".dist-info") and "/" not in folder:
            return member
    return None


def invalid_requires(metadata: bytes) -> tuple[str, ...]:
    """The Requires-Dist values of a METADATA file that packaging (and so pip) cannot parse."""
    message = email.parser.BytesParser().parsebytes(metadata, headersonly=True)
    invalid = []
    for value in message.get_all("Requires-Dist") or []:
        try:
            Requirement(str(value))
        except InvalidRequirement:
            invalid.append(str(value))
    return tuple(invalid)


def listing_of(
    members: list[WheelMember], read: ReadRange, method: SizeMethod, *, neighbours: bool = True
) -> WheelListing:
    """The listing of `members`, with the text of its entry_points.txt and what is wrong in its
    METADATA, read through `read`; with the ratios of its neighbour runs (`neighbours`), which only
    the model of its installed files uses."""
    member = _dist_info_member(members, "entry_points.txt")
    entry_points = None
    if member is not None:
        entry_points = member_bytes(member, read).decode("utf-8", "replace")
    metadata = _dist_info_member(members, "METADATA")
    invalid: tuple[str, ...] = ()
    if metadata is not None:
        with contextlib.suppress(CorruptWheelError):  # the sizes stand; only the metadata check is lost
            invalid = invalid_requires(member_bytes(metadata, read))
    from slugprof.measure.neighbours import neighbour_ratios  # it reads members with this module

    ratios = neighbour_ratios(members, read) if neighbours else ()
    return WheelListing(tuple(members), entry_points, method, invalid, ratios)


def read_local_wheel(path: Path, method: SizeMethod) -> WheelListing:
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

        return listing_of(read_central_directory(tail, tail_start, read), read, method)
