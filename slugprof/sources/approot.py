"""The app folder the user named, checked, and paths shown as the user would type them."""

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


def display_path(path: str) -> str:
    """A path relative to the current folder when inside it, else as it is."""
    try:
        relative = Path(path).relative_to(Path.cwd())
    except ValueError:
        return path
    return relative.as_posix() or "."


def display_command(command: str) -> str:
    """A command line with paths under the current folder shown relative to it."""
    return command.replace(str(Path.cwd()) + os.sep, "")
