"""A package index on loopback for offline tests: PEP 503 pages, PEP 691 JSON and the files, with ranges.

    with serve_index(folder) as index:        # folder: wheels and sdists (read on every request)
        index.url                             # "http://127.0.0.1:<port>/simple/": the index root
        index.file_url("pkg-1.0-py3-none-any.whl")
        index.count("/files/")                # requests so far whose path starts with "/files/"
        index.ranges = False                  # from now on, answer range requests with the whole file

- `/simple/` lists the projects found in the folder (names normalised as PEP 503 says);
  `/simple/<project>/` their files as anchors `href="../../files/<file>#sha256=<hex>"`, with
  `data-dist-info-metadata` / `data-core-metadata` for wheels (PEP 658/714). A request whose Accept
  header asks for `application/vnd.pypi.simple.v1+json` gets the PEP 691 JSON form, with `size`.
- `/files/<file>` serves the file; `/files/<wheel>.metadata` its METADATA; `/moved/<file>` answers a
  302 to `/files/<file>`. With `ranges=True` (the
  default) a single `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` gets a 206 with Content-Range, an
  unsatisfiable one a 416; with `ranges=False` every GET gets a 200 with the whole file.
- Every request is counted by path (`count`, `counts`); `reset_counts()` starts again. Connections
  accepted are counted too (`connections`), and each request's headers kept (`header_values(name)`).
- `fail(status, times, retry_after=None)`: the next `times` requests get that status instead.

It listens on 127.0.0.1 only, on a free port, in a daemon thread, and stops when the block ends.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class IndexServer:
    """The running index: its URL, its request counters and its one switch (`ranges`)."""

    def __init__(self, folder: Path, port: int, *, ranges: bool) -> None:
        self.folder = folder
        self.root = f"http://127.0.0.1:{port}/"
        self.url = f"{self.root}simple/"
        self.ranges = ranges
        self.counts: Counter[str] = Counter()
        self.connections = 0
        self._headers: list[dict[str, str]] = []
        self._failures: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()

    def file_url(self, filename: str) -> str:
        return f"{self.root}files/{filename}"

    def count(self, prefix: str = "/") -> int:
        """Requests so far whose path starts with `prefix`."""
        with self._lock:
            return sum(n for path, n in self.counts.items() if path.startswith(prefix))

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.connections = 0
            self._headers.clear()

    def header_values(self, name: str) -> list[str | None]:
        """The value of header `name` in each request so far (None where it was absent)."""
        with self._lock:
            return [headers.get(name.lower()) for headers in self._headers]

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` (and a Retry-After header when given)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def _record(self, path: str, headers: dict[str, str]) -> tuple[int, str | None] | None:
        """Count the request; the failure it must get, if one is queued."""
        with self._lock:
            self.counts[path] += 1
            self._headers.append(headers)
            return self._failures.pop(0) if self._failures else None

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    # --- what the folder holds ---

    def projects(self) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for path in sorted(self.folder.iterdir()):
            name = _project_of(path.name)
            if name is not None and path.is_file():
                found.setdefault(name, []).append(path)
        return found


def _project_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return canonicalize_name(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return canonicalize_name(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wheel_metadata(path: Path) -> bytes | None:
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                folder, _, base = name.partition("/")
                if folder.endswith(".dist-info") and base == "METADATA":
                    return archive.read(name)
    except (zipfile.BadZipFile, OSError):
        return None
    return None


@dataclass(frozen=True)
class _Entry:
    """One file of a project page."""

    filename: str
    sha256: str
    size: int
    metadata_sha256: str | None  # of the wheel's METADATA, served at <file>.metadata

    @classmethod
    def of(cls, path: Path) -> _Entry:
        metadata = _wheel_metadata(path) if path.name.endswith(".whl") else None
        digest = hashlib.sha256(metadata).hexdigest() if metadata is not None else None
        return cls(path.name, _sha256(path), path.stat().st_size, digest)

    @property
    def href(self) -> str:
        return f"../../files/{self.filename}"

    def as_json(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "filename": self.filename,
            "url": self.href,
            "hashes": {"sha256": self.sha256},
            "size": self.size,
        }
        if self.metadata_sha256 is not None:
            entry["core-metadata"] = {"sha256": self.metadata_sha256}
        return entry

    def as_anchor(self) -> str:
        extra = ""
        if self.metadata_sha256 is not None:
            value = f"sha256={self.metadata_sha256}"
            extra = f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
        href = html.escape(f"{self.href}#sha256={self.sha256}")
        return f'<a href="{href}"{extra}>{html.escape(self.filename)}</a>\n'


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        self.server.index._connected()

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        index = self.server.index
        path = unquote(urlsplit(self.path).path)
        failure = index._record(path, {key.lower(): value for key, value in self.headers.items()})
        if failure is not None:
            status, retry_after = failure
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            self._send(status, b"try again\n", "text/plain", head, extra)
        elif path in ("/simple", "/simple/"):
            self._project_list(index, head)
        elif path.startswith("/simple/"):
            self._project_page(index, path.removeprefix("/simple/").strip("/"), head)
        elif path.startswith("/files/"):
            self._file(index, path.removeprefix("/files/"), head)
        elif path.startswith("/moved/"):
            self._send(302, b"", "text/plain", head, {"Location": "/files/" + path.removeprefix("/moved/")})
        else:
            self._send(404, b"not found\n", "text/plain", head)

    def _wants_json(self) -> bool:
        return JSON_TYPE in (self.headers.get("Accept") or "")

    def _project_list(self, index: IndexServer, head: bool) -> None:
        names = sorted(index.projects())
        if self._wants_json():
            body = {"meta": {"api-version": "1.0"}, "projects": [{"name": name} for name in names]}
            self._send(200, json.dumps(body).encode(), JSON_TYPE, head)
            return
        links = "".join(f'<a href="{name}/">{name}</a>\n' for name in names)
        self._send(200, f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode(), "text/html", head)

    def _project_page(self, index: IndexServer, project: str, head: bool) -> None:
        files = index.projects().get(canonicalize_name(project))
        if not files:
            self._send(404, b"no such project\n", "text/plain", head)
            return
        entries = [_Entry.of(path) for path in files]
        if self._wants_json():
            body = {
                "meta": {"api-version": "1.1"},
                "name": canonicalize_name(project),
                "files": [entry.as_json() for entry in entries],
            }
            self._send(200, json.dumps(body).encode(), JSON_TYPE, head)
            return
        anchors = "".join(entry.as_anchor() for entry in entries)
        self._send(
            200, f"<!DOCTYPE html>\n<html><body>\n{anchors}</body></html>\n".encode(), "text/html", head
        )

    def _file(self, index: IndexServer, name: str, head: bool) -> None:
        if "/" in name or name.startswith("."):
            self._send(404, b"not found\n", "text/plain", head)
            return
        if name.endswith(".metadata"):
            wheel = index.folder / name.removesuffix(".metadata")
            metadata = _wheel_metadata(wheel) if wheel.is_file() else None
            if metadata is None:
                self._send(404, b"not found\n", "text/plain", head)
            else:
                self._send(200, metadata, "text/plain", head)
            return
        path = index.folder / name
        if not path.is_file():
            self._send(404, b"not found\n", "text/plain", head)
            return
        data = path.read_bytes()
        requested = self.headers.get("Range")
        if requested is None or not index.ranges:
            self._send(200, data, "application/octet-stream", head)
            return
        match = _RANGE.match(requested.strip())
        if match is None:  # several ranges, or another unit: a server may send the whole file
            self._send(200, data, "application/octet-stream", head)
            return
        first, last = match.groups()
        size = len(data)
        if first == "" and last == "":
            start, end = size, size  # "bytes=-": unsatisfiable
        elif first == "":
            start, end = max(0, size - int(last)), size
        else:
            start, end = int(first), size if last == "" else min(size, int(last) + 1)
        if start >= end or start >= size:
            self._send(416, b"", "application/octet-stream", head, {"Content-Range": f"bytes */{size}"})
            return
        headers = {"Content-Range": f"bytes {start}-{end - 1}/{size}"}
        self._send(206, data[start:end], "application/octet-stream", head, headers)

    def _send(
        self, status: int, body: bytes, content_type: str, head: bool, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes" if self.server.index.ranges else "none")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    index: IndexServer


@contextmanager
def serve_index(folder: Path, *, ranges: bool = True) -> Iterator[IndexServer]:
    """Serve `folder` as an index on 127.0.0.1 (a free port) until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.index = IndexServer(folder, server.server_address[1], ranges=ranges)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="test-index", daemon=True)
    thread.start()
    try:
        yield server.index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
