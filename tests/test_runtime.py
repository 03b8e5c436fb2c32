"""The buildpack's Python runtime measured from its archive: a real `.tar.zst` of a small fake runtime,
served on loopback (or from a folder), downloaded once, unpacked, listed and cached; its files enter the
slug's tar stream under `.heroku/python/`. Offline, on a 404 or any failure: the setting, and why."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from clirun import run_slugprof, write_app
from indexserver import serve_index
from progressrecorder import RecordingProgress
from runtimestore import installed_bytes, pack_runtime, slug_tar_gzip, write_runtime, zstd_compress

from slugprof.cli import main
from slugprof.config import Settings, load_settings
from slugprof.heroku import python_runtime_archive
from slugprof.measure.compress import MODEL_BIAS_BYTES, MODEL_BIAS_GROUP
from slugprof.measure.runtime import (
    RuntimeMeasurement,
    RuntimeRequest,
    RuntimeUnmeasured,
    full_version,
    measure_runtime,
)

VERSION = "3.13.5"
ARCHIVE = python_runtime_archive(VERSION, "heroku-24", "amd64")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_runtime(tmp_path_factory.mktemp("runtime") / "tree")


@pytest.fixture(scope="module")
def store(tree: Path) -> Path:
    """The runtime store: the fake archive under the name the buildpack gives heroku-24's 3.13.5."""
    folder = tree.parent / "store"
    pack_runtime(tree, folder / ARCHIVE)
    return folder


def _request(
    base_url: str, cache: Path | None, *, version: str = VERSION, offline: bool = False
) -> RuntimeRequest:
    return RuntimeRequest(version, "heroku-24", "amd64", base_url, cache, offline)


def test_the_archive_name_follows_the_buildpack() -> None:
    assert ARCHIVE == "python-3.13.5-ubuntu-24.04-amd64.tar.zst"
    assert (
        python_runtime_archive("3.12.9", "heroku-22", "amd64") == "python-3.12.9-ubuntu-22.04-amd64.tar.zst"
    )
    assert (
        python_runtime_archive("3.14.0", "heroku-26", "arm64") == "python-3.14.0-ubuntu-26.04-arm64.tar.zst"
    )
    assert full_version("3.13.5") == "3.13.5"
    assert full_version("3.13") is not None and full_version("3.13").startswith("3.13.")  # type: ignore[union-attr]
    assert full_version("2.7") is None


def test_downloaded_once_measured_and_cached(tree: Path, store: Path, tmp_path: Path) -> None:
    progress = RecordingProgress()
    with serve_index(store) as server:
        base = server.root + "files"
        first = measure_runtime(_request(base, tmp_path / "cache"), progress)
        assert server.count("/files/") == 1
        assert isinstance(first, RuntimeMeasurement), first
        assert first.archive == ARCHIVE and first.version == VERSION
        assert first.bytes == installed_bytes(tree)
        listed = {file.path: file for file in first.files}
        assert listed["bin/python3"].kind == "symlink" and listed["bin/python3"].link_target == "python3.13"
        assert listed["lib/python3.13/os.py"].size == (tree / "lib/python3.13/os.py").stat().st_size
        assert all(not path.startswith("./") for path in listed)
        assert (ARCHIVE.join(["Downloading ", ""]), (store / ARCHIVE).stat().st_size) in progress.stages
        assert progress.done >= (store / ARCHIVE).stat().st_size

        again = measure_runtime(_request(base, tmp_path / "cache"), RecordingProgress())
        offline = measure_runtime(_request(base, tmp_path / "cache", offline=True), RecordingProgress())
        assert server.count("/files/") == 1  # the second run and the offline one asked nothing
    assert again == first and offline == first
    # The unpacked files are what the slug's tar stream reads, with the archive's modes.
    unpacked = first.tree / "bin" / "python3.13"
    assert unpacked.read_bytes() == (tree / "bin" / "python3.13").read_bytes()
    assert unpacked.stat().st_mode & 0o111


def test_offline_with_nothing_cached_says_so(store: Path, tmp_path: Path) -> None:
    result = measure_runtime(_request(store.as_uri(), tmp_path / "cache", offline=True), RecordingProgress())
    assert result == RuntimeUnmeasured(f"offline, and {ARCHIVE} was not measured before")


def test_a_version_the_buildpack_never_built_is_a_404(store: Path, tmp_path: Path) -> None:
    with serve_index(store) as server:
        result = measure_runtime(
            _request(server.root + "files", tmp_path / "c", version="3.13.99"), RecordingProgress()
        )
        assert server.count("/files/") == 1
    assert isinstance(result, RuntimeUnmeasured)
    assert "python-3.13.99-ubuntu-24.04-amd64.tar.zst is not there" in result.reason


def test_a_failing_server_and_a_broken_archive_are_said(store: Path, tmp_path: Path) -> None:
    with serve_index(store) as server:
        server.fail(403)
        refused = measure_runtime(_request(server.root + "files", tmp_path / "a"), RecordingProgress())
    assert isinstance(refused, RuntimeUnmeasured) and "403" in refused.reason
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ARCHIVE).write_bytes(b"not zstd at all" * 100)
    garbled = measure_runtime(_request(broken.as_uri(), tmp_path / "b"), RecordingProgress())
    assert isinstance(garbled, RuntimeUnmeasured)
    assert garbled.reason.startswith(f"{ARCHIVE} could not be unpacked: not zstd")


def _packed(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A store folder holding ARCHIVE made of exactly these members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    store = tmp_path / "store"
    store.mkdir()
    (store / ARCHIVE).write_bytes(zstd_compress(buffer.getvalue()))
    return store


def test_a_member_outside_the_runtime_is_refused(tmp_path: Path) -> None:
    outside = tarfile.TarInfo("../outside.txt")
    outside.size = 3
    evil = _packed(tmp_path, [(outside, b"bad")])
    result = measure_runtime(_request(evil.as_uri(), tmp_path / "cache"), RecordingProgress())
    assert isinstance(result, RuntimeUnmeasured) and "outside the runtime's folder" in result.reason
    assert not (tmp_path / "cache" / "outside.txt").exists()
    assert not list((tmp_path / "cache").rglob("outside.txt"))


def test_a_hard_link_is_unpacked_as_the_file_it_links_to(tmp_path: Path) -> None:
    original = tarfile.TarInfo("./bin/python3.13")
    original.size = 5
    link = tarfile.TarInfo("./bin/python3.13-copy")
    link.type = tarfile.LNKTYPE
    link.linkname = "./bin/python3.13"
    store = _packed(tmp_path, [(original, b"\x7fELF!"[:5]), (link, None)])
    result = measure_runtime(_request(store.as_uri(), tmp_path / "cache"), RecordingProgress())
    assert isinstance(result, RuntimeMeasurement), result
    assert [(file.path, file.kind, file.size) for file in result.files] == [
        ("bin/python3.13", "file", 5),
        ("bin/python3.13-copy", "file", 5),
    ]
    assert (result.tree / "bin" / "python3.13-copy").read_bytes() == b"\x7fELF!"[:5]


def test_a_member_through_a_symlink_is_refused(tmp_path: Path) -> None:
    folder = tarfile.TarInfo("lib")
    folder.type = tarfile.SYMTYPE
    folder.linkname = "/etc"
    through = tarfile.TarInfo("lib/passwd")
    through.size = 2
    store = _packed(tmp_path, [(folder, None), (through, b"no")])
    result = measure_runtime(_request(store.as_uri(), tmp_path / "cache"), RecordingProgress())
    assert isinstance(result, RuntimeUnmeasured) and "passes through a symlink" in result.reason


def test_the_url_setting_is_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.slugprof]\npython-runtime-url = "https://mirror.test/py"\n'
    )
    assert load_settings(tmp_path, {}).python_runtime_url == "https://mirror.test/py"


# --- analyze, as a user runs it ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pip app for Python 3.13.5 with its own (empty) environment: only the runtime is downloaded."""
    files = {".python-version": f"{VERSION}\n", "requirements.txt": "", ".gitignore": ".venv/\n"}
    root = write_app(tmp_path_factory.mktemp("app") / "app", files)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=60
    )
    return root


def _python_part(report: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = next(part for part in report["buildpack"] if part["name"] == "python")
    return part


def _analyzed(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_analyze_measures_the_runtime_in_the_slug(app: Path, tree: Path, store: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve_index(store) as server:
        url = server.root + "files"
        run = ("analyze", app, "--format", "json", "-q")
        first = _analyzed(run_slugprof(*run, XDG_CACHE_HOME=str(cache), SLUGPROF_PYTHON_RUNTIME_URL=url))
        assert server.count("/files/") == 1
        second = _analyzed(run_slugprof(*run, XDG_CACHE_HOME=str(cache), SLUGPROF_PYTHON_RUNTIME_URL=url))
        offline = _analyzed(
            run_slugprof(*run, "--offline", XDG_CACHE_HOME=str(cache), SLUGPROF_PYTHON_RUNTIME_URL=url)
        )
        assert server.count("/files/") == 1  # the second run and the offline one: from the cache
    part = _python_part(first)
    assert part["measured"] is True
    assert part["source"] == f"measured from {ARCHIVE}"
    assert part["bytes"] == installed_bytes(tree)
    truth = slug_tar_gzip(tree)
    assert abs(part["compressed_bytes"] - truth) <= MODEL_BIAS_GROUP * truth + MODEL_BIAS_BYTES
    runtime = next(c for c in first["slug"]["components"] if c["name"] == "python")
    assert runtime == {
        "name": "python",
        "bytes": part["bytes"],
        "compressed_bytes": part["compressed_bytes"],
        "measured": True,
    }
    for later in (second, offline):
        assert _python_part(later) == part
        assert later["slug"]["compressed_bytes"] == first["slug"]["compressed_bytes"]


def test_analyze_says_when_the_setting_stands_in(app: Path, store: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with serve_index(empty) as server:
        result = run_slugprof(
            "analyze",
            app,
            "--no-cache",
            XDG_CACHE_HOME=str(tmp_path / "c"),
            SLUGPROF_PYTHON_RUNTIME_URL=server.root + "files",
        )
        report = _analyzed(
            run_slugprof(
                "analyze",
                app,
                "--format",
                "json",
                "-q",
                "--no-cache",
                SLUGPROF_PYTHON_RUNTIME_URL=server.root + "files",
            )
        )
    assert result.returncode == 0, result.stderr
    assert "the Python runtime from the setting python-runtime-size, not measured" in " ".join(
        result.stdout.split()
    )
    part = _python_part(report)
    settings = Settings()
    assert part["measured"] is False
    assert part["source"].startswith("the setting python-runtime-size, not measured: ")
    assert f"{ARCHIVE} is not there" in part["source"]
    assert (part["bytes"], part["compressed_bytes"]) == (
        settings.python_runtime_size,
        settings.python_runtime_compressed_size,
    )
    offline = _analyzed(
        run_slugprof(
            "analyze", app, "--format", "json", "-q", "--offline", XDG_CACHE_HOME=str(tmp_path / "d")
        )
    )
    assert _python_part(offline)["source"] == (
        f"the setting python-runtime-size, not measured: offline, and {ARCHIVE} was not measured before"
    )


def test_the_url_setting_in_pyproject_is_honoured_without_a_cache(
    app: Path,
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mirrored = tmp_path / "app"
    mirrored.mkdir()
    for name in (".python-version", "Procfile", "app.py", "requirements.txt", ".gitignore"):
        (mirrored / name).write_bytes((app / name).read_bytes())
    (mirrored / "pyproject.toml").write_text(f'[tool.slugprof]\npython-runtime-url = "{store.as_uri()}"\n')
    monkeypatch.delenv("SLUGPROF_PYTHON_RUNTIME_URL")
    assert (
        main(["analyze", str(mirrored), "--format", "json", "-q", "--no-cache", "--resolve", "--offline"])
        == 0
    )
    offline = _python_part(json.loads(capsys.readouterr().out))
    assert offline["measured"] is False  # offline: not even a file:// store is read
    code = main(
        ["analyze", str(mirrored), "--format", "json", "-q", "--no-cache", "--env", str(app / ".venv")]
    )
    assert code == 0
    part = _python_part(json.loads(capsys.readouterr().out))
    assert part["source"] == f"measured from {ARCHIVE}"
