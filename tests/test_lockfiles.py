"""Lock files read as the buildpack installs them: main groups only, markers for the dyno, wheel choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from filetree import write_files

from slugprof.errors import UsageError
from slugprof.sources.locks import (
    LockedFile,
    LockedPackage,
    LockedSet,
    read_pipfile_lock,
    read_poetry_lock,
    read_uv_lock,
)
from slugprof.sources.target import make_target

HEROKU_24 = make_target("heroku-24", "amd64", "3.13", "uv")
FILES = "https://files.example/packages"


def _file(filename: str, digest: str, size: int) -> str:
    """One file of a uv.lock package: an inline table with its URL, hash and size."""
    return f'{{ url = "{FILES}/{filename}", hash = "sha256:{digest}", size = {size} }}'


# A uv.lock as uv 0.5+ writes it (revision 2: wheel sizes from the index), trimmed to a few packages.
UV_LOCK = f"""\
version = 1
revision = 2
requires-python = ">=3.11"
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version < '3.12'",
]

[[package]]
name = "certifi"
version = "2024.8.30"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "{FILES}/certifi-2024.8.30.tar.gz", hash = "sha256:aa01", size = 168507 }}
wheels = [
    {{ url = "{FILES}/certifi-2024.8.30-py3-none-any.whl", hash = "sha256:aa02", size = 167321 }},
]

[[package]]
name = "colorama"
version = "0.4.6"
source = {{ registry = "https://pypi.org/simple" }}
wheels = [
    {{ url = "{FILES}/colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:aa03", size = 25335 }},
]

[[package]]
name = "iniconfig"
version = "2.0.0"
source = {{ registry = "https://pypi.org/simple" }}
wheels = [
    {{ url = "{FILES}/iniconfig-2.0.0-py3-none-any.whl", hash = "sha256:aa04", size = 5892 }},
]

[[package]]
name = "myapp"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
    {{ name = "numpy", version = "1.26.4", marker = "python_full_version < '3.12'" }},
    {{ name = "numpy", version = "2.1.0", marker = "python_full_version >= '3.12'" }},
    {{ name = "requests", extra = ["socks"] }},
]

[package.optional-dependencies]
pg = [
    {{ name = "psycopg2-binary" }},
]

[package.dev-dependencies]
dev = [
    {{ name = "pytest" }},
]

[package.metadata]
requires-dist = [
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
    {{ name = "numpy", marker = "python_full_version < '3.12'", specifier = "<2" }},
    {{ name = "numpy", marker = "python_full_version >= '3.12'", specifier = ">=2" }},
    {{ name = "psycopg2-binary", marker = "extra == 'pg'" }},
    {{ name = "requests", extras = ["socks"] }},
]

[package.metadata.requires-dev]
dev = [{{ name = "pytest" }}]

[[package]]
name = "numpy"
version = "1.26.4"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = [
    "python_full_version < '3.12'",
]
sdist = {{ url = "{FILES}/numpy-1.26.4.tar.gz", hash = "sha256:bb01", size = 15786129 }}
wheels = [
    {_file("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "bb02", 18297374)},
    {_file("numpy-1.26.4-cp311-cp311-win_amd64.whl", "bb03", 15794000)},
]

[[package]]
name = "numpy"
version = "2.1.0"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = [
    "python_full_version >= '3.12'",
]
sdist = {{ url = "{FILES}/numpy-2.1.0.tar.gz", hash = "sha256:cc01", size = 18868922 }}
wheels = [
    {_file("numpy-2.1.0-cp313-cp313-macosx_14_0_arm64.whl", "cc02", 5287000)},
    {_file("numpy-2.1.0-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "cc03", 13900000)},
    {_file("numpy-2.1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cc04", 16031000)},
    {_file("numpy-2.1.0-cp313-cp313-manylinux_2_40_x86_64.whl", "cc05", 15000000)},
    {_file("numpy-2.1.0-cp313-cp313-musllinux_1_2_x86_64.whl", "cc06", 17000000)},
    {_file("numpy-2.1.0-cp313-cp313-win_amd64.whl", "cc07", 12600000)},
]

[[package]]
name = "psycopg2-binary"
version = "2.9.9"
source = {{ registry = "https://pypi.org/simple" }}
wheels = [
    {_file("psycopg2_binary-2.9.9-cp313-cp313-manylinux_2_17_x86_64.whl", "dd01", 3000000)},
]

[[package]]
name = "pysocks"
version = "1.7.1"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "{FILES}/PySocks-1.7.1.tar.gz", hash = "sha256:ee01", size = 284872 }}

[[package]]
name = "pytest"
version = "8.3.3"
source = {{ registry = "https://pypi.org/simple" }}
dependencies = [
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
    {{ name = "iniconfig" }},
]
wheels = [
    {{ url = "{FILES}/pytest-8.3.3-py3-none-any.whl", hash = "sha256:ff01", size = 342341 }},
]

[[package]]
name = "requests"
version = "2.32.3"
source = {{ registry = "https://pypi.org/simple" }}
dependencies = [
    {{ name = "certifi" }},
]
wheels = [
    {{ url = "{FILES}/requests-2.32.3-py3-none-any.whl", hash = "sha256:ab01", size = 64928 }},
]

[package.optional-dependencies]
socks = [
    {{ name = "pysocks" }},
]
"""


def by_name(locked: LockedSet) -> dict[str, LockedPackage]:
    return {package.name: package for package in locked.packages}


def chosen(package: LockedPackage) -> LockedFile:
    assert package.chosen is not None, package
    return package.chosen


# --- uv.lock -------------------------------------------------------------------------------------


def test_uv_lock_installs_the_projects_dependencies_for_the_dyno(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"uv.lock": UV_LOCK, "pyproject.toml": '[project]\nname = "myapp"\nversion = "0.1.0"\n'}
    )
    locked = read_uv_lock(tmp_path, HEROKU_24)
    packages = by_name(locked)
    # no dev group (pytest, iniconfig), no extra of the project (psycopg2-binary), no Windows-only colorama
    assert sorted(packages) == ["certifi", "numpy", "pysocks", "requests"]
    assert locked.top_level == ("numpy", "requests")
    assert packages["requests"].requires == ("certifi", "pysocks")  # requests[socks]
    numpy = packages["numpy"]
    assert numpy.version == "2.1.0"  # the fork for Python >= 3.12
    # manylinux_2_40 is beyond heroku-24's glibc 2.39; musllinux never installs
    assert chosen(numpy).filename == "numpy-2.1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert chosen(numpy).url == f"{FILES}/{chosen(numpy).filename}"
    assert (chosen(numpy).size, chosen(numpy).sha256) == (16031000, "cc04")
    pysocks = packages["pysocks"].chosen
    assert pysocks is not None and (pysocks.kind, pysocks.filename) == ("sdist", "PySocks-1.7.1.tar.gz")
    assert locked.edges_known and locked.files_read == ("uv.lock", "pyproject.toml")


def test_uv_lock_follows_the_targets_python_and_arch(tmp_path: Path) -> None:
    write_files(tmp_path, {"uv.lock": UV_LOCK})
    old = by_name(read_uv_lock(tmp_path, make_target("heroku-22", "amd64", "3.11", "uv")))["numpy"]
    assert old.version == "1.26.4"
    arm = by_name(read_uv_lock(tmp_path, make_target("heroku-24", "arm64", "3.13", "uv")))["numpy"]
    assert chosen(arm).filename.endswith("manylinux_2_17_aarch64.manylinux2014_aarch64.whl")
    newer = make_target("heroku-26", "amd64", "3.13", "uv", glibc_overrides={"heroku-26": "2.41"})
    best = chosen(by_name(read_uv_lock(tmp_path, newer))["numpy"])
    assert best.filename == "numpy-2.1.0-cp313-cp313-manylinux_2_40_x86_64.whl"


def test_uv_lock_local_sources(tmp_path: Path) -> None:
    lock = """\
version = 1
revision = 2
requires-python = ">=3.12"

[[package]]
name = "app"
version = "1.0"
source = { editable = "." }
dependencies = [{ name = "vendored" }, { name = "helpers" }, { name = "fromgit" }]

[[package]]
name = "fromgit"
version = "0.3"
source = { git = "https://git.example/fromgit.git?rev=main#0123abcd" }

[[package]]
name = "helpers"
version = "0.1"
source = { editable = "libs/helpers" }

[[package]]
name = "vendored"
version = "0.5"
source = { path = "vendor/vendored-0.5-py3-none-any.whl" }
wheels = [{ filename = "vendored-0.5-py3-none-any.whl", hash = "sha256:0a0a" }]
"""
    write_files(tmp_path, {"uv.lock": lock})
    locked = read_uv_lock(tmp_path, HEROKU_24)
    packages = by_name(locked)
    vendored = chosen(packages["vendored"])
    assert vendored.url == (tmp_path / "vendor/vendored-0.5-py3-none-any.whl").resolve().as_uri()
    assert packages["helpers"].chosen is None
    assert "counted with the app" in str(packages["helpers"].note)
    assert str(chosen(packages["fromgit"]).url).startswith("https://git.example/fromgit.git")
    assert any("editable" in note for note in locked.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 1\n[[package]\n", "uv.lock: not valid TOML"),
        ('[[package]]\nname = "a"\nversion = "1"\n', "uv.lock: no lock format `version`"),
        ('version = 1\n[[package]]\nversion = "1"\n', "uv.lock: package #1: name must be"),
        (
            'version = 1\n[[package]]\nname = "a"\nsource = { registry = "x" }\n',
            "uv.lock: package a: no version",
        ),
        ('version = 1\n[[package]]\nname = "a"\nversion = "1"\n', "uv.lock: no package for the project"),
        (
            'version = 1\n[[package]]\nname = "a"\nversion = "1"\nsource = { virtual = "." }\n'
            'dependencies = [{ name = "gone" }]\n',
            "uv.lock: package a depends on gone, which the lock does not list",
        ),
        (
            'version = 1\n[[package]]\nname = "a"\nversion = "1"\nsource = { virtual = "." }\n'
            'dependencies = [{ name = "b", marker = "python_version >< \'3\'" }]\n',
            "uv.lock: package a: invalid marker",
        ),
    ],
)
def test_uv_lock_garbage_is_a_one_line_usage_error(tmp_path: Path, text: str, message: str) -> None:
    write_files(tmp_path, {"uv.lock": text})
    with pytest.raises(UsageError, match=message) as caught:
        read_uv_lock(tmp_path, HEROKU_24)
    assert "\n" not in str(caught.value)


# --- poetry.lock ---------------------------------------------------------------------------------

POETRY_PYPROJECT = """\
[tool.poetry]
name = "myapp"
version = "0.1.0"
package-mode = false

[tool.poetry.dependencies]
python = "^3.11"
requests = "^2.32"
numpy = "^2.1"
colorama = { version = "*", markers = "sys_platform == 'win32'" }
private-lib = { version = "^1.0", source = "private" }

[tool.poetry.group.dev.dependencies]
pytest = "^8"

[[tool.poetry.source]]
name = "private"
url = "https://private.example/simple"
priority = "explicit"
"""

POETRY_LOCK_2_1 = """\
# This file is automatically @generated by Poetry 2.1.1 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.8.30"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
groups = ["main"]
files = [
    {file = "certifi-2024.8.30-py3-none-any.whl", hash = "sha256:aa02"},
    {file = "certifi-2024.8.30.tar.gz", hash = "sha256:aa01"},
]

[[package]]
name = "colorama"
version = "0.4.6"
description = "Cross-platform colored terminal text."
optional = false
python-versions = "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*,!=3.6.*,>=2.7"
groups = ["main", "dev"]
markers = {main = "sys_platform == \\"win32\\"", dev = "sys_platform == \\"win32\\""}
files = [
    {file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:aa03"},
]

[[package]]
name = "iniconfig"
version = "2.0.0"
description = "brain-dead simple config-ini parsing"
optional = false
python-versions = ">=3.7"
groups = ["dev"]
files = [
    {file = "iniconfig-2.0.0-py3-none-any.whl", hash = "sha256:aa04"},
]

[[package]]
name = "numpy"
version = "2.1.0"
description = "Fundamental package for array computing in Python"
optional = false
python-versions = ">=3.10"
groups = ["main"]
files = [
    {file = "numpy-2.1.0-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", hash = "sha256:cc03"},
    {file = "numpy-2.1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hash = "sha256:cc04"},
    {file = "numpy-2.1.0-cp313-cp313-manylinux_2_40_x86_64.whl", hash = "sha256:cc05"},
    {file = "numpy-2.1.0-cp313-cp313-musllinux_1_2_x86_64.whl", hash = "sha256:cc06"},
    {file = "numpy-2.1.0-cp313-cp313-win_amd64.whl", hash = "sha256:cc07"},
    {file = "numpy-2.1.0.tar.gz", hash = "sha256:cc01"},
]

[[package]]
name = "private-lib"
version = "1.0.2"
description = ""
optional = false
python-versions = ">=3.8"
groups = ["main"]
files = [
    {file = "private_lib-1.0.2-py3-none-any.whl", hash = "sha256:pp01"},
]

[package.source]
type = "legacy"
url = "https://private.example/simple"
reference = "private"

[[package]]
name = "pysocks"
version = "1.7.1"
description = "A Python SOCKS client module."
optional = true
python-versions = ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*"
groups = ["main"]
markers = "extra == \\"socks\\""
files = [
    {file = "PySocks-1.7.1.tar.gz", hash = "sha256:ee01"},
]

[[package]]
name = "pytest"
version = "8.3.3"
description = "pytest: simple powerful testing with Python"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = [
    {file = "pytest-8.3.3-py3-none-any.whl", hash = "sha256:ff01"},
]

[package.dependencies]
colorama = {version = "*", markers = "sys_platform == \\"win32\\""}
iniconfig = "*"

[[package]]
name = "requests"
version = "2.32.3"
description = "Python HTTP for Humans."
optional = false
python-versions = ">=3.8"
groups = ["main"]
files = [
    {file = "requests-2.32.3-py3-none-any.whl", hash = "sha256:ab01"},
]

[package.dependencies]
certifi = ">=2017.4.17"
PySocks = {version = ">=1.5.6,<1.5.7 || >1.5.7", optional = true, markers = "extra == \\"socks\\""}

[package.extras]
socks = ["PySocks (>=1.5.6,!=1.5.7)"]

[[package]]
name = "tomli"
version = "2.0.1"
description = "A lil' TOML parser"
optional = false
python-versions = ">=3.7"
groups = ["main"]
markers = "python_version < \\"3.11\\""
files = [
    {file = "tomli-2.0.1-py3-none-any.whl", hash = "sha256:tt01"},
]

[metadata]
lock-version = "2.1"
python-versions = "^3.11"
content-hash = "2f4c1c4b0e3e0e6b0d6b0f1b2c9b5c0e2b9a3c2e1f0d9c8b7a6f5e4d3c2b1a09"
"""


def test_poetry_lock_main_group_for_the_dyno(tmp_path: Path) -> None:
    write_files(tmp_path, {"poetry.lock": POETRY_LOCK_2_1, "pyproject.toml": POETRY_PYPROJECT})
    locked = read_poetry_lock(tmp_path, make_target("heroku-24", "amd64", "3.13", "poetry"))
    packages = by_name(locked)
    # not: dev group (pytest, iniconfig), colorama (win32 only), pysocks (an extra), tomli (< 3.11)
    assert sorted(packages) == ["certifi", "numpy", "private-lib", "requests"]
    assert locked.top_level == ("numpy", "private-lib", "requests")
    assert packages["requests"].requires == ("certifi",)
    numpy = packages["numpy"]
    assert chosen(numpy).filename == (
        "numpy-2.1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert chosen(numpy).url is None  # poetry.lock has no URLs: the index has
    assert chosen(numpy).sha256 == "cc04"
    assert numpy.index_url is None  # the default index
    assert packages["private-lib"].index_url == "https://private.example/simple"


def test_poetry_lock_without_groups_walks_from_pyproject(tmp_path: Path) -> None:
    # lock-version 2.0 (Poetry 1.5-1.8) records neither groups nor resulting markers
    old = "\n".join(
        line for line in POETRY_LOCK_2_1.splitlines() if not line.startswith(("groups = ", "markers = "))
    ).replace('lock-version = "2.1"', 'lock-version = "2.0"')
    write_files(tmp_path, {"poetry.lock": old, "pyproject.toml": POETRY_PYPROJECT})
    locked = read_poetry_lock(tmp_path, make_target("heroku-24", "arm64", "3.13", "poetry"))
    packages = by_name(locked)
    assert sorted(packages) == ["certifi", "numpy", "private-lib", "requests"]
    assert chosen(packages["numpy"]).filename.endswith("_aarch64.whl")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[package]]\nname = 'a'\n", "poetry.lock: no \\[metadata\\] table"),
        ("[[package]]\nname = 'a'\n[metadata]\n", "poetry.lock: package a: version must be"),
        ("package = 3\n[metadata]\n", "poetry.lock: \\[\\[package\\]\\] must be an array"),
        ("[metadata\n", "poetry.lock: not valid TOML"),
    ],
)
def test_poetry_lock_garbage(tmp_path: Path, text: str, message: str) -> None:
    write_files(tmp_path, {"poetry.lock": text})
    with pytest.raises(UsageError, match=message):
        read_poetry_lock(tmp_path, HEROKU_24)


# --- Pipfile.lock --------------------------------------------------------------------------------

PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
requests = "*"
pywin32 = {version = "*", sys_platform = "== 'win32'"}
private-lib = {version = "*", index = "private"}
mylib = {git = "https://git.example/mylib.git", ref = "abc123"}

[dev-packages]
pytest = "*"
"""

PIPFILE_LOCK = {
    "_meta": {
        "hash": {"sha256": "0f1e"},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.12"},
        "sources": [
            {"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True},
            {"name": "private", "url": "https://${PRIVATE_TOKEN}@private.example/simple", "verify_ssl": True},
        ],
    },
    "default": {
        "certifi": {
            "hashes": ["sha256:aa01", "sha256:aa02"],
            "index": "pypi",
            "markers": "python_version >= '3.6'",
            "version": "==2024.8.30",
        },
        "mylib": {"git": "https://git.example/mylib.git", "ref": "abc123"},
        "private-lib": {"hashes": ["sha256:pp01"], "index": "private", "version": "==1.0.2"},
        "pywin32": {"hashes": ["sha256:ww01"], "markers": "sys_platform == 'win32'", "version": "==306"},
        "requests": {
            "extras": ["socks"],
            "hashes": ["sha256:ab01"],
            "index": "pypi",
            "markers": "python_version >= '3.8'",
            "version": "==2.32.3",
        },
    },
    "develop": {"pytest": {"hashes": ["sha256:ff01"], "index": "pypi", "version": "==8.3.3"}},
}


def test_pipfile_lock_default_section_for_the_dyno(tmp_path: Path) -> None:
    write_files(tmp_path, {"Pipfile.lock": json.dumps(PIPFILE_LOCK), "Pipfile": PIPFILE})
    locked = read_pipfile_lock(
        tmp_path, make_target("heroku-24", "amd64", "3.12", "pipenv"), environ={"PRIVATE_TOKEN": "t0k"}
    )
    packages = by_name(locked)
    assert sorted(packages) == ["certifi", "mylib", "private-lib", "requests"]  # no pywin32, no pytest
    assert locked.top_level == ("mylib", "private-lib", "requests")
    assert not locked.edges_known
    certifi = packages["certifi"]
    assert certifi.version == "2024.8.30"
    assert certifi.hashes == ("aa01", "aa02")
    assert certifi.index_url == "https://pypi.org/simple"
    assert packages["private-lib"].index_url == "https://t0k@private.example/simple"
    assert packages["requests"].extras == ("socks",)
    assert chosen(packages["mylib"]).url == "git+https://git.example/mylib.git@abc123"
    assert locked.files_read == ("Pipfile.lock", "Pipfile")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "Pipfile.lock: not valid JSON"),
        ("[]", "Pipfile.lock: the document must be a table"),
        ('{"_meta": {}}', 'Pipfile.lock: no "default" section'),
        ('{"default": {"a": {"version": ">=1"}}}', "Pipfile.lock: package a: version '>=1' is not pinned"),
        ('{"default": {"a": {"hashes": []}}}', "Pipfile.lock: package a: version must be"),
        ('{"default": {"a": {"version": "==1", "index": "nope"}}}', "index 'nope' is not in _meta.sources"),
        (
            '{"_meta": {"sources": [{"name": "p", "url": "https://${UNSET_VARIABLE_X}@x/simple"}]}, '
            '"default": {}}',
            "UNSET_VARIABLE_X",
        ),
    ],
)
def test_pipfile_lock_garbage(tmp_path: Path, text: str, message: str) -> None:
    write_files(tmp_path, {"Pipfile.lock": text})
    with pytest.raises(UsageError, match=message) as caught:
        read_pipfile_lock(tmp_path, HEROKU_24, environ={})
    assert "\n" not in str(caught.value)
