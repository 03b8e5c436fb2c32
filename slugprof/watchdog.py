"""Kill a started app's process group when slugprof dies, even by SIGKILL.

slugprof starts this file as a script (standard library only, `python -I -S watchdog.py`), in a
session of its own, before it starts the app, and keeps the write end of the script's stdin. It then
writes what to kill, one line each:

    group PGID      the app's process group (every process it forks stays in it unless it leaves)
    pid PID         a descendant seen by slugprof, killed too in case it left the group
    remove PATH     a temporary folder of slugprof's run (the slug's copy, the run's runtime folder),
                    removed once the app is dead; only a folder named `slugprof-...` is ever removed
    done            the app has been stopped: exit without killing anything

When stdin ends without `done`, slugprof is gone, however it went (SIGKILL cannot be caught): the group
and the remembered descendants get SIGKILL, again until none is left (a process forked meanwhile), for
at most a few seconds, and then the run's temporary folders are removed. A remembered pid is killed
only while it is the same process (its start time in /proc: Linux); elsewhere the group alone is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from typing import TextIO

_KILL_SECONDS = 5.0
_POLL_SECONDS = 0.02


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22); None: gone or unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19] if len(fields) > 19 else None


def _group_of(pid: int) -> int | None:
    """The process group of a live process (not a zombie, which holds no memory and waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def group_members(pgid: int) -> list[int]:
    """The live pids of the group, read from /proc (empty where there is no /proc)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    return [int(name) for name in names if name.isdigit() and _group_of(int(name)) == pgid]


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def kill_everything(pgid: int | None, known: dict[int, str]) -> None:
    """SIGKILL the group and the known descendants (while they are the same processes) until none is left."""
    deadline = time.monotonic() + _KILL_SECONDS
    while True:
        if pgid is not None:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
        same = [pid for pid, started in known.items() if start_time(pid) == started]
        for pid in same:
            _kill(pid)
        left = [pid for pid in same if _group_of(pid) is not None]  # not zombies
        left += group_members(pgid) if pgid is not None else []
        if not left or time.monotonic() >= deadline:
            return
        time.sleep(_POLL_SECONDS)


# The prefix of every temporary folder slugprof makes: the watchdog removes nothing else.
SCRATCH_PREFIX = "slugprof-"


def remove_scratch(folders: list[str]) -> None:
    """Remove the run's temporary folders; a path not named `slugprof-...` is left alone."""
    for folder in folders:
        if os.path.basename(folder.rstrip("/")).startswith(SCRATCH_PREFIX) and os.path.isdir(folder):
            shutil.rmtree(folder, ignore_errors=True)


def watch(lines: TextIO) -> None:
    pgid: int | None = None
    known: dict[int, str] = {}
    scratch: list[str] = []
    for line in lines:
        word, _, value = line.rstrip("\n").partition(" ")
        if word == "done":
            return
        if word == "group" and value.isdigit():
            pgid = int(value)
        elif word == "pid" and value.isdigit() and (started := start_time(int(value))) is not None:
            known.setdefault(int(value), started)
        elif word == "remove" and value:
            scratch.append(value)
    kill_everything(pgid, known)
    remove_scratch(scratch)


def main() -> None:
    # Nothing but the end of stdin may stop the watch: not a Ctrl-C meant for slugprof, nor a hangup.
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    with open(sys.stdin.fileno(), encoding="utf-8", errors="surrogateescape", closefd=False) as lines:
        watch(lines)


if __name__ == "__main__":
    main()
