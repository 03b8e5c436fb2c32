"""`slugprof analyze --resolve` end to end for every package manager the buildpack supports, offline.

Real lock files (uv.lock, poetry.lock, Pipfile.lock) and requirements.txt apps, resolved against
loopback indexes serving wheels and an sdist built here; the buildpack's build errors (several manager
files, a Pipfile without its lock) reported as such. Sizes are checked against the wheels' own member
lists, read here with `zipfile`.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clirun import CP, PY, analyze_resolved, packages_of, report_of, write_app
from indexserver import IndexServer, serve_index
from locktext import poetry_lock, poetry_package, sha256_of
from wheelfactory import build_sdist, build_wheel, stdlib_modules

pytestmark = pytest.mark.slow

MEASURED = "installed wheel"  # small wheels: installed and measured
NATIVE_LINUX = f"native-1.0-{CP}-{CP}-manylinux_2_17_x86_64.whl"
NATIVE_WINDOWS = f"native-1.0-{CP}-{CP}-win_amd64.whl"


def _write_sdist(dest: Path) -> int:
    """plain_sdist-1.0.tar.gz, its backend needing nothing from an index (so uv reads its metadata and
    pip builds its wheel offline); returns the bytes of the package files its wheel will hold."""
    package = stdlib_modules("plain_sdist", "json")
    build_sdist(dest, "plain-sdist", files=package)
    return sum(len(text.encode("utf-8")) for text in package.values())


@dataclass(frozen=True)
class Indexes:
    main: IndexServer  # web-lib, helper-lib, native (Linux and Windows), winonly, devtool, plain-sdist
    extra: IndexServer  # extra-lib only
    main_folder: Path
    sdist_package_bytes: int  # the .py bytes inside plain-sdist's package


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexes]:
    main = tmp_path_factory.mktemp("main-index")
    build_wheel(main, "web-lib", files=stdlib_modules("web_lib", "email"), requires=["helper-lib>=1"])
    build_wheel(main, "helper-lib", files=stdlib_modules("helper_lib", "json"))
    native: dict[str, str | bytes] = {
        "native/__init__.py": "",
        "native/_core.so": os.urandom(200_000) + bytes(300_000),
    }
    build_wheel(main, "native", files=native, tag=f"{CP}-{CP}-manylinux_2_17_x86_64")
    windows: dict[str, str | bytes] = {
        "native/__init__.py": "# windows\n",
        "native/_core.pyd": os.urandom(900_000),
    }
    build_wheel(main, "native", files=windows, tag=f"{CP}-{CP}-win_amd64")
    build_wheel(main, "winonly", files={"winonly/__init__.py": "", "winonly/big.dll": os.urandom(400_000)})
    build_wheel(main, "devtool", files={"devtool/__init__.py": "", "devtool/blob.bin": os.urandom(400_000)})
    sdist_bytes = _write_sdist(main)
    extra = tmp_path_factory.mktemp("extra-index")
    build_wheel(extra, "extra-lib", files=stdlib_modules("extra_lib", "json"))
    with serve_index(main) as main_index, serve_index(extra) as extra_index:
        yield Indexes(main_index, extra_index, main, sdist_bytes)


def _wheel_members_bytes(path: Path) -> int:
    """Independent of slugprof: the uncompressed bytes of every member of the wheel."""
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def _buildpack_parts(report: dict[str, Any]) -> set[str]:
    return {part["name"] for part in report["buildpack"]}


def _check_core_set(report: dict[str, Any], indexes: Indexes, manager: str) -> None:
    """web-lib (pulling helper-lib) and native, each measured from its wheel; nothing else."""
    dependencies = report["dependencies"]
    assert report["package_manager"] == manager
    assert dependencies["source"] == "resolved"
    assert dependencies["target"]["manager"] == manager
    assert (dependencies["target"]["stack"], dependencies["target"]["python"]) == ("heroku-24", PY)
    packages = packages_of(report)
    # not devtool (a dev dependency), not winonly (Windows only)
    assert {name: p["version"] for name, p in packages.items()} == {
        "helper-lib": "1.0",
        "native": "1.0",
        "web-lib": "1.0",
    }
    for package in packages.values():
        assert package["measured"] and package["size_method"] == MEASURED, package
    assert packages["helper-lib"]["requested_by"] == ["web-lib"]
    folder = indexes.main_folder
    for name, wheel in (
        ("web-lib", folder / "web_lib-1.0-py3-none-any.whl"),
        ("helper-lib", folder / "helper_lib-1.0-py3-none-any.whl"),
    ):
        members = _wheel_members_bytes(wheel)
        # installed: every member (less RECORD's rewrite) plus the compiled bytecode of its modules
        assert members <= packages[name]["bytes"] <= 2.5 * members, (name, packages[name], members)
        assert 0 < packages[name]["compressed_bytes"] < packages[name]["bytes"]
    # The Linux build (500 kB of extension) was sized, not the Windows one (900 kB): the only bytecode
    # is an empty __init__'s, the rest is the members plus a few small files the installer writes.
    native_members = _wheel_members_bytes(folder / NATIVE_LINUX)
    assert native_members <= packages["native"]["bytes"] <= native_members + 4_000, packages["native"]
    assert dependencies["bytes"] == sum(p["bytes"] for p in packages.values())


# --- uv.lock -----------------------------------------------------------------------------------------


def _uv_wheel(index: IndexServer, folder: Path, filename: str) -> str:
    path = folder / filename
    url = index.file_url(filename)
    return f'{{ url = "{url}", hash = "sha256:{sha256_of(path)}", size = {path.stat().st_size} }}'


def test_uv_lock_counts_the_projects_dependencies_for_the_dyno_only(tmp_path: Path, indexes: Indexes) -> None:
    index, folder = indexes.main, indexes.main_folder
    registry = f'{{ registry = "{index.url}" }}'

    def wheel(filename: str) -> str:
        return _uv_wheel(index, folder, filename)

    pyproject = """\
[project]
name = "myapp"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["web-lib>=1", "native==1.0", "winonly; sys_platform == 'win32'"]

[dependency-groups]
dev = ["devtool"]
"""
    lock = f"""\
version = 1
revision = 2
requires-python = ">=3.10"

[[package]]
name = "devtool"
version = "1.0"
source = {registry}
wheels = [
    {wheel("devtool-1.0-py3-none-any.whl")},
]

[[package]]
name = "helper-lib"
version = "1.0"
source = {registry}
wheels = [
    {wheel("helper_lib-1.0-py3-none-any.whl")},
]

[[package]]
name = "myapp"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "native" }},
    {{ name = "web-lib" }},
    {{ name = "winonly", marker = "sys_platform == 'win32'" }},
]

[package.dev-dependencies]
dev = [
    {{ name = "devtool" }},
]

[package.metadata]
requires-dist = [
    {{ name = "native", specifier = "==1.0" }},
    {{ name = "web-lib", specifier = ">=1" }},
    {{ name = "winonly", marker = "sys_platform == 'win32'" }},
]

[package.metadata.requires-dev]
dev = [{{ name = "devtool" }}]

[[package]]
name = "native"
version = "1.0"
source = {registry}
wheels = [
    {wheel(NATIVE_LINUX)},
    {wheel(NATIVE_WINDOWS)},
]

[[package]]
name = "web-lib"
version = "1.0"
source = {registry}
dependencies = [
    {{ name = "helper-lib" }},
]
wheels = [
    {wheel("web_lib-1.0-py3-none-any.whl")},
]

[[package]]
name = "winonly"
version = "1.0"
source = {registry}
wheels = [
    {wheel("winonly-1.0-py3-none-any.whl")},
]
"""
    app = write_app(tmp_path / "app", {"pyproject.toml": pyproject, "uv.lock": lock})
    index.reset_counts()

    report = report_of(analyze_resolved(app, tmp_path / "cache"))

    _check_core_set(report, indexes, "uv")
    assert report["dependencies"]["requirements_files"] == ["uv.lock", "pyproject.toml"]
    assert sorted(report["dependencies"]["requirements"]) == ["native", "web-lib"]
    # the lock names every URL: no index page was read, and only the dyno's files were fetched
    assert index.count("/simple/") == 0
    assert index.count("/files/devtool") == index.count("/files/winonly") == 0
    assert index.count(f"/files/{NATIVE_WINDOWS}") == 0
    assert index.count(f"/files/{NATIVE_LINUX}") >= 1
    # uv installs into the slug without leaving pip (or setuptools) behind
    parts = _buildpack_parts(report)
    assert "python" in parts
    assert not parts & {"pip", "setuptools", "pipenv"}


# --- poetry.lock ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock_version", ["2.1", "2.0"])
def test_poetry_lock_main_group_found_in_the_projects_source(
    tmp_path: Path, indexes: Indexes, lock_version: str
) -> None:
    index, folder = indexes.main, indexes.main_folder
    source = ("loopback", index.url)
    pyproject = f"""\
[tool.poetry]
name = "myapp"
version = "0.1.0"
package-mode = false

[tool.poetry.dependencies]
python = "^{PY}"
web-lib = {{ version = "^1.0", source = "loopback" }}
native = {{ version = "1.0", source = "loopback" }}
winonly = {{ version = "*", source = "loopback", markers = "sys_platform == 'win32'" }}

[tool.poetry.group.dev.dependencies]
devtool = {{ version = "*", source = "loopback" }}

[[tool.poetry.source]]
name = "loopback"
url = "{index.url}"
priority = "primary"
"""
    lock = poetry_lock(
        [
            poetry_package(
                "devtool", "1.0", [folder / "devtool-1.0-py3-none-any.whl"], groups=["dev"], source=source
            ),
            poetry_package("helper-lib", "1.0", [folder / "helper_lib-1.0-py3-none-any.whl"], source=source),
            poetry_package("native", "1.0", [folder / NATIVE_LINUX, folder / NATIVE_WINDOWS], source=source),
            poetry_package(
                "web-lib",
                "1.0",
                [folder / "web_lib-1.0-py3-none-any.whl"],
                dependencies={"helper-lib": ">=1"},
                source=source,
            ),
            poetry_package(
                "winonly",
                "1.0",
                [folder / "winonly-1.0-py3-none-any.whl"],
                markers='sys_platform == "win32"',
                source=source,
            ),
        ],
        python=f"^{PY}",
    )
    if lock_version == "2.0":  # Poetry 1.5-1.8: neither groups nor markers: walked from pyproject.toml
        lock = "\n".join(
            line for line in lock.splitlines() if not line.startswith(("groups = ", "markers = "))
        ).replace('lock-version = "2.1"', 'lock-version = "2.0"')
    app = write_app(tmp_path / "app", {"pyproject.toml": pyproject, "poetry.lock": lock})
    index.reset_counts()

    report = report_of(analyze_resolved(app, tmp_path / "cache"))

    _check_core_set(report, indexes, "poetry")
    assert sorted(report["dependencies"]["requirements"]) == ["native", "web-lib"]
    # poetry.lock names files, not URLs: each main-group package's page was read in the lock's source
    for project in ("web-lib", "helper-lib", "native"):
        assert index.count(f"/simple/{project}/") >= 1, index.counts
    assert index.count("/simple/devtool") == index.count("/simple/winonly") == 0
    assert index.count("/files/devtool") == index.count(f"/files/{NATIVE_WINDOWS}") == 0
    parts = _buildpack_parts(report)
    assert not parts & {"pip", "setuptools", "pipenv"}


# --- Pipfile.lock --------------------------------------------------------------------------------------


def test_pipfile_lock_default_section_from_its_meta_source(tmp_path: Path, indexes: Indexes) -> None:
    index, folder = indexes.main, indexes.main_folder

    def entry(version: str, *wheels: str, markers: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {
            "hashes": sorted(f"sha256:{sha256_of(folder / name)}" for name in wheels),
            "index": "loopback",
            "version": version,
        }
        if markers:
            found["markers"] = markers
        return found

    pipfile = f"""\
[[source]]
url = "{index.url}"
verify_ssl = false
name = "loopback"

[packages]
web-lib = "*"
native = "==1.0"
winonly = {{version = "*", sys_platform = "== 'win32'"}}

[dev-packages]
devtool = "*"

[requires]
python_version = "{PY}"
"""
    lock = {
        "_meta": {
            "hash": {"sha256": "0" * 64},
            "pipfile-spec": 6,
            "requires": {"python_version": PY},
            "sources": [{"name": "loopback", "url": index.url, "verify_ssl": False}],
        },
        "default": {
            "helper-lib": entry("==1.0", "helper_lib-1.0-py3-none-any.whl", markers="python_version >= '3'"),
            "native": entry("==1.0", NATIVE_LINUX, NATIVE_WINDOWS),
            "web-lib": entry("==1.0", "web_lib-1.0-py3-none-any.whl"),
            "winonly": entry("==1.0", "winonly-1.0-py3-none-any.whl", markers="sys_platform == 'win32'"),
        },
        "develop": {"devtool": entry("==1.0", "devtool-1.0-py3-none-any.whl")},
    }
    app = write_app(tmp_path / "app", {"Pipfile": pipfile, "Pipfile.lock": json.dumps(lock, indent=4) + "\n"})
    index.reset_counts()

    report = report_of(analyze_resolved(app, tmp_path / "cache"))

    # Pipfile.lock records no edges: helper-lib's parent comes from web-lib's metadata on the index
    _check_core_set(report, indexes, "pipenv")
    assert sorted(report["dependencies"]["requirements"]) == ["native", "web-lib"]
    assert index.count("/simple/devtool") == index.count("/simple/winonly") == 0
    assert index.count(f"/files/{NATIVE_WINDOWS}") == 0
    # the buildpack keeps Pipenv's virtualenv in the slug
    parts = _buildpack_parts(report)
    assert "pipenv" in parts
    assert not parts & {"pip", "setuptools"}


# --- requirements.txt with PIP_EXTRA_INDEX_URL from .env --------------------------------------------------


def test_an_extra_index_from_dotenv_is_searched_as_the_buildpack_passes_it(
    tmp_path: Path, indexes: Indexes
) -> None:
    main, extra = indexes.main, indexes.extra
    requirements = f"--index-url {main.url}\nweb-lib==1.0\nextra-lib==1.0\n"
    without = write_app(tmp_path / "without", {"requirements.txt": requirements})
    failed = analyze_resolved(without, tmp_path / "cache")
    # the main index alone has no extra-lib: the control case fails, naming it
    assert failed.returncode == 3, failed.stderr
    assert "extra-lib" in failed.stderr

    app = write_app(
        tmp_path / "app",
        {"requirements.txt": requirements, ".env": f"PIP_EXTRA_INDEX_URL={extra.url}\n"},
    )
    main.reset_counts()
    extra.reset_counts()

    report = report_of(analyze_resolved(app, tmp_path / "cache"))

    packages = packages_of(report)
    assert report["dependencies"]["target"]["manager"] == "pip"
    assert {name: p["version"] for name, p in packages.items()} == {
        "extra-lib": "1.0",
        "helper-lib": "1.0",
        "web-lib": "1.0",
    }
    extra_lib = packages["extra-lib"]
    assert extra_lib["measured"] and extra_lib["size_method"] == MEASURED
    members = _wheel_members_bytes(extra.folder / "extra_lib-1.0-py3-none-any.whl")
    assert members <= extra_lib["bytes"] <= 2.5 * members
    # its wheel was read from the second index; the first has no such project
    assert extra.count("/files/extra_lib-1.0-py3-none-any.whl") >= 1
    assert main.count("/files/extra_lib") == 0
    assert extra.count("/files/web_lib") == 0
    # pip on Python 3.10-3.12 leaves pip and setuptools in the slug; 3.13+ pip only
    parts = _buildpack_parts(report)
    assert "pip" in parts
    assert ("setuptools" in parts) == (PY in ("3.10", "3.11", "3.12"))


# --- an sdist-only package -----------------------------------------------------------------------------


def test_an_sdist_is_estimated_and_marked_so_unless_built(tmp_path: Path, indexes: Indexes) -> None:
    app = write_app(
        tmp_path / "app", {"requirements.txt": f"--index-url {indexes.main.url}\nplain-sdist==1.0\n"}
    )

    estimated = packages_of(report_of(analyze_resolved(app, tmp_path / "cache")))

    assert set(estimated) == {"plain-sdist"}
    sdist = estimated["plain-sdist"]
    assert sdist["version"] == "1.0"
    assert not sdist["measured"]
    assert sdist["size_method"] == "estimated from sdist", sdist
    sdist_size = (indexes.main_folder / "plain_sdist-1.0.tar.gz").stat().st_size
    assert sdist["bytes"] > sdist_size and sdist["compressed_bytes"] > 0

    # Built by pip from the sdist (its backend needs nothing from an index: PIP_NO_INDEX proves it).
    result = analyze_resolved(
        app, tmp_path / "cache", "--build-sdists", PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull
    )
    built = packages_of(report_of(result))["plain-sdist"]

    assert built["measured"] and built["size_method"] == "built sdist", built
    # the package's modules, their bytecode and the dist-info: at least the modules themselves
    assert indexes.sdist_package_bytes <= built["bytes"] <= 2.5 * indexes.sdist_package_bytes


# --- the buildpack's build errors ---------------------------------------------------------------------------


def test_requirements_txt_and_uv_lock_together_fail_the_build_and_are_not_resolved(
    tmp_path: Path, indexes: Indexes
) -> None:
    lock = 'version = 1\nrevision = 2\n\n[[package]]\nname = "myapp"\nversion = "0.1.0"\n'
    lock += 'source = { virtual = "." }\n'
    app = write_app(
        tmp_path / "app",
        {
            "requirements.txt": f"--index-url {indexes.main.url}\nweb-lib==1.0\n",
            "pyproject.toml": '[project]\nname = "myapp"\nversion = "0.1.0"\n',
            "uv.lock": lock,
        },
    )
    indexes.main.reset_counts()

    report = report_of(analyze_resolved(app, tmp_path / "cache"))

    assert [entry["id"] for entry in report["build"]["errors"]] == ["BUILD121"], report["build"]
    assert "(requirements.txt, uv.lock)" in report["build"]["errors"][0]["message"]
    dependencies = report["dependencies"]
    assert dependencies["source"] == "none" and dependencies["packages"] == []
    assert any("not resolved" in note and "build would fail" in note for note in dependencies["notes"]), (
        dependencies
    )
    assert indexes.main.count() == 0  # nothing was resolved


def test_a_pipfile_without_its_lock_fails_the_build(tmp_path: Path, indexes: Indexes) -> None:
    pipfile = f'[[source]]\nurl = "{indexes.main.url}"\nname = "loopback"\n\n[packages]\nweb-lib = "*"\n'
    app = write_app(tmp_path / "app", {"Pipfile": pipfile})
    indexes.main.reset_counts()

    report = report_of(analyze_resolved(app, tmp_path / "cache"))

    assert [entry["id"] for entry in report["build"]["errors"]] == ["BUILD122"], report["build"]
    dependencies = report["dependencies"]
    assert dependencies["source"] == "none" and dependencies["packages"] == []
    assert any("build would fail" in note for note in dependencies["notes"]), dependencies
    assert indexes.main.count() == 0
