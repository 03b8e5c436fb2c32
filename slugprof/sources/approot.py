"""The app folder the user named, checked; and paths as the saved report holds them.

A saved report never depends on the folder it was made from: the app root is absolute (the home folder
written as `~`, so a report reads the same on a colleague's machine), every other path is relative to
the app root when inside it. Renderers shorten paths from the report alone, never from the current
folder, so a report rendered elsewhere reads the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from slugprof.errors import UsageError


def app_root(path: Path) -> Path:
    """The absolute app folder; a one-line UsageError when it is missing or is a file."""
    if not path.exists():
        raise UsageError(f"{path}: no such folder; give the path of your app (the folder with the Procfile)")
    if not path.is_dir():
        raise UsageError(f"{path}: is a file; give the folder of your app, not a file in it")
    return path.resolve()


def _home() -> str | None:
    """The home folder, when there is one worth writing as `~` (not unset, not the root)."""
    home = os.path.expanduser("~")
    return None if home in ("", "/", "~") else home


def saved_path(path: str | os.PathLike[str]) -> str:
    """An absolute path as the report saves it: under the home folder, written `~/...`."""
    absolute = os.path.abspath(os.fspath(path))
    home = _home()
    if home is not None and (absolute == home or absolute.startswith(home + os.sep)):
        return "~" + absolute[len(home) :].replace(os.sep, "/")
    return absolute


def path_in_report(path: str | os.PathLike[str], root: Path) -> str:
    """A path relative to the app root (POSIX) when inside it, else as `saved_path` writes it."""
    absolute = Path(os.path.abspath(os.fspath(path)))
    try:
        return absolute.relative_to(root).as_posix() or "."
    except ValueError:
        return saved_path(absolute)


def real_path(saved: str) -> Path:
    """The path on this machine for a path the report saved (`~` expanded)."""
    return Path(os.path.expanduser(saved))


def command_in_report(command: str, root: Path) -> str:
    """A process's command line as the report saves it: paths under the app root (where the process
    runs) relative to it, the home folder written `~`."""
    shortened = command.replace(str(root) + os.sep, "")
    home = _home()
    return shortened if home is None else shortened.replace(home + os.sep, "~/")
