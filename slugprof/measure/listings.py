"""Wheel listings: each resolved wheel's member list, and the cache that keeps them.

For a wheel, one or two small HTTP range requests are enough: a suffix range for the zip's last 64 KiB
(the end-of-central-directory record, zip64 too, and for most wheels the whole central directory),
then the rest of the directory when it is longer. They give every member's name, uncompressed size and
deflated size; a few more read the members of the runs of its tar stream that `neighbours` measures.
A server that ignores ranges (a 200 instead of a 206) has already started sending the
whole file: it is saved into the cache folder's `wheels/`, read there, then deleted. Each wheel's
member list is cached in `wheel-members-v3/<sha256 or url-hash>.json`, so a warm run makes no request.

A source distribution is downloaded and built into a wheel with pip, then listed the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from slugprof.cache import JsonStore, digest_key, scratch_folder, temporary_sibling, versioned
from slugprof.measure.checkout import is_vcs_url
from slugprof.measure.wheelzip import (
    TAIL_BYTES,
    CorruptWheelError,
    WheelListing,
    WheelMember,
    listing_of,
    read_central_directory,
    read_local_wheel,
)
from slugprof.model import ResolvedFile, SizeMethod, Target
from slugprof.net import Client, HttpFailure, Response, host_of, local_path, strip_credentials
from slugprof.processes import run_command

METHOD_RANGES: Final = SizeMethod.WHEEL_CENTRAL_DIRECTORY
METHOD_DOWNLOAD: Final = SizeMethod.DOWNLOADED_WHEEL
METHOD_BUILT: Final = SizeMethod.BUILT_SDIST

MEMBERS_FOLDER: Final = versioned("wheel-members", 3)  # bump when a listing is stored differently
INSTALLED_FOLDER: Final = versioned("installed-wheels", 1)  # bump when installed_tree measures differently
WHEELS_FOLDER: Final = "wheels"
SDISTS_FOLDER: Final = "sdists"

BUILD_TIMEOUT_SECONDS: Final = 900.0  # one `pip wheel` of an sdist: a compiled project builds for minutes
CHUNK: Final = 1024 * 1024  # bytes read at a time from a download


class ListingError(Exception):
    """The wheel's members could not be listed for a reason of its own (a build failed, a file unread)."""


def _content_range_start(value: str | None) -> int:
    """The first byte of a `Content-Range: bytes a-b/n` answer."""
    try:
        unit, _, rest = (value or "").partition(" ")
        if unit.strip().lower() != "bytes":
            raise ValueError
        return int(rest.split("-", 1)[0])
    except ValueError:
        raise HttpFailure(f"a partial answer with an unreadable Content-Range: {value!r}") from None


class ListingCache:
    """Member lists as JSON documents, one per wheel, and the folders downloads pass through."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._store = JsonStore(root, MEMBERS_FOLDER)
        self._installed = JsonStore(root, INSTALLED_FOLDER)

    def get_installed(self, key: str) -> InstalledSizes | None:
        """What an installed small wheel measured (`installed_key`), when it was measured before."""
        data = self._installed.get(key)
        if data is None:
            return None
        try:
            return InstalledSizes(
                installed=int(data["installed"]),
                pyc=int(data["pyc"]),
                compressed=int(data["compressed"]),
                files=int(data["files"]),
                modules=tuple(str(name) for name in data["modules"]),
                invalid_requires=tuple(str(value) for value in data["invalid_requires"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def put_installed(self, key: str, sizes: InstalledSizes, file: ResolvedFile) -> None:
        document = dataclasses.asdict(sizes)
        self._installed.put(key, {"filename": file.filename, "url": strip_credentials(file.url), **document})

    def get(self, key: str) -> WheelListing | None:
        data = self._store.get(key)
        if data is None:
            return None
        try:
            members = tuple(WheelMember(str(n), int(s), int(c), int(m)) for n, s, c, m in data["members"])
            entry_points = data.get("entry_points")
            method = SizeMethod(str(data["method"]))
            invalid = tuple(str(value) for value in data["invalid_requires"])
            ratios = tuple((str(stratum), float(ratio)) for stratum, ratio in data["neighbour_ratios"])
            shown = str(entry_points) if entry_points is not None else None
            return WheelListing(members, shown, method, invalid, ratios)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, listing: WheelListing, file: ResolvedFile) -> None:
        self._store.put(
            key,
            {
                "filename": file.filename,
                "url": strip_credentials(file.url),
                "method": listing.method.value,
                "entry_points": listing.entry_points,
                "invalid_requires": list(listing.invalid_requires),
                "neighbour_ratios": [list(item) for item in listing.neighbour_ratios],
                "members": [[m.name, m.size, m.compressed, m.method] for m in listing.members],
            },
        )

    def folder(self, name: str) -> Path | None:
        return scratch_folder(self.root, name)


@dataclass(frozen=True)
class InstalledSizes:
    """What a small wheel's files measured once installed for one target (`installed_tree`)."""

    installed: int
    pyc: int
    compressed: int
    files: int
    modules: tuple[str, ...]
    invalid_requires: tuple[str, ...]


def installed_key(file: ResolvedFile, target: Target, compiled_by: str, *, requested: bool) -> str:
    """The cache key of a wheel's installed sizes: its listing key, and what its files depend on."""
    parts = [listing_key(file), target.python_minor, target.manager, compiled_by, str(requested)]
    return digest_key(parts)


def listing_key(file: ResolvedFile, prefix: str = "") -> str:
    """The cache key of a file's listing: its sha256 when known, else a digest of its URL."""
    if file.sha256:
        return prefix + file.sha256.lower()
    return prefix + "url-" + hashlib.sha256(strip_credentials(file.url).encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _download_folder(cache: ListingCache, name: str) -> Iterator[Path]:
    folder = cache.folder(name)
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="slugprof-") as scratch:
        yield Path(scratch)


def _check_digest(file: ResolvedFile, digest: str) -> None:
    if file.sha256 and digest != file.sha256.lower():
        expected = file.sha256[:12]
        raise CorruptWheelError(f"sha256 mismatch: the index says {expected}..., got {digest[:12]}...")


def _save_body(response: Response, file: ResolvedFile, folder: Path) -> Path:
    """Stream a whole file into `folder`; check its sha256 when the index gave one."""
    target = folder / Path(file.filename).name
    partial = temporary_sibling(target, ".part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as sink:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                sink.write(chunk)
        _check_digest(file, digest.hexdigest())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return target


@dataclass(frozen=True)
class WholeWheel:
    """A small wheel read whole, to be installed and measured (`installed_tree`)."""

    data: bytes
    listing: WheelListing  # its members, read from `data`

    def read(self, start: int, end: int) -> bytes:
        if not 0 <= start <= end <= len(self.data):
            raise CorruptWheelError("a range outside the archive")
        return self.data[start:end]


def _whole(data: bytes, file: ResolvedFile, method: SizeMethod) -> WholeWheel:
    _check_digest(file, hashlib.sha256(data).hexdigest())
    read = WholeWheel(data, WheelListing((), None, method)).read
    listing = listing_of(read_central_directory(data, 0, read), read, method, neighbours=False)
    return WholeWheel(data, listing)


def fetch_wheel(
    client: Client, file: ResolvedFile, cache: ListingCache, *, whole_up_to: int = 0
) -> WheelListing | WholeWheel:
    """The member list of a wheel: read on disk, from HTTP ranges, or from a download when the
    server ignores ranges; or the whole wheel when it is no larger than `whole_up_to` bytes (its size
    from the index, else from the answer to the first range request)."""
    local = local_path(file.url)
    if local is not None:
        return _fetch_local(local, file, whole_up_to)
    host = host_of(file.url)
    if file.size is not None and file.size <= whole_up_to:
        with client.open(file.url, shown=host) as response:
            if response.status != 200:
                raise HttpFailure(f"HTTP {response.status} from {host}", response.status)
            return _whole(response.read(), file, METHOD_DOWNLOAD)
    with client.open(file.url, byte_range=f"bytes=-{TAIL_BYTES}", shown=host) as response:
        if response.status == 206:
            tail_start = _content_range_start(response.headers.get("Content-Range"))
            tail = response.read()
        elif response.status != 200:
            raise HttpFailure(f"HTTP {response.status} from {host}", response.status)
        elif _content_length(response) <= whole_up_to:  # ranges not served, and the wheel is small
            return _whole(response.read(), file, METHOD_DOWNLOAD)
        else:  # ranges not served: the whole file is coming anyway
            with _download_folder(cache, WHEELS_FOLDER) as folder:
                path = _save_body(response, file, folder)
                try:
                    return read_local_wheel(path, METHOD_DOWNLOAD)
                finally:
                    with contextlib.suppress(OSError):
                        path.unlink()  # the member list is what is kept: wheels can weigh gigabytes

    if tail_start + len(tail) <= whole_up_to:  # a small wheel: the part before the tail completes it
        head = client.read_range(file.url, 0, tail_start, shown=host) if tail_start else b""
        return _whole(head + tail, file, METHOD_RANGES)

    def read(start: int, end: int) -> bytes:
        if start >= tail_start and end <= tail_start + len(tail):
            return tail[start - tail_start : end - tail_start]
        return client.read_range(file.url, start, end, shown=host)

    return listing_of(read_central_directory(tail, tail_start, read), read, METHOD_RANGES)


def _fetch_local(local: Path, file: ResolvedFile, whole_up_to: int) -> WheelListing | WholeWheel:
    try:
        if local.stat().st_size <= whole_up_to:
            return _whole(local.read_bytes(), file, METHOD_RANGES)
        return read_local_wheel(local, METHOD_RANGES)
    except OSError as error:
        raise ListingError(f"cannot read {local.name}: {error.strerror or error}") from None


def _content_length(response: Response) -> int:
    """The length of a whole-file answer (a very large number when it does not say)."""
    try:
        return int(response.headers.get("Content-Length") or "")
    except ValueError:
        return 1 << 62


def build_sdist(client: Client, file: ResolvedFile, cache: ListingCache) -> WheelListing:
    """Download the sdist and build a wheel from it with pip, as the buildpack's pip would.

    The build runs on this machine's Python (pip's own build isolation fetches the build requirements
    from the index pip is configured with): exact for a pure-Python project; for a compiled one, the
    sizes of this platform's build, the nearest measurement available.
    """
    if is_vcs_url(file.url):  # pip clones the repository itself
        return _pip_wheel(file.url)
    local = local_path(file.url)
    with _download_folder(cache, SDISTS_FOLDER) as folder:
        if local is None:
            with client.open(file.url, shown=host_of(file.url)) as response:
                sdist = _save_body(response, file, folder)
        else:
            sdist = local
        try:
            return _pip_wheel(str(sdist))
        finally:
            if local is None:
                with contextlib.suppress(OSError):
                    sdist.unlink()


def _pip_wheel(source: str) -> WheelListing:
    """The listing of the wheel `pip wheel` builds from an sdist or a VCS URL."""
    with tempfile.TemporaryDirectory(prefix="slugprof-build-") as scratch:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "-q"]
        result = run_command(
            [*command, "-w", scratch, source], cwd=scratch, timeout=BUILD_TIMEOUT_SECONDS, guarded=True
        )
        if result.returncode != 0:
            raise ListingError(f"pip wheel failed: {_pip_error(result.stderr or result.stdout)}")
        built = sorted(Path(scratch).glob("*.whl"))
        if not built:
            raise ListingError("pip wheel produced no wheel")
        return read_local_wheel(built[0], METHOD_BUILT)


_PIP_DECORATION: Final = "\u00d7\u2570\u2500\u2502> "  # the box drawing pip puts in front of its errors


def _pip_error(output: bytes) -> str:
    """The line of pip's output that says what went wrong (its last lines are hints)."""
    text = output.decode("utf-8", "replace")
    lines = [line.strip().lstrip(_PIP_DECORATION) for line in text.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if "error" in line.lower() and not line.startswith(("note:", "hint:"))]
    return (errors or lines or ["no output"])[-1][:200]
