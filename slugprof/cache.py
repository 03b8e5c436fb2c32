"""The cache: every kind of entry slugprof keeps between runs, under one root (`config.cache_root()`).

- `JsonStore`: keyed JSON documents, one file each, in a versioned folder (`resolve-v1/<key>.json`,
  `wheel-members-v1/<key>.json`). A change to what a document holds bumps its version: old entries are
  then simply never read again.
- `ChunkCache`: the compressor's measurements, one sqlite3 file (`compress-v1.sqlite`). A row of
  `pieces` maps a key (a digest of everything the measurements of one file depend on: its path, size,
  mtime, inode, mode, its name in the archive, the files whose bytes sit in the deflate window in front
  of it, the level and the model's version) to the compressed size of each piece measured so far. A row
  of `streams` maps a digest of a whole tar stream (every member's name, group and file identity) to the
  estimate made for it: an unchanged tree is answered without redoing the sample design at all.
  Only the parent process reads and writes it, in one short transaction each way; sqlite's locking
  with a timeout keeps concurrent runs from corrupting it.
- `scratch_folder`: a named folder under the root for downloads on their way to being measured.

The cache is an optimisation, never a source of errors: a root of None (`--no-cache`) keeps nothing,
and a cache that cannot be created, read or written (corrupt, read-only, locked for too long) is
ignored while the run carries on uncached. Writes are atomic (a temporary file renamed into place), so
a reader, another thread or another run, sees a whole entry or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def versioned(name: str, version: int) -> str:
    """The name of an entry kind's folder or file at a format version: `resolve-v1`."""
    return f"{name}-v{version}"


def digest_key(parts: object) -> str:
    """A key for everything an entry depends on, given as one JSON-serialisable value."""
    encoded = json.dumps(parts, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a file name on every platform, never a path


class JsonStore:
    """JSON documents by key in `<root>/<folder>/`; a root of None stores nothing."""

    def __init__(self, root: Path | None, folder: str) -> None:
        self.folder = None if root is None else root / folder

    def path(self, key: str) -> Path | None:
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return None if self.folder is None else self.folder / f"{key}.json"

    def get(self, key: str) -> Any:
        """The document stored under `key`, or None when there is none (or it cannot be read)."""
        path = self.path(key)
        if path is None:
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, document: Any) -> None:
        """Store `document` under `key`, atomically; failures are ignored."""
        path = self.path(key)
        if path is None:
            return
        temporary = temporary_sibling(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()


def scratch_folder(root: Path | None, name: str) -> Path | None:
    """`<root>/<name>/`, created; None without a root or when it cannot be created."""
    if root is None:
        return None
    folder = root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder


def temporary_sibling(path: Path, suffix: str = ".tmp") -> Path:
    """A name next to `path` that no other thread or process writes at the same time: where an entry
    is written before it is renamed into place."""
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}{suffix}")


# --- the compressor's measurements ----------------------------------------------------------------

CACHE_FILE_NAME = versioned("compress", 1) + ".sqlite"  # the row format's version; the model's is in each key
_SQLITE_MAGIC = b"SQLite format 3\x00"
_LOCK_TIMEOUT_SECONDS = 5.0
_LOOKUP_BATCH = 500  # keys per SELECT: under sqlite's default limit on bound parameters
# Rows are never pruned one by one (that would cost a write per file on every run): past this size
# the cache starts again empty. About 60 bytes a file: millions of file versions.
MAX_CACHE_BYTES = 256 * 1024 * 1024

PieceSizes = dict[int, int]  # piece index -> compressed bytes


class ChunkCache:
    """Compressed sizes of the pieces of files, keyed by a digest of what they depend on."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    @classmethod
    def open(cls, folder: Path) -> ChunkCache | None:
        """The cache in `folder` (created when missing), or None when it cannot be used."""
        path = folder / CACHE_FILE_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _remove_if_not_sqlite(path)
            connection = sqlite3.connect(path, timeout=_LOCK_TIMEOUT_SECONDS, isolation_level=None)
        except (OSError, sqlite3.Error):
            return None
        try:
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS pieces (key TEXT PRIMARY KEY, sizes TEXT NOT NULL)"
            )
            connection.execute(
                "CREATE TABLE IF NOT EXISTS streams (key TEXT PRIMARY KEY, estimate TEXT NOT NULL)"
            )
        except sqlite3.Error:
            connection.close()
            return None
        return cls(connection)

    def get_many(self, keys: Sequence[str]) -> dict[str, PieceSizes]:
        """The stored pieces of each key found; an unusable cache finds nothing."""
        found: dict[str, PieceSizes] = {}
        if self._connection is None:
            return found
        try:
            for start in range(0, len(keys), _LOOKUP_BATCH):
                batch = keys[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                rows = self._connection.execute(
                    f"SELECT key, sizes FROM pieces WHERE key IN ({marks})", batch
                ).fetchall()
                for key, sizes in rows:
                    parsed = _parse_sizes(sizes)
                    if parsed is not None:
                        found[key] = parsed
        except sqlite3.Error:
            self.close()
            return {}
        return found

    def put_many(self, rows: Iterable[tuple[str, PieceSizes]]) -> None:
        """Store (key, pieces) rows in one transaction; failures are ignored."""
        if self._connection is None:
            return
        encoded = [
            (key, ",".join(f"{index}:{size}" for index, size in sorted(sizes.items()))) for key, sizes in rows
        ]
        if not encoded:
            return
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.executemany("INSERT OR REPLACE INTO pieces (key, sizes) VALUES (?, ?)", encoded)
            self._connection.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")
            self.close()

    def get_stream(self, key: str) -> str | None:
        """The estimate stored for a whole stream (JSON text), if any."""
        if self._connection is None:
            return None
        try:
            row = self._connection.execute("SELECT estimate FROM streams WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            self.close()
            return None
        return row[0] if row and isinstance(row[0], str) else None

    def put_stream(self, key: str, estimate: str) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(
                "INSERT OR REPLACE INTO streams (key, estimate) VALUES (?, ?)", (key, estimate)
            )
        except sqlite3.Error:
            self.close()

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None


def _remove_if_not_sqlite(path: Path) -> None:
    """Replace a file that is not a sqlite database at all (garbage, truncated), or too large."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
            too_large = os.fstat(handle.fileno()).st_size > MAX_CACHE_BYTES
    except FileNotFoundError:
        return
    if (head and head != _SQLITE_MAGIC) or too_large:
        path.unlink()


def _parse_sizes(text: object) -> PieceSizes | None:
    """Rows are "index:size,index:size" (empty: a file with no piece in the sample)."""
    if not isinstance(text, str):
        return None
    if not text:
        return {}
    try:
        pairs = (pair.split(":") for pair in text.split(","))
        return {int(index): int(size) for index, size in pairs}
    except ValueError:
        return None
