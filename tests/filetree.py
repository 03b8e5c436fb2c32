"""Writing the files of an app or an environment for a test, from their contents."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write each of `files` (a path relative to `root`: its text, UTF-8, or bytes) and return `root`.

    `root` and the folders on the way are created as needed; a file already there is replaced.
    """
    root.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root
