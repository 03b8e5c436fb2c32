"""A per-file cache of compression measurements, so a second run over an unchanged tree is near-instant.

One sqlite3 file, `compress-v1.sqlite`, in the cache folder. A row of `pieces` maps a key (a digest of
everything the measurements of one file depend on: its path, size, mtime, inode, mode, its name in the
archive, the files whose bytes sit in the deflate window in front of it, the level and the model's
version) to the compressed size of each of the file's pieces measured so far. A row of `streams` maps a
digest of a whole tar stream (every member's name, group and file identity) to the estimate made for
it: an unchanged tree is answered without redoing the sample design at all.

The cache is an optimisation, never a source of errors: a cache that cannot be created, read or written
(corrupt, read-only, locked for too long) is ignored and the run carries on uncached. Only the parent
process reads and writes it, in one short transaction each way; sqlite's locking with a timeout keeps
concurrent runs from corrupting it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

CACHE_FILE_NAME = "compress-v1.sqlite"  # the row format's version; the model's is in each key
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
