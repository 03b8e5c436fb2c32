"""Memory and threads of a process tree over time, sampled with psutil and /proc, and what the samples
say.

On Linux each process's memory comes from one read of `/proc/PID/smaps_rollup` (the kernel's totals over
its mappings): Rss, Pss, the pages only it maps (Private_Clean + Private_Dirty, its USS), its share of
anonymous memory (Pss_Anon + SwapPss: what the dyno's cgroup counts, heroku-facts 9.2) and what only it
has written (Private_Dirty + SwapPss). Where that file or its Pss_Anon line is missing (another system,
an older kernel), psutil's figures stand in and the anonymous ones are None.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import psutil

from slugprof.model import MemorySample, ProcessProfile, ProcessRole, ProcessSnapshot
from slugprof.model.profile import GROWTH_MIN_REQUESTS

# Wrappers the Procfile command may run inside of; the server is the process they start.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "busybox"})

PYTHON_SERVERS = frozenset(
    {"gunicorn", "uvicorn", "hypercorn", "daphne", "waitress-serve", "memray", "flask"}
)

_ROLE_ORDER: dict[ProcessRole, int] = {"master": 0, "worker": 1, "other": 2}
# Children of a server that are not its workers: the helpers Python's multiprocessing starts next to them
# (a uvicorn or hypercorn master's resource tracker, a forkserver), recognised by the module their
# command line runs (CPython's multiprocessing/resource_tracker.py, forkserver.py, semaphore_tracker on 3.7).
_HELPER_COMMANDS = re.compile(r"multiprocessing\.(?:resource_tracker|forkserver|semaphore_tracker)\b")


@dataclass
class _Seen:
    process: psutil.Process
    parent: int | None
    name: str
    command: str


class TreeSampler:
    """Samples the tree under `root_pid` (root + every descendant) every `interval` seconds.

    Per process: RSS, PSS and USS from memory_full_info() (RSS only when that is denied), and the OS
    thread count. Processes that vanish mid-sample are skipped. Descendants seen once are followed
    even when re-parented (a gunicorn master whose shell wrapper died).
    """

    def __init__(
        self,
        root_pid: int,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        *,
        started_at: float | None = None,
    ) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self._clock = clock
        self._started_at = started_at  # the process's start on `clock`; else when start() ran
        self._samples: list[MemorySample] = []
        self._seen: dict[int, _Seen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._started_at is None:
            self._started_at = self._clock()
        self._thread = threading.Thread(target=self._run, name="slugprof-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> list[MemorySample]:
        """Stop sampling and return every sample taken, oldest first."""
        self._stop.set()  # idempotent: a second stop returns the same samples
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            return list(self._samples)

    def sample_once(self) -> MemorySample | None:
        """Take one sample now (the thread does this every interval); None when no process answered."""
        seconds = self.seconds_now()
        snapshots: list[ProcessSnapshot] = []
        for process in self._tree():
            snapshot = _snapshot(process)
            if snapshot is not None:
                snapshots.append(snapshot)
        if not snapshots:
            return None
        anon = [snapshot.anon for snapshot in snapshots]
        sample = MemorySample(
            seconds=seconds,
            total_pss_bytes=sum(snapshot.pss for snapshot in snapshots),
            total_rss_bytes=sum(snapshot.rss for snapshot in snapshots),
            processes=tuple(snapshots),
            total_anon_bytes=sum(value for value in anon if value is not None) if None not in anon else None,
        )
        with self._lock:
            self._samples.append(sample)
        return sample

    def seconds_now(self) -> float:
        """Now, on the samples' clock: seconds since the process started."""
        return self._clock() - (self._started_at if self._started_at is not None else self._clock())

    def recent(self, seconds: float) -> list[MemorySample]:
        """The samples of the last `seconds` (measured back from the newest one)."""
        with self._lock:
            if not self._samples:
                return []
            since = self._samples[-1].seconds - seconds
            return [sample for sample in self._samples if sample.seconds >= since]

    @property
    def pids(self) -> tuple[int, ...]:
        """Every pid seen in the tree so far, in the order first seen."""
        with self._lock:
            return tuple(self._seen)

    @property
    def commands(self) -> dict[int, str]:
        """The command line of every process seen (as first seen)."""
        with self._lock:
            return {pid: seen.command for pid, seen in self._seen.items()}

    def roles(self) -> dict[int, ProcessRole]:
        """Roles of every process seen, from the parent each had when first seen.

        Workers that came and went between two calls to classify_roles (a respawned worker) get
        their role here too.
        """
        with self._lock:
            parents = {pid: seen.parent for pid, seen in self._seen.items()}
            names = {pid: seen.name for pid, seen in self._seen.items()}
            commands = {pid: seen.command for pid, seen in self._seen.items()}
        return _roles_from_tree(self.root_pid, parents, names, commands)

    def _run(self) -> None:
        next_tick = self._clock()
        while not self._stop.is_set():
            self.sample_once()
            next_tick += self.interval
            delay = next_tick - self._clock()
            if delay < 0:  # sampling took longer than the interval: do not try to catch up
                next_tick = self._clock()
                delay = 0.0
            self._stop.wait(delay)

    def _tree(self) -> list[psutil.Process]:
        with self._lock:
            known_root = self._seen.get(self.root_pid)
        found: list[psutil.Process] = []
        try:
            root = known_root.process if known_root is not None else psutil.Process(self.root_pid)
            if root.is_running():  # not a newer process that got the pid of a reaped root
                found = [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
        # Described again at every tick: a child is a copy of its parent between fork and exec.
        descriptions = {process.pid: _describe(process) for process in found}
        with self._lock:
            for process in found:
                name, command = descriptions[process.pid]
                seen = self._seen.get(process.pid)
                if seen is None or seen.process != process:  # new, or a reused pid
                    parent = None if process.pid == self.root_pid else _parent(process)
                    self._seen[process.pid] = _Seen(process, parent, name, command)
                elif name:
                    seen.name, seen.command = name, command
            tree = {process.pid: process for process in found}
            for pid, seen in self._seen.items():
                if pid not in tree:
                    tree[pid] = seen.process  # re-parented or gone: _snapshot skips the gone
        return list(tree.values())


def _parent(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.Error:
        return None


def _describe(process: psutil.Process) -> tuple[str, str]:
    try:
        with process.oneshot():
            name = process.name()
            return name, " ".join(process.cmdline()) or name
    except psutil.Error:
        return "", ""


def _snapshot(process: psutil.Process) -> ProcessSnapshot | None:
    try:
        with process.oneshot():
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                return None
            threads = process.num_threads()
            rollup = _smaps_rollup(process.pid)
            if rollup is not None and "Pss" in rollup:
                return _from_rollup(process.pid, rollup, threads)
            try:
                full = process.memory_full_info()
                rss = int(full.rss)
                pss = int(getattr(full, "pss", full.rss))  # no PSS outside Linux: RSS, the upper bound
                uss = int(getattr(full, "uss", full.rss))
            except psutil.AccessDenied:
                rss = int(process.memory_info().rss)
                pss = uss = rss
    except psutil.Error:  # gone (or a zombie) since the tree was listed
        return None
    return ProcessSnapshot(pid=process.pid, rss=rss, pss=pss, uss=uss, threads=threads)


def _smaps_rollup(pid: int) -> dict[str, int] | None:
    """The kernel's memory totals of the process, in bytes by field name; None where there is no such
    file (not Linux, or a kernel before 4.14) or it cannot be read (gone, or another user's)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines()[1:]:  # the first line is the "[rollup]" address range
        name, _, rest = line.partition(b":")
        figures = rest.split()
        if len(figures) == 2 and figures[1] == b"kB" and figures[0].isdigit():
            values[name.decode("ascii", "replace")] = int(figures[0]) * 1024
    return values


def _from_rollup(pid: int, rollup: dict[str, int], threads: int) -> ProcessSnapshot:
    swap = rollup.get("SwapPss", 0)
    anon = rollup.get("Pss_Anon")
    private = rollup.get("Private_Dirty", 0)
    return ProcessSnapshot(
        pid=pid,
        rss=rollup.get("Rss", 0),
        pss=rollup["Pss"],
        uss=rollup.get("Private_Clean", 0) + private,
        threads=threads,
        anon=anon + swap if anon is not None else None,
        private=private + swap if anon is not None else None,
    )


# --- what the samples say ----------------------------------------------------------------------


def classify_roles(root_pid: int) -> dict[int, ProcessRole]:
    """Roles in the live tree under `root_pid`: the server process whose children are workers is the
    "master" (looking through shell wrappers such as `sh -c`), its children are "worker"s, except the
    helpers multiprocessing starts beside them (a resource tracker); the rest (the shell, a lone
    server, whatever workers start, those helpers) "other".
    """
    try:
        root = psutil.Process(root_pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    parents: dict[int, int | None] = {}
    names: dict[int, str] = {}
    commands: dict[int, str] = {}
    for process in processes:
        try:
            parents[process.pid] = process.ppid() if process.pid != root_pid else None
            names[process.pid] = process.name()
            commands[process.pid] = " ".join(process.cmdline())
        except psutil.Error:
            continue
    return _roles_from_tree(root_pid, parents, names, commands)


def _roles_from_tree(
    root_pid: int,
    parents: Mapping[int, int | None],
    names: Mapping[int, str],
    commands: Mapping[int, str] | None = None,
) -> dict[int, ProcessRole]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        if parent is not None and pid != root_pid:
            children.setdefault(parent, []).append(pid)
    roles: dict[int, ProcessRole] = {pid: "other" for pid in parents}
    server = root_pid
    visited = {server}
    while _is_shell(names.get(server, "")):
        # A shell runs the server; a script may start a helper (nginx, pgbouncer) next to it.
        started = children.get(server, [])
        with_children = [pid for pid in started if children.get(pid)]
        pythons = [pid for pid in with_children if _is_python_server(names.get(pid, ""))]
        if len(started) == 1:
            server = started[0]
        elif len(with_children) == 1:
            server = with_children[0]
        elif len(pythons) == 1:
            server = pythons[0]
        else:
            break
        if server in visited:
            break
        visited.add(server)
    workers = [pid for pid in children.get(server, []) if not _is_helper((commands or {}).get(pid, ""))]
    if workers and not _is_shell(names.get(server, "")):
        roles[server] = "master"
        for pid in workers:
            roles[pid] = "worker"
    return roles


def _is_helper(command: str) -> bool:
    return _HELPER_COMMANDS.search(command) is not None


def _is_shell(name: str) -> bool:
    return name in SHELLS


def _is_python_server(name: str) -> bool:
    # A console script's process is named after the script (`gunicorn`), an interpreter `python3.12`.
    return name.startswith("python") or name in PYTHON_SERVERS


def summarize_processes(
    samples: Sequence[MemorySample],
    roles: Mapping[int, ProcessRole],
    commands: Mapping[int, str],
    extra_threads: Mapping[int, int],
) -> list[ProcessProfile]:
    """One profile per process: peaks of RSS, PSS, USS and threads over the samples.

    `extra_threads[pid]` is subtracted from the thread peak: threads the profiler or the server's
    own machinery (gunicorn's control socket) add, which the app does not have on a dyno.
    Ordered master, workers, others; by pid within a role.
    """
    peaks: dict[int, dict[str, float]] = {}
    for sample in samples:
        for snapshot in sample.processes:
            peak = peaks.get(snapshot.pid)
            if peak is None:
                peaks[snapshot.pid] = {
                    "rss": snapshot.rss,
                    "pss": snapshot.pss,
                    "uss": snapshot.uss,
                    "anon": snapshot.anon if snapshot.anon is not None else -1,
                    "private": snapshot.private if snapshot.private is not None else -1,
                    "threads": snapshot.threads,
                    "first": sample.seconds,
                    "last": sample.seconds,
                }
                continue
            for name in ("rss", "pss", "uss", "threads"):
                peak[name] = max(peak[name], getattr(snapshot, name))
            peak["anon"] = max(peak["anon"], snapshot.anon if snapshot.anon is not None else -1)
            peak["private"] = max(peak["private"], snapshot.private if snapshot.private is not None else -1)
            peak["first"] = min(peak["first"], sample.seconds)
            peak["last"] = max(peak["last"], sample.seconds)
    profiles = []
    for pid, peak in peaks.items():
        threads = int(peak["threads"])
        profiles.append(
            ProcessProfile(
                pid=pid,
                role=roles.get(pid, "other"),
                command=commands.get(pid, ""),
                peak_rss_bytes=int(peak["rss"]),
                peak_pss_bytes=int(peak["pss"]),
                peak_uss_bytes=int(peak["uss"]),
                peak_anon_bytes=int(peak["anon"]) if peak["anon"] >= 0 else None,
                peak_private_bytes=int(peak["private"]) if peak["private"] >= 0 else None,
                threads_max=max(min(threads, 1), threads - extra_threads.get(pid, 0)),
                first_seen=peak["first"],
                last_seen=peak["last"],
            )
        )
    profiles.sort(key=lambda profile: (_ROLE_ORDER[profile.role], profile.pid))
    return profiles


def worker_growth(samples: Sequence[MemorySample], roles: Mapping[int, ProcessRole]) -> dict[int, float]:
    """USS growth of each worker in bytes per second: the least-squares slope over its samples.

    A steady positive slope across many requests hints at a leak. Workers with fewer than three
    samples (or all at one instant) are left out.
    """
    series: dict[int, list[tuple[float, float]]] = {}
    for sample in samples:
        for snapshot in sample.processes:
            if roles.get(snapshot.pid) == "worker":
                series.setdefault(snapshot.pid, []).append((sample.seconds, float(snapshot.uss)))
    growth = {}
    for pid, points in series.items():
        slope = _slope(points)
        if slope is not None:
            growth[pid] = slope
    return growth


# Growth per request is read over the second half of the requests' span: the first requests fill caches
# and compile templates. At least this many samples in it (0.4 s at the default interval).
_GROWTH_MIN_SAMPLES = 4


def growth_per_thousand_requests(samples: Sequence[MemorySample], answered: Sequence[float]) -> int | None:
    """How much the dyno's headline figure grows per thousand requests: the least-squares slope of its
    samples against the requests answered by each sample's time, over the second half of the requests
    (`answered`: each answer's time, in the samples' seconds, in order). None for a run too short to
    show it."""
    if len(answered) < GROWTH_MIN_REQUESTS:
        return None
    middle, ended = answered[len(answered) // 2], answered[-1]
    points = [
        (float(bisect.bisect_right(answered, sample.seconds)), float(sample.headline_bytes))
        for sample in samples
        if middle <= sample.seconds <= ended
    ]
    slope = _slope(points) if len(points) >= _GROWTH_MIN_SAMPLES else None
    return None if slope is None else round(slope * 1000)


def _slope(points: Iterable[tuple[float, float]]) -> float | None:
    points = list(points)
    if len(points) < 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
