"""The compressed slug size against real archives: `tarfile` + gzip, and the `tar` and `gzip` programs.

Trees are built from real files (the standard library, installed packages) plus random and very
repetitive bytes; the ground truth is always a real archive of the same files, never the tool's output.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import io
import os
import random
import shutil
import subprocess
import sysconfig
import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from progressrecorder import RecordingProgress

from slugprof.cache import CACHE_FILE_NAME
from slugprof.measure import compress
from slugprof.measure.compress import GROUP_FLOOR_BYTES, estimate_compressed
from slugprof.model import CompressionEstimate, TarGroup, TarMember

MB = 1_000_000
STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_PARTS = (
    "email",
    "json",
    "asyncio",
    "xml",
    "unittest",
    "http",
    "logging",
    "importlib",
    "encodings",
    "pydoc_data",
    "lib-dynload",  # compiled extension modules
    "ensurepip",  # holds wheels: already compressed
    "idlelib",
    "tkinter",
    "lib2to3",
    "distutils",
)
PACKAGES = ("rich", "pathspec", "packaging", "platformdirs", "_pytest", "pip", "mypy", "mypyc")
BIG_TREE_BYTES = 34 * MB
PER_SOURCE_BYTES = 4 * MB  # many groups, none of them most of the tree


# --- building trees and their members ------------------------------------------------------------


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _regular_files(root: Path) -> Iterator[Path]:
    for folder, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                yield path


def _copy_until(source: Path, destination: Path, budget: int) -> int:
    """Copy the regular files of `source` into `destination` until `budget` bytes; return bytes copied."""
    copied = 0
    for path in _regular_files(source):
        if copied >= budget:
            break
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied += target.stat().st_size
    return copied


def _walk_sorted(root: Path) -> Iterator[Path]:
    """Every path under root in `tar --sort=name` order: depth first, names sorted by their bytes."""
    for name in sorted(os.listdir(root), key=os.fsencode):
        path = root / name
        yield path
        if path.is_dir() and not path.is_symlink():
            yield from _walk_sorted(path)


def group_by_top_folder(relative: str) -> TarGroup:
    top = relative.split("/", 1)[0]
    return TarGroup.dependency(top) if "/" in relative else TarGroup.app()


def members_of(tree: Path, group_of: Callable[[str], TarGroup] = group_by_top_folder) -> list[TarMember]:
    """TarMembers for the files and symlinks of a tree on disk (folders are implied by the paths)."""
    members = []
    for path in _walk_sorted(tree):
        relative = path.relative_to(tree).as_posix()
        if path.is_symlink():
            target = os.readlink(path)
            members.append(
                TarMember(relative, group_of(relative), len(target), str(path), "symlink", link_target=target)
            )
        elif path.is_file():
            members.append(TarMember(relative, group_of(relative), path.stat().st_size, str(path)))
    return members


def tarfile_archive(tree: Path) -> bytes:
    """The GNU tar archive of a tree as `tar -C tree .` names it, written by the standard library."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path in [tree, *_walk_sorted(tree)]:
            name = "." if path == tree else "./" + path.relative_to(tree).as_posix()
            info = archive.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if info.isreg():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return buffer.getvalue()


def gzip6_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def gnu_tar_available() -> bool:
    if shutil.which("tar") is None or shutil.which("gzip") is None:
        return False
    version = subprocess.run(["tar", "--version"], capture_output=True, text=True, check=False).stdout
    return "GNU tar" in version


needs_gnu_tar = pytest.mark.skipif(not gnu_tar_available(), reason="needs GNU tar and gzip")


def gnu_tar(tree: Path) -> bytes:
    command = ["tar", "--sort=name", "--owner=root", "--group=root", "--hard-dereference", "-cf", "-"]
    return subprocess.run([*command, "-C", str(tree), "."], capture_output=True, check=True).stdout


def gnu_tar_gzip_size(tree: Path) -> int:
    """len(tar --sort=name -cf - -C tree . | gzip -6), with the real programs."""
    command = ["tar", "--sort=name", "--owner=root", "--group=root", "--hard-dereference", "-cf", "-"]
    with subprocess.Popen([*command, "-C", str(tree), "."], stdout=subprocess.PIPE) as tar:
        compressed = subprocess.run(["gzip", "-6", "-n"], stdin=tar.stdout, capture_output=True, check=True)
    assert tar.returncode == 0
    return len(compressed.stdout)


def write_random(path: Path, size: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))


# --- the trees ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BigTree:
    root: Path
    members: list[TarMember]
    tarfile_bytes: int  # length of the tarfile archive
    tarfile_gzip: int  # its gzip -6 size


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> BigTree:
    """About 35 MB of real files: standard library parts and installed packages, plus extremes."""
    root = tmp_path_factory.mktemp("slug")
    copied = 0
    sources = [(name, folder) for name in PACKAGES if (folder := _package_dir(name)) is not None]
    sources += [("python", STDLIB / part) for part in STDLIB_PARTS]
    for name, folder in sources:
        budget = min(PER_SOURCE_BYTES, BIG_TREE_BYTES - 6 * MB - copied)
        if budget > 0 and folder.is_dir():
            copied += _copy_until(folder, root / name / folder.name, budget)
    if copied < 24 * MB:
        pytest.skip(f"only {copied} bytes of real files to copy from this Python installation")
    write_random(root / "data" / "noise.bin", 3 * MB, seed=1)
    line = b"2024-05-01 12:00:00 INFO request handled in 12 ms path=/api/items status=200\n"
    (root / "data" / "requests.log").write_bytes(line * (2 * MB // len(line)))
    (root / "data" / "zeros.img").write_bytes(bytes(MB))
    (root / "tiny").mkdir()
    _copy_until(STDLIB / "json", root / "tiny", 150_000)  # below the floor: compressed whole
    (root / "app.py").write_text("print('hello')\n")
    (root / "python" / "current").symlink_to("email")

    def group(relative: str) -> TarGroup:
        if relative.startswith("python/"):
            return TarGroup.buildpack("python")
        return group_by_top_folder(relative)

    archive = tarfile_archive(root)
    return BigTree(root, members_of(root, group), len(archive), gzip6_size(archive))


@pytest.fixture(scope="module")
def big_exact(big_tree: BigTree) -> CompressionEstimate:
    return estimate_compressed(big_tree.members, exact=True)


@pytest.fixture(scope="module")
def big_sampled(big_tree: BigTree) -> CompressionEstimate:
    return estimate_compressed(big_tree.members)


@pytest.fixture
def odd_tree(tmp_path: Path) -> Path:
    """Names at the GNU tar limits (99, 100, 101 bytes with "./"), non-ASCII names, symlinks."""
    root = tmp_path / "odd"
    root.mkdir()
    for length in (97, 98, 99, 150, 250):  # with "./", 99, 100, 101, 152 and 252 bytes
        (root / ("n" * length)).write_text("x" * length)
    deep = root / ("d" * 60) / ("e" * 60)  # a folder whose own name passes 100 bytes
    deep.mkdir(parents=True)
    (deep / "f.py").write_text("import os\n" * 50)
    (root / "d" / ("g" * 95)).mkdir(parents=True)  # "./d/ggg...g/" is 100 bytes: not a long name
    (root / "d" / ("g" * 95) / "h").write_bytes(b"")
    (root / "unicodé-ü.txt").write_text("é" * 1000)
    (root / ("ü" * 60)).write_text("two bytes per letter")  # 120 bytes of name
    (root / "block.bin").write_bytes(b"b" * 512)
    (root / "empty").write_bytes(b"")
    (root / "link").symlink_to("block.bin")
    (root / "far-link").symlink_to("t" * 150)  # a dangling link with a long target
    (root / "a-c").write_text("sorts after a/ in tar")
    (root / "a").mkdir()
    (root / "a" / "b").write_text("inside a")
    write_random(root / "random.bin", 200_000, seed=2)
    return root


# --- the modelled tar stream -----------------------------------------------------------------------


def test_tar_bytes_equal_a_real_tarfile_archive(odd_tree: Path) -> None:
    estimate = estimate_compressed(members_of(odd_tree), exact=True)
    assert estimate.tar_bytes == len(tarfile_archive(odd_tree))
    assert estimate_compressed(members_of(odd_tree)).tar_bytes == estimate.tar_bytes


@needs_gnu_tar
@pytest.mark.slow
def test_tar_bytes_equal_gnu_tar(odd_tree: Path, big_tree: BigTree) -> None:
    assert estimate_compressed(members_of(odd_tree)).tar_bytes == len(gnu_tar(odd_tree))
    assert big_tree.tarfile_bytes == len(gnu_tar(big_tree.root))


@pytest.mark.slow
def test_big_tree_tar_bytes(big_tree: BigTree, big_sampled: CompressionEstimate) -> None:
    assert big_sampled.tar_bytes == big_tree.tarfile_bytes
    assert big_sampled.tar_bytes >= 30 * MB


def test_synthetic_content_is_read_from_memory(odd_tree: Path) -> None:
    script = b"export PATH=/app/.heroku/python/bin:$PATH\n" * 20
    (odd_tree / ".profile.d").mkdir()
    (odd_tree / ".profile.d" / "python.sh").write_bytes(script)
    members = [m for m in members_of(odd_tree) if not m.arcname.startswith(".profile.d")]
    members.append(
        TarMember(".profile.d/python.sh", TarGroup.buildpack("profile.d"), len(script), content=script)
    )
    archive = tarfile_archive(odd_tree)
    exact = estimate_compressed(members, exact=True)
    assert exact.tar_bytes == len(archive)
    assert abs(exact.compressed_bytes - gzip6_size(archive)) <= 0.005 * gzip6_size(archive)
    assert exact.unreadable == ()


def test_an_empty_slug_is_a_root_folder(tmp_path: Path) -> None:
    archive = tarfile_archive(tmp_path)
    for exact in (False, True):
        estimate = estimate_compressed([], exact=exact)
        assert estimate.tar_bytes == len(archive)
        header_fields = 16  # the reference holds the folder's real mtime, the model 0
        assert abs(estimate.compressed_bytes - gzip6_size(archive)) <= estimate.error_bytes + header_fields
        assert sum(g.compressed_bytes for g in estimate.groups) == estimate.compressed_bytes


# --- exact mode --------------------------------------------------------------------------------


@pytest.mark.slow
def test_exact_agrees_with_tarfile_and_gzip(big_tree: BigTree, big_exact: CompressionEstimate) -> None:
    assert big_exact.method == "exact"
    assert big_exact.error_bytes == 0
    assert abs(big_exact.compressed_bytes / big_tree.tarfile_gzip - 1) < 0.005


@needs_gnu_tar
@pytest.mark.slow
def test_exact_agrees_with_the_tar_and_gzip_programs(
    big_tree: BigTree, big_exact: CompressionEstimate
) -> None:
    real = gnu_tar_gzip_size(big_tree.root)
    assert abs(big_exact.compressed_bytes / real - 1) < 0.005


@pytest.mark.parametrize("level", [1, 9])
def test_other_levels(odd_tree: Path, level: int) -> None:
    truth = len(gzip.compress(tarfile_archive(odd_tree), compresslevel=level, mtime=0))
    for exact in (False, True):
        estimate = estimate_compressed(members_of(odd_tree), level=level, exact=exact)
        assert estimate.level == level
        assert abs(estimate.compressed_bytes / truth - 1) < 0.005


@pytest.mark.slow
def test_exact_groups_add_up(big_tree: BigTree, big_exact: CompressionEstimate) -> None:
    assert sum(g.compressed_bytes for g in big_exact.groups) == big_exact.compressed_bytes
    assert sum(g.tar_bytes for g in big_exact.groups) == big_exact.tar_bytes
    assert {g.group for g in big_exact.groups} == {m.group for m in big_tree.members}


# --- sampled mode ------------------------------------------------------------------------------


@pytest.mark.slow
def test_sampled_is_within_its_error_and_3_percent(
    big_tree: BigTree, big_sampled: CompressionEstimate
) -> None:
    truth = gnu_tar_gzip_size(big_tree.root) if gnu_tar_available() else big_tree.tarfile_gzip
    error = big_sampled.compressed_bytes - truth
    assert big_sampled.method == "sampled"
    assert abs(error) <= big_sampled.error_bytes
    assert abs(error) <= 0.03 * truth
    assert 0 < big_sampled.sampled_bytes < big_sampled.tar_bytes  # a real sample, not everything


@pytest.mark.slow
def test_sampled_groups_add_up_and_bracket_the_exact_ones(
    big_sampled: CompressionEstimate, big_exact: CompressionEstimate
) -> None:
    assert sum(g.compressed_bytes for g in big_sampled.groups) == big_sampled.compressed_bytes
    assert sum(g.tar_bytes for g in big_sampled.groups) == big_sampled.tar_bytes
    misses = []
    for exact in big_exact.groups:
        sampled = big_sampled.group(exact.group)
        assert sampled is not None
        assert sampled.tar_bytes == exact.tar_bytes
        if abs(sampled.compressed_bytes - exact.compressed_bytes) > sampled.error_bytes:
            misses.append(exact.group)
    assert len(misses) <= len(big_exact.groups) // 10, misses  # 95% intervals: a rare miss is expected


@pytest.mark.slow
def test_a_tiny_group_is_compressed_whole(
    big_sampled: CompressionEstimate, big_exact: CompressionEstimate
) -> None:
    sampled, exact = (
        big_sampled.group(TarGroup.dependency("tiny")),
        big_exact.group(TarGroup.dependency("tiny")),
    )
    assert sampled is not None and exact is not None
    assert sampled.tar_bytes < GROUP_FLOOR_BYTES
    assert abs(sampled.compressed_bytes / exact.compressed_bytes - 1) < 0.02
    assert sampled.error_bytes < 0.05 * sampled.compressed_bytes + 2048  # no sampling error, only the model's


@pytest.mark.slow
def test_workers_do_not_change_the_result(big_tree: BigTree, big_sampled: CompressionEstimate) -> None:
    assert estimate_compressed(big_tree.members, workers=1) == big_sampled


@pytest.mark.slow
def test_progress_covers_the_stream(big_tree: BigTree) -> None:
    for exact in (False, True):
        members = big_tree.members if not exact else big_tree.members[:300]
        progress = RecordingProgress()
        estimate = estimate_compressed(members, exact=exact, progress=progress)
        assert progress.stages == [("Compressing", estimate.tar_bytes)]
        assert progress.done == estimate.tar_bytes


# --- files that cannot be read -----------------------------------------------------------------


@pytest.mark.parametrize("exact", [False, True])
def test_a_vanished_file_is_counted_incompressible(odd_tree: Path, exact: bool) -> None:
    victim = odd_tree / "gone.txt"
    victim.write_text("compressible " * 20_000)
    size = victim.stat().st_size
    gone_group = TarGroup.dependency("gone")
    members = members_of(odd_tree, lambda relative: gone_group if relative == "gone.txt" else TarGroup.app())
    victim.unlink()
    estimate = estimate_compressed(members, exact=exact)
    assert estimate.unreadable == (str(victim),)
    gone = estimate.group(gone_group)
    assert gone is not None
    assert gone.compressed_bytes >= size


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_is_counted_incompressible(odd_tree: Path) -> None:
    locked = odd_tree / "locked.txt"
    locked.write_text("compressible " * 20_000)
    locked.chmod(0)
    try:
        estimate = estimate_compressed(members_of(odd_tree))
    finally:
        locked.chmod(0o644)
    assert estimate.unreadable == (str(locked),)


# --- the cache ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_run_comes_from_the_cache(
    big_tree: BigTree, big_sampled: CompressionEstimate, tmp_path: Path
) -> None:
    files = sum(1 for m in big_tree.members if m.kind == "file")
    first = estimate_compressed(big_tree.members, cache_dir=tmp_path)
    second = estimate_compressed(big_tree.members, cache_dir=tmp_path)
    assert (tmp_path / CACHE_FILE_NAME).is_file()
    assert first.cached_files == 0
    assert second.cached_files == files
    assert second == dataclasses.replace(first, cached_files=files)
    assert first == big_sampled


def test_a_changed_file_is_measured_again(odd_tree: Path, tmp_path: Path) -> None:
    members = members_of(odd_tree)
    estimate_compressed(members, cache_dir=tmp_path)
    changed = odd_tree / "random.bin"
    changed.write_bytes(b"now compressible " * 12_000)
    members = members_of(odd_tree)
    again = estimate_compressed(members, cache_dir=tmp_path)
    fresh = estimate_compressed(members)
    assert again.compressed_bytes == fresh.compressed_bytes
    assert again.cached_files < sum(1 for m in members if m.kind == "file")


def test_an_unchanged_stream_is_answered_whole_from_the_cache(
    odd_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = members_of(odd_tree)
    first = estimate_compressed(members, cache_dir=tmp_path)

    def no_stream_model(*_: object) -> None:
        raise AssertionError("the stream was modelled again although nothing changed")

    monkeypatch.setattr(compress, "_entries", no_stream_model)
    again = estimate_compressed(members, cache_dir=tmp_path)
    files = sum(1 for m in members if m.kind == "file")
    assert again == dataclasses.replace(first, cached_files=files)


def test_one_touched_file_misses_the_stream_but_not_the_other_files(odd_tree: Path, tmp_path: Path) -> None:
    estimate_compressed(members_of(odd_tree), cache_dir=tmp_path)
    touched = odd_tree / "random.bin"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 1_000_000_000))
    members = members_of(odd_tree)
    again = estimate_compressed(members, cache_dir=tmp_path)
    # The touched file is measured again (with the files whose deflate window holds its bytes); the
    # rest still come from the per-file cache.
    assert 0 < again.cached_files < sum(1 for m in members if m.kind == "file")
    assert again == dataclasses.replace(estimate_compressed(members), cached_files=again.cached_files)


def test_concurrent_runs_share_a_cache(odd_tree: Path, tmp_path: Path) -> None:
    members = members_of(odd_tree)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: estimate_compressed(members, cache_dir=tmp_path, workers=1), range(4)))
    assert len({run.compressed_bytes for run in runs}) == 1
    again = estimate_compressed(members, cache_dir=tmp_path)
    assert again.cached_files == sum(1 for m in members if m.kind == "file")
    assert again.compressed_bytes == runs[0].compressed_bytes


@pytest.mark.parametrize("garbage", [b"not a database at all", b"SQLite format 3\x00" + b"\xff" * 5000])
def test_a_corrupt_cache_is_ignored(odd_tree: Path, tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / CACHE_FILE_NAME).write_bytes(garbage)
    members = members_of(odd_tree)
    assert estimate_compressed(members, cache_dir=tmp_path).compressed_bytes == (
        estimate_compressed(members).compressed_bytes
    )


def test_an_unusable_cache_folder_is_ignored(odd_tree: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    members = members_of(odd_tree)
    estimate = estimate_compressed(members, cache_dir=not_a_folder / "cache")
    assert estimate.compressed_bytes == estimate_compressed(members).compressed_bytes
    assert estimate.cached_files == 0
