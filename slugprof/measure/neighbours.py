"""What a wheel's files gain from their neighbours in the slug's tar stream, measured on runs of it.

`stream_model` predicts each file's share of `gzip -6(tar(slug))` from its own zip deflate size. A zip
deflates each member alone, while the tar stream is one deflate stream whose 32 KiB window reaches into
the files before: files much like their neighbours cost far less there. Django's translations are the
clearest case: each `.po` follows its `.mo` (the same msgids and msgstrs) and every language repeats
the msgids, so the per-member model put its 1,226 `.po` files at twice their share.

So a few runs of the package's own tar stream are measured. Its files are laid out in GNU tar order
under the slug's names; each run's members (header, data, padding) are deflated at level 6 with the
32 KiB of stream before them as preset dictionary, as compress.py measures a piece (the run's first
32 KiB only serve as that window). A package whose stream is small is measured whole. The runs start
at points spread evenly over the package's predicted compressed bytes, from a start fixed by its file
names, so they fall where its bytes are. Each file stratum (its extension, as compress.py has it) with
enough of it measured gets the ratio of its measured to its predicted share, which `install_model`
applies to every file of that stratum; other strata keep the per-member model.

Only the members of the runs are read: their zip ranges, coalesced (a wheel lists most members in tar
order). The layout leaves out the `.pyc` files the installer adds (not in the wheel; in the real stream
they sit in `__pycache__` folders, next to few of the measured files) and uses one Python's
site-packages for the names (the ratio hardly depends on it).

Measured against a census of each package's whole stream (every member deflated as above): Django
5.2's 3,670 files, the model alone +30.6%, with the ratios +0.8%, reading 442 kB of its 8.3 MB wheel in
14 ranges; djangorestframework 3.18 +5.2%, then +0.2% (95 kB in 3 ranges); django-filter 26.2 (measured
whole) +34.2%, then -1.1%. Runs of 128 KiB, one per MiB of share, put Django at +5.1% (one draw: the
runs are a sample, and a different start moves the figure by a few percent).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from slugprof.measure.compress import WINDOW, member_length, member_stratum, stream_costs, tar_order
from slugprof.measure.stream_model import StreamModel
from slugprof.measure.wheelzip import CorruptWheelError, ReadRange, WheelMember, member_bytes

SITE: Final = ".heroku/python/lib/python3.12/site-packages"  # where the measured files are laid out
CENSUS_BYTES: Final = 1024 * 1024  # a package's stream up to this long is measured whole
RUN_BYTES: Final = 64 * 1024  # stream bytes measured in each run (after its 32 KiB window)
BYTES_PER_RUN: Final = 512 * 1024  # one run per this much predicted compressed share ...
MIN_RUNS: Final = 4  # at least this many (when the stream is longer than CENSUS_BYTES) ...
MAX_RUNS: Final = 12  # ... and up to this many
LARGE_MEMBER: Final = RUN_BYTES  # larger files end a run: the model is within about 1% for them
MIN_STRATUM_FILES: Final = 8  # a stratum measured on fewer files keeps the per-member model
MIN_STRATUM_BYTES: Final = 4096  # ... or on less predicted share than this
COALESCE_GAP: Final = 64 * 1024  # zip ranges closer than this are read in one request

Ratios = tuple[tuple[str, float], ...]  # stratum -> measured / predicted share


@dataclass
class _Stratum:
    files: int = 0
    measured: float = 0.0
    predicted: float = 0.0


@dataclass(frozen=True)
class _File:
    member: WheelMember
    arcname: str
    tar_length: int  # header blocks + data + padding
    predicted: float


@dataclass
class _Plan:
    """Which files are measured (by index in tar order), and which are read for the windows."""

    measured: set[int] = field(default_factory=set)
    runs: list[range] = field(default_factory=list)  # consecutive files: window first, then measured


def neighbour_ratios(members: Sequence[WheelMember], read: ReadRange) -> Ratios:
    """Each stratum's measured share in the tar stream against the per-member model's prediction.

    Reads the runs' members through `read`; a wheel whose members cannot be read gets no ratios.
    """
    files = _files(members)
    plan = _plan(files)
    if not plan.measured:
        return ()
    try:
        contents = _read_members([files[i].member for run in plan.runs for i in run], read)
    except CorruptWheelError:
        return ()
    strata: dict[str, _Stratum] = {}
    for run in plan.runs:
        _measure_run(files, run, plan.measured, contents, strata)
    return tuple(
        (name, round(stratum.measured / stratum.predicted, 4))
        for name, stratum in sorted(strata.items())
        if stratum.files >= MIN_STRATUM_FILES and stratum.predicted >= MIN_STRATUM_BYTES
    )


def _files(members: Sequence[WheelMember]) -> list[_File]:
    """The wheel's files in tar order under the slug's names, RECORD left out (rewritten on install)."""
    chosen = [
        m
        for m in members
        if not m.name.endswith("/") and not (m.name.endswith("/RECORD") and ".dist-info/" in m.name)
    ]
    named = {f"{SITE}/{m.name}": m for m in chosen}
    ordered = tar_order(list(named))
    return [
        _File(
            named[name],
            name,
            member_length(name, named[name].size),
            StreamModel.member(name, named[name]),
        )
        for name in ordered
    ]


def _plan(files: list[_File]) -> _Plan:
    plan = _Plan()
    if not files:
        return plan
    total = sum(f.tar_length for f in files)
    if total <= CENSUS_BYTES:
        plan.runs.append(range(len(files)))
        plan.measured.update(i for i, f in enumerate(files) if f.tar_length <= LARGE_MEMBER)
        return plan
    predicted = sum(f.predicted for f in files)
    count = max(MIN_RUNS, min(MAX_RUNS, math.ceil(predicted / BYTES_PER_RUN)))
    digest = hashlib.blake2b("\0".join(f.arcname for f in files[:64]).encode(), digest_size=8).digest()
    offset = int.from_bytes(digest, "big") / 2.0**64
    targets = [(offset + k) / count * predicted for k in range(count)]
    cumulative = 0.0
    starts: list[int] = []
    for index, file in enumerate(files):
        cumulative += file.predicted
        while targets and cumulative > targets[0]:
            targets.pop(0)
            starts.append(index)
    for start in starts:
        _add_run(files, start, plan)
    return plan


def _add_run(files: list[_File], start: int, plan: _Plan) -> None:
    """A run from `start`: the files before it that fill the window, then RUN_BYTES measured."""
    while start < len(files) and files[start].tar_length > LARGE_MEMBER:
        start += 1
    first, window = start, 0
    while first > 0 and window < WINDOW and files[first - 1].tar_length <= LARGE_MEMBER:
        first -= 1
        window += files[first].tar_length
    end, measured = start, 0
    while end < len(files) and measured < RUN_BYTES and files[end].tar_length <= LARGE_MEMBER:
        if end not in plan.measured:
            plan.measured.add(end)
            measured += files[end].tar_length
        end += 1
    if end > start:
        plan.runs.append(range(first, end))


def _read_members(members: list[WheelMember], read: ReadRange) -> dict[str, bytes]:
    """The content of each member, read in coalesced ranges of the archive."""
    spans: list[tuple[int, int]] = []
    for member in sorted({m.name: m for m in members}.values(), key=lambda m: m.offset):
        start = member.offset
        end = start + 30 + len(member.name.encode("utf-8")) + 128 + member.compressed
        if spans and start - spans[-1][1] <= COALESCE_GAP:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    fetched = [(start, read(start, end)) for start, end in spans]

    def local(start: int, end: int) -> bytes:
        for begin, data in fetched:
            if begin <= start and end <= begin + len(data):
                return data[start - begin : end - begin]
        return read(start, end)

    return {m.name: member_bytes(m, local) for m in members}


def _measure_run(
    files: list[_File],
    run: range,
    measured: set[int],
    contents: dict[str, bytes],
    strata: dict[str, _Stratum],
) -> None:
    """Deflate the run's measured members with the stream before them, and add them to their strata."""
    names = [files[i].arcname for i in run]
    sizes = stream_costs(names, [contents[files[i].member.name] for i in run])
    for index, cost in zip(run, sizes, strict=True):
        if index not in measured:
            continue
        measured.discard(index)  # runs may overlap: each file counts once
        file = files[index]
        stratum = strata.setdefault(member_stratum(file.arcname), _Stratum())
        stratum.files += 1
        stratum.measured += cost
        stratum.predicted += file.predicted
