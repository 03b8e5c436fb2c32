"""Small wheels installed and measured (`installed_tree`), against real installs.

Wheels are built here from real source (modules of the running interpreter's standard library, a
module of data tables, scripts of every kind), served by a loopback index, and sized by
`size_packages`. The ground truth is a real `pip install --target` of the same wheel (pip compiles the
.pyc), stat-ed file by file, and gzip -6 of a real tar of that install under the slug's names.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from indexserver import IndexServer, serve_index
from realinstall import Installed, measure_install, pip_install
from wheelfactory import build_wheel, stdlib_modules

from slugprof.measure.installed_tree import install_files
from slugprof.measure.listings import INSTALLED_FOLDER, ListingCache, WholeWheel, fetch_wheel
from slugprof.measure.pyc_compiler import compiler_for
from slugprof.measure.sizing import size_packages
from slugprof.model import ResolvedFile, ResolvedPackage, SizedPackage, SizeMethod, Target
from slugprof.net import Client

pytestmark = pytest.mark.slow

MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"
TARGET = Target(stack="heroku-24", arch="amd64", python=MINOR, glibc="2.39", manager="pip")
# The stated error of an installed wheel (slugprof.measure.slug): installed bytes differ from pip's
# only by the .pyc's file names (compiled under the dyno's path, 13 bytes longer than pip --target's
# temporary folder) and the scripts' shebang; the compressed share by the slug's folders and the
# stream around the package.
TOLERANCE = 0.02


def _tables() -> str:
    """A module that is data: a long table of tuples, as idna's and wcwidth's are."""
    rows = ",\n".join(f"    (0x{i * 7:05X}, 'V', {i % 13})" for i in range(6000))
    return f'"""Generated tables."""\n\nTABLE = (\n{rows},\n)\n'


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("index")
    files: dict[str, str | bytes] = {
        "small/__init__.py": '"""A small package of real modules."""\n\nVERSION = "1.0"\n',
        **stdlib_modules("small/json", "json"),
        **stdlib_modules("small/logging", "logging"),
        "small/tables.py": _tables(),
        "small/broken.py": "def broken(:\n    pass\n",  # does not compile: pip skips it, so do we
        "small/py.typed": "",
    }
    build_wheel(
        index,
        "small",
        files=files,
        console_scripts={"small": "small.json.tool:main"},
        data={"scripts": {"small-tool": "#!python\nprint('a script')\n", "small-run.py": "print('run')\n"}},
    )
    return index


@pytest.fixture
def index(folder: Path) -> Iterator[IndexServer]:
    with serve_index(folder) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _package(
    index: IndexServer, folder: Path, *, size: bool = False, sha256: str | None = None
) -> ResolvedPackage:
    [wheel] = sorted(folder.glob("small-*.whl"))
    file = ResolvedFile(
        filename=wheel.name,
        url=index.file_url(wheel.name),
        kind="wheel",
        size=wheel.stat().st_size if size else None,
        sha256=sha256,
    )
    return ResolvedPackage(name="small", version="1.0", file=file, top_level=True)


def _size(package: ResolvedPackage, target: Target, cache: Path | None) -> SizedPackage:
    [sized] = size_packages([package], target, cache_dir=cache, offline=False, build_sdists=False)
    return sized


def _within(predicted: int, real: int, tolerance: float) -> bool:
    return abs(predicted - real) <= tolerance * real


def _check(sized: SizedPackage, real: Installed) -> None:
    assert sized.method == SizeMethod.INSTALLED_WHEEL and sized.measured
    assert sized.file_count == real.files  # modules, .pyc (not broken.py's), scripts, INSTALLER, ...
    assert _within(sized.installed_bytes, real.bytes, TOLERANCE), (sized, real)
    assert _within(sized.pyc_bytes, real.pyc_bytes, TOLERANCE), (sized, real)
    assert _within(sized.compressed_bytes, real.compressed, TOLERANCE), (sized, real)


def test_a_small_wheel_installed_and_measured_matches_a_real_install(
    folder: Path, index: IndexServer, tmp_path: Path
) -> None:
    site = tmp_path / "real"
    pip_install(site, "--no-index", "--find-links", str(folder), "small", python=sys.executable)
    real = measure_install(site)

    sized = _size(_package(index, folder), TARGET, tmp_path / "cache")

    _check(sized, real)
    assert sized.modules == ("small",)
    # the index gave no size: the last 64 KiB first, then the part before it
    assert index.count("/files/") == 2


def test_a_size_from_the_index_means_one_download_and_a_warm_run_none(
    folder: Path, index: IndexServer, tmp_path: Path
) -> None:
    package = _package(index, folder, size=True)
    cold = _size(package, TARGET, tmp_path)
    assert index.count("/files/") == 1
    assert len(list((tmp_path / INSTALLED_FOLDER).glob("*.json"))) == 1

    warm = _size(package, TARGET, tmp_path)

    assert index.count("/files/") == 1 and warm == cold
    # another target is measured again: its bytecode, its RECORD, its names differ
    uv = _size(package, Target("heroku-24", "amd64", MINOR, "2.39", manager="uv"), tmp_path)
    assert index.count("/files/") == 2 and uv.installed_bytes < cold.installed_bytes  # no .pyc rows


def test_a_wheel_whose_sha256_does_not_match_is_not_measured(folder: Path, index: IndexServer) -> None:
    sized = _size(_package(index, folder, size=True, sha256="0" * 64), TARGET, None)
    assert not sized.measured and "sha256 mismatch" in (sized.method_note or "")


def test_without_an_interpreter_of_the_targets_python_the_model_sizes_it(
    folder: Path, index: IndexServer
) -> None:
    assert compiler_for("3.99") is None
    sized = _size(_package(index, folder), Target("heroku-24", "amd64", "3.99", "2.39", "pip"), None)
    assert sized.method == SizeMethod.WHEEL_CENTRAL_DIRECTORY and sized.measured


def _other_python() -> str | None:
    """An interpreter of another Python version on PATH, with pip (None: the test is skipped)."""
    for minor in ("3.13", "3.12", "3.11", "3.10"):
        if minor != MINOR and compiler_for(minor) is not None:
            python = shutil.which(f"python{minor}")
            if (
                python
                and subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0
            ):
                return minor
    return None


def test_another_pythons_bytecode_comes_from_that_python(
    folder: Path, index: IndexServer, tmp_path: Path
) -> None:
    minor = _other_python()
    if minor is None:
        pytest.skip("no interpreter of another Python version (with pip) on PATH")
    python = shutil.which(f"python{minor}")
    assert python is not None
    site = tmp_path / "real"
    pip_install(site, "--no-index", "--find-links", str(folder), "small", python=python)
    real = measure_install(site, minor)

    sized = _size(_package(index, folder), Target("heroku-24", "amd64", minor, "2.39", "pip"), None)

    _check(sized, real)


def test_the_files_are_those_pip_writes(folder: Path, index: IndexServer, tmp_path: Path) -> None:
    site = tmp_path / "real"
    pip_install(site, "--no-index", "--find-links", str(folder), "small", python=sys.executable)
    real = {
        path.relative_to(site).as_posix(): path.stat().st_size for path in site.rglob("*") if path.is_file()
    }
    whole = fetch_wheel(Client(), _package(index, folder).file, ListingCache(None), whole_up_to=1 << 20)  # type: ignore[arg-type]
    assert isinstance(whole, WholeWheel)
    compiler = compiler_for(MINOR)
    assert compiler is not None

    files = install_files(whole.listing, whole.read, _package(index, folder), TARGET, compiler)

    assert files is not None
    slug_site = f".heroku/python/lib/python{MINOR}/site-packages/"
    ours = {
        f.path.removeprefix(slug_site).replace(".heroku/python/bin/", "bin/"): len(f.content) for f in files
    }
    assert set(ours) == set(real)
    differing = {path for path in ours if ours[path] != real[path]}
    # the .pyc hold their file's name (the dyno's, longer), the scripts the interpreter's, RECORD both
    assert all(path.endswith((".pyc", "RECORD")) or path.startswith("bin/") for path in differing), differing
    assert "small/__pycache__/tables.cpython-{}.pyc".format(MINOR.replace(".", "")) in ours
    assert not any("broken.cpython" in path for path in ours)
