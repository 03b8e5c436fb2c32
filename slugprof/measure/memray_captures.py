"""The one module that imports memray: whether it loads in slugprof's interpreter, and what the capture
files of a run under `memray run --follow-fork` say.

memray is imported inside the functions that need it, never at module level, so that importing this
module costs nothing and works where memray does not (Windows).

`<python> -m memray run --follow-fork ... -o capture.bin -m gunicorn ...` writes `capture.bin` for the
process memray started (gunicorn's master) and `capture.bin.<pid>` for every process forked from it (the
workers). The default file format is used: it can be read while the server runs and survives a SIGKILL
(a killed worker leaves a readable file whose header was never finalised).

Measured with memray 1.20 (CPython 3.11, Linux):
- memray adds one OS thread to every tracked process (gunicorn's master: 2 threads -> 3; a sync worker:
  1 -> 2): the thread that records the process's RSS every 10 ms. The child re-creates it after fork.
- Read the captures after the whole process group has exited: a process still running (or killed)
  has not finalised its file header; its records are read all the same, with a note.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from slugprof.measure.import_attribution import Frame, SourceFiles, attribute_import, largest_import_costs
from slugprof.model import AllocationSite, ImportCost, ProcessRole

CAPTURE_FILE_NAME = "capture.bin"  # the master's; each forked process writes capture.bin.<pid>
MEMRAY_THREADS_PER_PROCESS = 1  # measured: see the module's docstring
TOP_SITES = 10


def reader_load_error() -> ImportError | None:
    """Why memray does not load in slugprof's own interpreter (which reads the captures), or None."""
    try:
        import memray  # noqa: F401  (imported to prove that it loads here)
    except ImportError as error:
        return error
    return None


@dataclass(frozen=True)
class ProcessCapture:
    pid: int
    role: ProcessRole
    file_name: str
    heap_peak_bytes: int  # memray's heap peak (not RSS)
    complete: bool  # False when the process was killed (or still runs): figures cover what it wrote
    top_sites: tuple[AllocationSite, ...]
    imports: tuple[ImportCost, ...]  # bytes still held at the heap peak, by the import that caused them


@dataclass(frozen=True)
class CaptureSummary:
    processes: tuple[ProcessCapture, ...]  # the process memray started first, then by pid
    imports: tuple[ImportCost, ...]  # per role: the largest cost one process of that role paid
    notes: tuple[str, ...] = ()

    def process(self, pid: int) -> ProcessCapture | None:
        return next((process for process in self.processes if process.pid == pid), None)


def capture_files(output_dir: Path) -> list[Path]:
    """The capture files in the folder: the master's first, then the forked processes' by pid."""

    def order(path: Path) -> tuple[int, int]:
        suffix = path.name[len(CAPTURE_FILE_NAME) + 1 :]
        return (0, 0) if path.name == CAPTURE_FILE_NAME else (1, int(suffix))

    found = [
        path
        for path in output_dir.glob(CAPTURE_FILE_NAME + "*")
        if path.name == CAPTURE_FILE_NAME or path.name[len(CAPTURE_FILE_NAME) + 1 :].isdigit()
    ]
    return sorted(found, key=order)


def read_captures(
    output_dir: Path,
    *,
    roles: Mapping[int, ProcessRole] | None = None,
    app_dir: Path | None = None,
) -> CaptureSummary:
    """Read every capture file in `output_dir`: heap peak, allocation sites and import costs per process.

    `roles` maps pids to roles; without an entry, the process memray started is the "master" when it
    forked others (each a "worker"), else "other". `app_dir` is the app's folder: frames of files in it
    are the app's own code (without it, any file outside the standard library and site-packages is).
    A file that cannot be read is skipped with a note; nothing here raises for a bad capture.

    Import costs: the allocations still held at a process's heap peak, each attributed to an import
    by `attribute_import`.
    """
    roles = roles or {}
    notes: list[str] = []
    files = capture_files(output_dir)
    if not files:
        return CaptureSummary((), (), (f"memray wrote no capture in {output_dir}",))
    has_children = any(path.name != CAPTURE_FILE_NAME for path in files)
    try:
        import memray
    except ImportError as error:
        return CaptureSummary((), (), (f"cannot read the captures: memray does not load here ({error})",))
    set_log_level = getattr(memray, "set_log_level", None)  # exported at run time, absent from its stub
    if callable(set_log_level):
        set_log_level(logging.CRITICAL)  # a truncated file makes memray log to stderr; noted here instead
    classifier = SourceFiles(app_dir)
    processes: list[ProcessCapture] = []
    try:
        for path in files:
            is_root = path.name == CAPTURE_FILE_NAME
            default_role: ProcessRole = ("master" if has_children else "other") if is_root else "worker"
            try:
                process = _read_capture(path, roles, default_role, classifier, notes)
            except Exception as error:  # memray raises OSError, RuntimeError, ValueError for bad files
                notes.append(f"{path.name}: unreadable ({error}): skipped")
                continue
            processes.append(process)
    finally:
        if callable(set_log_level):
            set_log_level(logging.WARNING)
    costs = largest_import_costs(cost for process in processes for cost in process.imports)
    return CaptureSummary(tuple(processes), costs, tuple(notes))


def _read_capture(
    path: Path,
    roles: Mapping[int, ProcessRole],
    default_role: ProcessRole,
    classifier: SourceFiles,
    notes: list[str],
) -> ProcessCapture:
    import memray

    with memray.FileReader(path) as reader:
        meta = reader.metadata
        pid = meta.pid
        snapshots = list(reader.get_memory_snapshots())
        start, end = meta.start_time.timestamp(), meta.end_time.timestamp()
        complete = _check_complete(start, end, [snapshot.time / 1000 for snapshot in snapshots], pid, notes)
        sites: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        imports: dict[str, int] = defaultdict(int)
        cache: dict[tuple[int, int], tuple[str, str | None]] = {}
        held = 0
        for record in reader.get_high_watermark_allocation_records(merge_threads=True):
            key = (record.stack_id, record.tid)
            if key not in cache:
                frames = record.stack_trace()
                cache[key] = (_location(frames, classifier), attribute_import(frames[::-1], classifier))
            location, module = cache[key]
            sites[location][0] += record.size
            sites[location][1] += record.n_allocations
            if module is not None:
                imports[module] += record.size
            held += record.size
    role = roles.get(pid, default_role)
    top = sorted(sites.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_SITES]
    return ProcessCapture(
        pid=pid,
        role=role,
        file_name=path.name,
        heap_peak_bytes=meta.peak_memory or held,
        complete=complete,
        top_sites=tuple(AllocationSite(location, size, count) for location, (size, count) in top),
        imports=tuple(
            ImportCost(module, size, role)
            for module, size in sorted(imports.items(), key=lambda item: (-item[1], item[0]))
        ),
    )


def _location(frames: Sequence[Frame], classifier: SourceFiles) -> str:
    if not frames:
        return "[no Python frame]"
    function, file_name, line = frames[0]
    return f"{classifier.display(file_name)}:{line} {function}"


def _check_complete(
    start: float, end: float, snapshot_times: Sequence[float], pid: int, notes: list[str]
) -> bool:
    """Whether the process closed its capture; notes a killed process and a file cut short.

    memray writes the header's end time when the process stops tracking; until then it equals the
    start time (to the millisecond), while the RSS snapshots it records every 10 ms go on. A closed
    file whose snapshots stop well before its end time lost its tail.
    """
    last = snapshot_times[-1] if snapshot_times else None
    if end - start < 0.005 or (last is not None and last > end + 0.005):
        notes.append(
            f"pid {pid}: its capture was not closed (the process was killed, left through os._exit,"
            " or still runs): figures cover what it wrote"
        )
        return False
    if last is not None and end - last > max(0.5, 0.002 * (end - start)):
        notes.append(
            f"pid {pid}: its capture file stops {end - last:.1f} s before the process did (truncated):"
            " figures cover what it holds"
        )
    return True
