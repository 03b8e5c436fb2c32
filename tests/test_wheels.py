"""Sizing resolved packages from their wheels' central directories, against real installs.

Wheels are built here from real source (modules of the running interpreter's standard library, one of
its compiled extension modules), served by a loopback index with range support, and sized by
`size_packages`. The ground truth is a real `pip install --target` of the same wheel (pip compiles the
.pyc), stat-ed file by file, and a real `tarfile` + gzip -6 of that install under the slug's names.
"""

from __future__ import annotations

import io
import os
import socket
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pytest
from indexserver import IndexServer, serve_index
from realinstall import Installed, measure_install, pip_install
from wheelfactory import (
    LANGUAGES,
    STDLIB,
    build_sdist,
    build_wheel,
    stdlib_modules,
    translations,
    write_sdist,
)

from slugprof.errors import ToolFailure
from slugprof.measure import listings
from slugprof.measure.install_model import predict_installed
from slugprof.measure.listings import MEMBERS_FOLDER, WHEELS_FOLDER
from slugprof.measure.neighbours import neighbour_ratios
from slugprof.measure.sizing import SMALL_WHEEL_BYTES, size_packages
from slugprof.measure.wheelzip import (
    TAIL_BYTES,
    CorruptWheelError,
    member_bytes,
    read_central_directory,
    read_local_wheel,
)
from slugprof.model import ResolvedFile, ResolvedPackage, SizedPackage, SizeMethod, Target

pytestmark = pytest.mark.slow

MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"
TARGET = Target(stack="heroku-24", arch="amd64", python=MINOR, glibc="2.39", manager="pip")
STDLIB_PACKAGES = ("asyncio", "email", "json", "http", "logging", "xml", "urllib", "importlib")
SITE = f".heroku/python/lib/python{MINOR}/site-packages"  # where the buildpack installs packages
TOLERANCE = 0.05  # the target, for installed and compressed bytes
# The .pyc is predicted from each module's size and deflated size: per package the model errs by 7-8%
# typically, up to about 15% (see slugprof.measure.bytecode); on these modules, by +3% to +6%.
PYC_TOLERANCE = 0.20


# --- building the wheels -----------------------------------------------------------------------------


def _stdlib_modules(prefix: str) -> dict[str, str]:
    return {
        path: text
        for package in STDLIB_PACKAGES
        for path, text in stdlib_modules(f"{prefix}/{package}", package).items()
    }


def _extension_module() -> bytes:
    """A real compiled extension module of this interpreter (a binary member)."""
    folder = Path(sysconfig.get_config_var("DESTSHARED") or STDLIB / "lib-dynload")
    for pattern in ("_decimal*.so", "_datetime*.so", "*.so", "*.pyd"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0].read_bytes()
    return os.urandom(300_000)  # no extension modules: incompressible bytes instead


def _many_files(count: int) -> dict[str, str]:
    """Small data files under long names: a central directory longer than one 64 KiB request."""
    folder = "manyfiles/resources/translations/generated/catalogues"
    return {
        f"{folder}/catalogue-{i:05d}-with-a-long-descriptive-name.txt": f"entry {i}\n" * (1 + i % 7)
        for i in range(count)
    }


def _build_sdist(dest: Path) -> Path:
    """demo-sdist, built by pip offline: email and json copied in as its subpackages."""
    files = {
        "demo_sdist/__init__.py": '"""A package built from its sdist."""\n',
        **stdlib_modules("demo_sdist/email", "email"),
        **stdlib_modules("demo_sdist/json", "json"),
    }
    return build_sdist(dest, "demo-sdist", files=files)


def _broken_sdist(dest: Path) -> Path:
    """An sdist whose build backend raises."""
    return write_sdist(
        dest,
        "broken_sdist-1.0",
        {
            "pyproject.toml": (
                '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["_build"]\n'
            ),
            "PKG-INFO": "Metadata-Version: 2.1\nName: broken-sdist\nVersion: 1.0\n",
            "_build/backend.py": "def build_wheel(*args, **kwargs):\n    raise SystemExit('no')\n",
        },
    )


@dataclass(frozen=True)
class Built:
    folder: Path  # what the index serves
    demo: Path
    many: Path
    garbage: Path
    sdist: Path
    broken_sdist: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("index")
    files: dict[str, str | bytes] = {
        "demo/__init__.py": '"""A package of real modules."""\n\nVERSION = "1.0"\n',
        **_stdlib_modules("demo"),
        "demo/_speedups.so": _extension_module(),
        "demo/data/license.txt": (STDLIB / "LICENSE.txt").read_text(encoding="utf-8")
        if (STDLIB / "LICENSE.txt").is_file()
        else "license\n" * 500,
    }
    demo = build_wheel(
        folder,
        "demo",
        files=files,
        console_scripts={"demo": "demo.cli:main", "demo-admin": "demo.admin.tool:run"},
        data={"scripts": {"demo-tool": "#!python\nprint('a script from the wheel')\n"}},
    )
    many = build_wheel(folder, "manyfiles", files=_many_files(1500))
    garbage = folder / "broken-1.0-py3-none-any.whl"
    garbage.write_bytes(os.urandom(50_000))
    return Built(folder, demo, many, garbage, _build_sdist(folder), _broken_sdist(folder))


# --- the ground truth: real installs -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_demo(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    site = tmp_path_factory.mktemp("real-demo")
    pip_install(site, "--no-index", "--find-links", str(built.folder), "demo")
    return measure_install(site)


# --- helpers -----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests never go through a proxy the environment may configure."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def index(built: Built) -> Iterator[IndexServer]:
    with serve_index(built.folder) as server:
        yield server


def _package(
    name: str,
    url: str,
    filename: str,
    *,
    kind: Literal["wheel", "sdist"] = "wheel",
    size: int | None = None,
    sha256: str | None = None,
) -> ResolvedPackage:
    file = ResolvedFile(filename=filename, url=url, kind=kind, size=size, sha256=sha256)
    return ResolvedPackage(name=name, version="1.0", file=file, top_level=True)


def _wheel(
    index: IndexServer, path: Path, *, size: int | None = None, sha256: str | None = None
) -> ResolvedPackage:
    name = path.name.split("-")[0]
    return _package(name, index.file_url(path.name), path.name, size=size, sha256=sha256)


def _size(packages: list[ResolvedPackage], cache: Path | None, **options: bool) -> list[SizedPackage]:
    """Sized by the model of their member lists (`installed=True`: small wheels installed and measured)."""
    return size_packages(
        packages,
        TARGET,
        cache_dir=cache,
        offline=options.get("offline", False),
        build_sdists=options.get("build_sdists", False),
        install_up_to=SMALL_WHEEL_BYTES if options.get("installed", False) else 0,
    )


def _run_requests(wheel: Path) -> int:
    """The range requests the neighbour runs of this wheel take: the reads outside its last 64 KiB,
    which the first request already holds."""
    data = wheel.read_bytes()
    tail_start = max(0, len(data) - TAIL_BYTES)
    members = read_central_directory(data[tail_start:], tail_start, lambda a, b: data[a:b])
    outside: list[tuple[int, int]] = []

    def read(start: int, end: int) -> bytes:
        if not (start >= tail_start and end <= len(data)):
            outside.append((start, end))
        return data[start:end]

    neighbour_ratios(members, read)
    return len(outside)


def _within(predicted: int, real: int, tolerance: float) -> bool:
    return abs(predicted - real) <= tolerance * real


# --- wheels ------------------------------------------------------------------------------------------


def test_a_wheel_sized_from_its_central_directory_matches_a_real_install(
    built: Built, real_demo: Installed, index: IndexServer, tmp_path: Path
) -> None:
    [sized] = _size([_wheel(index, built.demo)], tmp_path)

    assert sized.measured and sized.method == "wheel central directory"
    assert sized.file_count == real_demo.files  # modules, .pyc, scripts, INSTALLER, REQUESTED, RECORD
    assert _within(sized.installed_bytes, real_demo.bytes, TOLERANCE), (sized.installed_bytes, real_demo)
    assert _within(sized.compressed_bytes, real_demo.compressed, TOLERANCE), (
        sized.compressed_bytes,
        real_demo,
    )
    assert _within(sized.pyc_bytes, real_demo.pyc_bytes, PYC_TOLERANCE), (sized.pyc_bytes, real_demo)
    # one suffix range held the end record, the whole directory and entry_points.txt; then the
    # members of the neighbour runs, a range each run or less
    assert index.count("/files/") == 1 + _run_requests(built.demo)


def test_a_warm_run_makes_no_request_and_gives_the_same_figures(
    built: Built, index: IndexServer, tmp_path: Path
) -> None:
    cold = _size([_wheel(index, built.demo), _wheel(index, built.many)], tmp_path)
    requests = index.count()
    assert requests > 0
    warm = _size([_wheel(index, built.demo), _wheel(index, built.many)], tmp_path)
    assert index.count() == requests
    assert warm == cold
    assert len(list((tmp_path / MEMBERS_FOLDER).glob("*.json"))) == 2


def test_a_long_central_directory_takes_a_second_range_and_is_exact(
    built: Built, index: IndexServer, tmp_path: Path
) -> None:
    site = tmp_path / "real"
    pip_install(site, "--no-index", "--find-links", str(built.folder), "manyfiles")
    real = measure_install(site)

    [sized] = _size([_wheel(index, built.many)], None)

    # the last 64 KiB, the directory's beginning, then METADATA (checked for what pip refuses), in one
    # range; then the neighbour runs' members
    assert index.count("/files/") == 3 + _run_requests(built.many)
    assert sized.measured and sized.file_count == real.files
    assert sized.pyc_bytes == 0
    assert _within(sized.installed_bytes, real.bytes, 0.001)  # no bytecode: exact but for RECORD's rows


def test_a_server_without_ranges_means_a_download_read_locally_then_cached(
    built: Built, real_demo: Installed, index: IndexServer, tmp_path: Path
) -> None:
    [ranged] = _size([_wheel(index, built.demo)], None)
    index.ranges = False
    index.reset_counts()

    [downloaded] = _size([_wheel(index, built.demo)], tmp_path)

    assert downloaded.method == "downloaded wheel" and downloaded.measured
    assert (downloaded.installed_bytes, downloaded.compressed_bytes) == (
        ranged.installed_bytes,
        ranged.compressed_bytes,
    )
    assert index.count("/files/") == 1
    assert list((tmp_path / WHEELS_FOLDER).iterdir()) == []  # the member list is kept, not the wheel
    [again] = _size([_wheel(index, built.demo)], tmp_path)
    assert index.count() == 1 and again == downloaded


def test_offline_with_a_cold_cache_estimates_or_says_what_was_not_measured(
    built: Built, index: IndexServer, tmp_path: Path
) -> None:
    known_size = _wheel(index, built.demo, size=built.demo.stat().st_size)
    unknown_size = _wheel(index, built.many)

    estimated, missing = _size([known_size, unknown_size], tmp_path, offline=True)

    assert index.count() == 0
    assert not estimated.measured
    assert estimated.method == SizeMethod.ESTIMATED_FROM_WHEEL_SIZE
    assert estimated.installed_bytes > built.demo.stat().st_size
    assert not missing.measured and missing.installed_bytes == 0 and missing.compressed_bytes == 0
    assert (missing.method, missing.method_note) == (SizeMethod.NOT_MEASURED, "offline and not in the cache")


def test_garbage_a_missing_file_and_no_file_are_reported_not_raised(built: Built, index: IndexServer) -> None:
    no_file = ResolvedPackage(name="nothing", version="1.0", file=None)
    packages = [
        _wheel(index, built.garbage),
        _package("gone", index.file_url("gone-1.0-py3-none-any.whl"), "gone-1.0-py3-none-any.whl"),
        no_file,
        _wheel(index, built.demo),
    ]

    garbage, gone, nothing, demo = _size(packages, None)

    assert not garbage.measured and garbage.installed_bytes == 0
    assert garbage.method == SizeMethod.NOT_MEASURED
    assert (garbage.method_note or "").startswith("broken-1.0-py3-none-any.whl is not a readable wheel")
    assert not gone.measured and "HTTP 404" in (gone.method_note or "")
    assert (nothing.method, nothing.method_note) == (
        SizeMethod.NOT_MEASURED,
        "no installable file for the target",
    )
    assert demo.measured


def test_a_host_that_cannot_be_reached_for_every_package_is_one_tool_failure() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/files/demo-1.0-py3-none-any.whl"

    with pytest.raises(ToolFailure) as raised:
        _size([_package("demo", url, "demo-1.0-py3-none-any.whl")], None)

    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "\n" not in message


def test_a_redirect_is_followed(built: Built, index: IndexServer) -> None:
    moved = _package("demo", f"{index.root}moved/{built.demo.name}", built.demo.name)
    [sized] = _size([moved], None)
    assert sized.measured
    requests = 1 + _run_requests(built.demo)  # each range asked at the old address, then redirected
    assert (index.count("/moved/"), index.count("/files/")) == (requests, requests)


def test_a_wheel_whose_sha256_does_not_match_is_not_measured(built: Built, index: IndexServer) -> None:
    index.ranges = False  # the hash can only be checked on a download
    [sized] = _size([_wheel(index, built.demo, sha256="0" * 64)], None)
    assert not sized.measured and "sha256 mismatch" in (sized.method_note or "")


# --- sdists ------------------------------------------------------------------------------------------


def test_an_sdist_is_estimated_from_its_size_and_says_so(built: Built, index: IndexServer) -> None:
    size = built.sdist.stat().st_size
    given = _package(
        "demo-sdist", index.file_url(built.sdist.name), built.sdist.name, kind="sdist", size=size
    )
    asked = _package("demo-sdist", index.file_url(built.sdist.name), built.sdist.name, kind="sdist")

    from_index, from_server = _size([given, asked], None)

    assert from_index == from_server  # the size from a one-byte range request when the index gave none
    assert index.count("/files/") == 1
    assert not from_index.measured and from_index.method == "estimated from sdist"
    assert from_index.installed_bytes > size and from_index.compressed_bytes > 0


def test_an_sdist_is_built_and_measured_when_asked(
    built: Built, index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the build needs nothing from an index
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    site = tmp_path / "real"
    pip_install(site, "--no-index", "--find-links", str(built.folder), "demo-sdist")  # pip builds it too
    real = measure_install(site)
    sdist = _package("demo-sdist", index.file_url(built.sdist.name), built.sdist.name, kind="sdist")

    [sized] = _size([sdist], tmp_path / "cache", build_sdists=True)

    assert sized.measured and sized.method == "built sdist", sized.method
    assert sized.file_count == real.files
    # Measured from the built wheel: every file but the bytecode is known to the byte (RECORD aside).
    assert _within(sized.installed_bytes - sized.pyc_bytes, real.bytes - real.pyc_bytes, 0.002)
    # Nothing but .py files (email and json): the bytecode model's per-package error dominates.
    assert _within(sized.pyc_bytes, real.pyc_bytes, PYC_TOLERANCE), (sized, real)
    assert _within(sized.compressed_bytes, real.compressed, 2 * TOLERANCE), (sized, real)
    index.reset_counts()
    assert _size([sdist], tmp_path / "cache", build_sdists=True) == [sized]
    assert index.count() == 0


def test_an_sdist_that_fails_to_build_is_estimated_with_the_reason(
    built: Built, index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    name = built.broken_sdist.name
    size = built.broken_sdist.stat().st_size
    broken = _package("broken-sdist", index.file_url(name), name, kind="sdist", size=size)

    [sized] = _size([broken], tmp_path, build_sdists=True)

    assert not sized.measured and sized.installed_bytes > 0
    assert sized.method == SizeMethod.ESTIMATED_FROM_SDIST, sized.method
    assert (sized.method_note or "").startswith("build failed: "), sized.method_note
    assert "pip wheel failed: " in (sized.method_note or "")
    assert list((tmp_path / "sdists").iterdir()) == []  # the download is not kept


def test_an_sdist_build_that_overruns_its_timeout_is_estimated_with_the_reason(
    built: Built, index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setattr(listings, "BUILD_TIMEOUT_SECONDS", 0.05)  # pip cannot even start in that time
    size = built.sdist.stat().st_size
    sdist = _package(
        "demo-sdist", index.file_url(built.sdist.name), built.sdist.name, kind="sdist", size=size
    )

    [sized] = _size([sdist], tmp_path, build_sdists=True)

    assert not sized.measured and sized.installed_bytes > 0
    assert sized.method == SizeMethod.ESTIMATED_FROM_SDIST, sized.method
    assert (sized.method_note or "").startswith("build failed: "), sized.method_note
    assert "did not finish within" in (sized.method_note or "")
    assert list((tmp_path / "sdists").iterdir()) == []


# --- the zip reader on its own -------------------------------------------------------------------------


def test_zip64_records_and_bytes_before_the_archive_read_as_zipfile_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)  # zipfile then writes the zip64 end records
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(40):
            with archive.open(f"pkg/módulo_{index}.py", "w", force_zip64=True) as member:
                member.write(f"VALUE = {index}\n".encode() * (index + 1))
        archive.writestr("pkg/stored.bin", os.urandom(3000), compress_type=zipfile.ZIP_STORED)
    # A launcher in front, as `cat launcher app.zip` makes: every offset in the archive is now short.
    data = b"#!/bin/sh\nexec python -m app\n" + buffer.getvalue()
    assert b"PK\x06\x06" in data  # the zip64 end record is really there
    tail_start = len(data) - 1000  # a tail that misses the directory's beginning
    reads: list[tuple[int, int]] = []

    def read(start: int, end: int) -> bytes:
        reads.append((start, end))
        return data[start:end]

    members = read_central_directory(data[tail_start:], tail_start, read)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expected = [(i.filename, i.file_size, i.compress_size, i.compress_type) for i in archive.infolist()]
    assert [(m.name, m.size, m.compressed, m.method) for m in members] == expected
    assert any(start < tail_start for start, _ in reads), reads  # the directory's start was fetched
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert member_bytes(members[7], read) == archive.read(members[7].name)
        assert member_bytes(members[-1], read) == archive.read("pkg/stored.bin")


def test_bytes_that_are_not_a_zip_raise_corrupt_wheel_error() -> None:
    with pytest.raises(CorruptWheelError):
        read_central_directory(b"\x00" * 100, 0, lambda start, end: b"")


def _messages(count: int) -> list[str]:
    """English sentences: the comment and docstring lines of a standard library module."""
    lines = []
    for line in (STDLIB / "argparse.py").read_text(encoding="utf-8").splitlines():
        text = line.strip().lstrip("#").strip()
        if 30 <= len(text) <= 90 and text.replace(" ", "").replace(",", "").replace(".", "").isalpha():
            lines.append(text)
    return list(dict.fromkeys(lines))[:count]


def test_translations_that_share_text_across_files_are_sized_as_the_tar_stream_compresses_them(
    tmp_path: Path,
) -> None:
    files: dict[str, str | bytes] = {
        "polyglot/__init__.py": '"""A package with a catalogue per language."""\n',
        **translations("polyglot", LANGUAGES, _messages(120)),
    }
    wheel = build_wheel(tmp_path / "index", "polyglot", files=files)
    site = tmp_path / "real"
    pip_install(site, "--no-index", "--find-links", str(wheel.parent), "polyglot")
    real = measure_install(site)

    with serve_index(wheel.parent) as server:
        [sized] = _size([_wheel(server, wheel)], None)

    assert sized.measured and sized.file_count == real.files
    assert _within(sized.compressed_bytes, real.compressed, TOLERANCE), (sized.compressed_bytes, real)
    # each file's own deflate size alone overstates them: the .po repeats its .mo, every language the
    # msgids, which the stream's window finds and a zip, member by member, cannot
    listing = read_local_wheel(wheel, SizeMethod.WHEEL_CENTRAL_DIRECTORY)
    alone = predict_installed(replace(listing, neighbour_ratios=()), _wheel(server, wheel), TARGET)
    assert alone.compressed > (1 + TOLERANCE) * real.compressed, (alone.compressed, real)
