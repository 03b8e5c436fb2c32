"""The buildpack's Python runtime (`.heroku/python`), measured from the archive the buildpack installs.

The buildpack downloads `python-{version}-ubuntu-{NN}.04-{arch}.tar.zst` (about 10 MB of zstd) and
unpacks it into `.heroku/python` (heroku-facts 3.2). Here the same archive is downloaded once per
version, stack and architecture (the one HTTP client), unpacked into the cache's `python-runtimes/`
folder, and listed: the listing (each file's path, kind and size) is kept in `python-runtime-v1/`.
Its files then enter the slug's tar stream as members under `.heroku/python/`, so the compressor
measures their share of the slug as it does the app's files; the installed size is the sum of the
files' sizes as unpacked, symlinks counted as links (the length of their target, as app files are).

A second run reads the listing and the unpacked files from the cache: no request, offline too. When
the archive cannot be had (offline with nothing cached, a version the buildpack never built, any
failure), `RuntimeUnmeasured` says why, and the settings' figures stand in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Final

from slugprof.cache import JsonStore, scratch_folder, temporary_sibling, versioned
from slugprof.heroku import LATEST_PYTHON_PATCH, STACK_ARCHES, python_runtime_archive
from slugprof.model import FileStat, TarGroup, TarMember
from slugprof.model.app import FileKind
from slugprof.progress import Progress

if TYPE_CHECKING:
    from slugprof.net import Response

LISTINGS_FOLDER: Final = versioned("python-runtime", 1)  # bump when a listing is stored differently
TREES_FOLDER: Final = "python-runtimes"  # the unpacked archives, one folder each
RUNTIME_HOME: Final = ".heroku/python"  # where the buildpack unpacks it in the slug
CHUNK: Final = 1024 * 1024  # bytes read at a time from the download and the archive
# zstd -22 --ultra --long can use a window up to 2 GiB: the decompressor must accept it.
MAX_WINDOW_LOG: Final = 31


@dataclass(frozen=True)
class RuntimeFile:
    path: str  # relative to the runtime's home, "/"-separated
    kind: FileKind
    size: int  # a file's bytes; a symlink's target length
    link_target: str | None = None


@dataclass(frozen=True)
class RuntimeMeasurement:
    """The runtime as the archive unpacks it: its files, their total size, where they lie on disk."""

    archive: str  # "python-3.13.5-ubuntu-24.04-amd64.tar.zst"
    version: str  # "3.13.5"
    files: tuple[RuntimeFile, ...]
    tree: Path  # the unpacked archive

    @property
    def bytes(self) -> int:
        return sum(file.size for file in self.files)

    def members(self, group: TarGroup) -> tuple[TarMember, ...]:
        """Its files as members of the slug's tar stream, under `.heroku/python/`."""
        members = []
        for file in self.files:
            disk_path = str(self.tree / file.path)
            arcname = f"{RUNTIME_HOME}/{file.path}"
            if file.kind == "symlink":
                members.append(TarMember(arcname, group, 0, disk_path, "symlink", file.link_target))
                continue
            try:
                status = FileStat.of(os.lstat(disk_path))
            except OSError:
                status = None  # gone from the cache since: the compressor counts it as unreadable
            members.append(TarMember(arcname, group, file.size, disk_path, stat=status))
        return tuple(members)


@dataclass(frozen=True)
class RuntimeUnmeasured:
    reason: str  # "offline, and python-3.13.5-ubuntu-24.04-amd64.tar.zst was not measured before"


class RuntimeArchiveError(Exception):
    """The archive could not be read: not zstd, not a tar, a member that would land outside."""


@dataclass(frozen=True)
class RuntimeRequest:
    version: str  # as the app asks: "3.13" or "3.13.5"
    stack: str
    arch: str
    base_url: str  # the python-runtime-url setting
    cache_dir: Path | None
    offline: bool


def full_version(version: str) -> str | None:
    """The patch release the buildpack installs: the version itself when it names one, else the
    latest patch of its minor; None for a minor the buildpack does not know."""
    if version.count(".") >= 2:
        return version
    return LATEST_PYTHON_PATCH.get(version)


def measure_runtime(
    request: RuntimeRequest, progress: Progress, scratch: Path | None = None
) -> RuntimeMeasurement | RuntimeUnmeasured:
    """The runtime measured from its archive: from the cache, else downloaded (unless offline).
    `scratch`: where to unpack it when there is no cache (it must outlive the measurement's use)."""
    version = full_version(request.version)
    if version is None:
        return RuntimeUnmeasured(f"no patch release of Python {request.version} is known to the buildpack")
    if request.arch not in STACK_ARCHES.get(request.stack, (request.arch,)):
        return RuntimeUnmeasured(f"the buildpack builds no {request.arch} runtime for {request.stack}")
    archive = python_runtime_archive(version, request.stack, request.arch)
    key = archive.removesuffix(".tar.zst")
    store = JsonStore(request.cache_dir, LISTINGS_FOLDER)
    trees = scratch_folder(request.cache_dir, TREES_FOLDER) or scratch
    cached = _cached(store, key, archive, trees)
    if cached is not None:
        return cached
    if request.offline:
        return RuntimeUnmeasured(f"offline, and {archive} was not measured before")
    if trees is None:
        return RuntimeUnmeasured("no folder to unpack it in")
    url = f"{request.base_url.rstrip('/')}/{archive}"
    files = _fetched(url, archive, trees / key, progress)
    if isinstance(files, RuntimeUnmeasured):
        return files
    store.put(key, {"archive": archive, "version": version, "files": [_encoded(file) for file in files]})
    return RuntimeMeasurement(archive, version, files, trees / key)


def _fetched(
    url: str, archive: str, tree: Path, progress: Progress
) -> tuple[RuntimeFile, ...] | RuntimeUnmeasured:
    """The archive's files, downloaded and unpacked into `tree`, or why they could not be."""
    # Imported here: a run that finds the runtime in the cache needs no HTTP client.
    from slugprof.net import NetError, NotFound, redact

    try:
        return _download_and_unpack(url, archive, tree, progress)
    except NotFound:
        return RuntimeUnmeasured(f"{redact(url)} is not there (a version the buildpack never built?)")
    except NetError as error:
        return RuntimeUnmeasured(str(error))
    except RuntimeArchiveError as error:
        return RuntimeUnmeasured(f"{archive} could not be unpacked: {error}")
    except OSError as error:
        return RuntimeUnmeasured(f"{archive} could not be unpacked: {error.strerror or error}")


def _cached(store: JsonStore, key: str, archive: str, trees: Path | None) -> RuntimeMeasurement | None:
    """The listing kept by an earlier run, when its unpacked files are still there."""
    document = store.get(key)
    if document is None or trees is None or not (trees / key).is_dir():
        return None
    try:
        files = tuple(_decoded(entry) for entry in document["files"])
        version = str(document["version"])
    except (KeyError, TypeError, ValueError):
        return None
    return RuntimeMeasurement(archive, version, files, trees / key)


def _encoded(file: RuntimeFile) -> list[object]:
    return [file.path, file.kind, file.size, file.link_target]


def _decoded(entry: object) -> RuntimeFile:
    if not isinstance(entry, list) or len(entry) != 4:
        raise ValueError(f"not a runtime file: {entry!r}")
    path, kind, size, link = entry
    if kind not in ("file", "symlink") or not isinstance(size, int):
        raise ValueError(f"not a runtime file: {entry!r}")
    return RuntimeFile(str(path), "symlink" if kind == "symlink" else "file", size, link)


def _download_and_unpack(url: str, archive: str, tree: Path, progress: Progress) -> tuple[RuntimeFile, ...]:
    """Download the archive beside the tree, unpack it into a fresh folder, then move that into place."""
    tree.parent.mkdir(parents=True, exist_ok=True)
    download = temporary_sibling(tree, ".tar.zst")
    unpacking = temporary_sibling(tree, ".unpacking")
    from slugprof.net import Client

    try:
        with Client() as client, client.open(url) as response, download.open("wb") as sink:
            _save(response, sink, archive, progress)
        progress.stage(f"Unpacking {archive}")
        with download.open("rb") as packed:
            files = unpack(packed, unpacking)
        with contextlib.suppress(FileExistsError, OSError):
            os.rename(unpacking, tree)  # another run may have put the same files there first
        if not tree.is_dir():
            raise RuntimeArchiveError("the unpacked files could not be moved into the cache")
        return files
    finally:
        with contextlib.suppress(OSError):
            download.unlink()
        shutil.rmtree(unpacking, ignore_errors=True)


def _save(response: Response, sink: IO[bytes], archive: str, progress: Progress) -> None:
    length = response.headers.get("Content-Length")
    progress.stage(f"Downloading {archive}", int(length) if length and length.isdigit() else None)
    while chunk := response.read(CHUNK):
        sink.write(chunk)
        progress.advance(len(chunk))


# --- unpacking ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _zstd_reader(packed: IO[bytes]) -> Iterator[IO[bytes]]:
    """The decompressed bytes of a zstd stream, read as a file."""
    if sys.version_info >= (3, 14):  # pragma: no cover - the standard library's own, from 3.14
        from compression import zstd

        options = {zstd.DecompressionParameter.window_log_max: MAX_WINDOW_LOG}
        with zstd.ZstdFile(packed, options=options) as reader:
            yield reader
    else:
        import zstandard

        decompressor = zstandard.ZstdDecompressor(max_window_size=2**MAX_WINDOW_LOG)
        with decompressor.stream_reader(packed, read_across_frames=True) as reader:
            yield reader


def unpack(packed: IO[bytes], folder: Path) -> tuple[RuntimeFile, ...]:
    """Unpack a `.tar.zst` into `folder` (created) and list its files and symlinks, as tar would
    leave them: each file's mode and mtime kept, nothing written outside `folder`."""
    folder.mkdir(parents=True)
    files: list[RuntimeFile] = []
    links: set[str] = set()
    try:
        with _zstd_reader(packed) as reader, tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                file = _unpack_member(archive, member, folder, links)
                if file is not None:
                    files.append(file)
    except (tarfile.TarError, EOFError) as error:
        raise RuntimeArchiveError(f"not a tar archive ({error})") from None
    except _zstd_errors() as error:
        raise RuntimeArchiveError(f"not zstd ({error})") from None
    return tuple(sorted(files, key=lambda file: file.path))


def _zstd_errors() -> tuple[type[Exception], ...]:
    if sys.version_info >= (3, 14):  # pragma: no cover
        from compression import zstd

        return (zstd.ZstdError,)
    import zstandard

    return (zstandard.ZstdError,)


def _member_path(name: str, links: set[str]) -> str | None:
    """The member's path inside the folder; None for the root itself. A name that climbs out, is
    absolute or passes through a symlink unpacked before is refused, as tar's data filter does."""
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    if name.startswith("/") or ".." in parts:
        raise RuntimeArchiveError(f"{name!r} would be unpacked outside the runtime's folder")
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in links:
            raise RuntimeArchiveError(f"{name!r} passes through a symlink")
    return "/".join(parts) or None


def _unpack_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, folder: Path, links: set[str]
) -> RuntimeFile | None:
    path = _member_path(member.name, links)
    if path is None:
        return None
    target = folder / path
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.issym():
        os.symlink(member.linkname, target)
        links.add(path)
        return RuntimeFile(path, "symlink", len(os.fsencode(member.linkname)), member.linkname)
    if member.islnk():
        source = _member_path(member.linkname, links)
        if source is None or not (folder / source).is_file():
            raise RuntimeArchiveError(f"{member.name!r} links to {member.linkname!r}, not a file before it")
        shutil.copy2(folder / source, target)  # the slug's tar would store a link; the size is the same
        return RuntimeFile(path, "file", (folder / source).stat().st_size)
    if not member.isfile():
        return None  # devices and FIFOs: not in a runtime, and not part of a slug
    data = archive.extractfile(member)
    if data is None:  # pragma: no cover - a regular member always has data
        return None
    with data, target.open("wb") as sink:
        shutil.copyfileobj(data, sink, CHUNK)
    os.chmod(target, stat.S_IMODE(member.mode) | stat.S_IRUSR)
    os.utime(target, (member.mtime, member.mtime))
    return RuntimeFile(path, "file", member.size)


def temporary_scratch() -> contextlib.AbstractContextManager[str]:
    """A folder to unpack the runtime in for one run, when there is no cache to keep it."""
    return tempfile.TemporaryDirectory(prefix="slugprof-runtime-")
