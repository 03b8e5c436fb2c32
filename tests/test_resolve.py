"""Resolving for the dyno with the real uv, offline: wheels built here, in a flat folder or a PEP 503 tree."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from filetree import write_files
from indexserver import serve_index
from locktext import poetry_lock, poetry_package, sha256_of
from wheelfactory import build_wheel

import slugprof
import slugprof.resolve as resolve_module
from slugprof.errors import EXIT_FAILURE, ToolFailure, UsageError
from slugprof.model import Resolution, ResolvedFile, ResolvedPackage, Target
from slugprof.net import ATTEMPTS, Client
from slugprof.resolve import find_uv, resolve
from slugprof.resolve.index import parse_simple_page
from slugprof.resolve.locked import LOCK_READER_VERSION
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.buildpack import choose_package_manager
from slugprof.sources.target import make_target

HEROKU_24 = make_target("heroku-24", "amd64", "3.13", "pip")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flat folder of wheels, as `-f` / `--find-links` reads it."""
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(
        folder,
        "app-dep",
        "1.0",
        requires=['colorama; sys_platform == "win32"', 'tomli; python_version < "3.12"', "fast"],
        extras={"extra1": ["plugin"]},
    )
    for tag in (
        "cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64",
        "cp313-cp313-musllinux_1_2_x86_64",
        "cp313-cp313-win_amd64",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    ):
        build_wheel(folder, "fast", "1.0", tag=tag)
    build_wheel(folder, "winonly", "1.0", tag="cp313-cp313-win_amd64")
    build_wheel(folder, "newglibc", "2.0", tag="cp313-cp313-manylinux_2_40_x86_64")
    build_wheel(folder, "newglibc", "1.0", tag="cp313-cp313-manylinux_2_28_x86_64")
    build_wheel(folder, "colorama", "0.4.6")
    build_wheel(folder, "tomli", "2.0.1")
    build_wheel(folder, "plugin", "1.0")
    build_wheel(folder, "plugin", "2.0")
    return folder


def make_app(root: Path, wheels: Path, requirements: str, **files: str) -> Path:
    """An app whose requirements.txt reads only the local wheel folder (no index: no network)."""
    header = f"--no-index\n--find-links {os.path.relpath(wheels, root)}\n"
    others = {name.replace("__", "."): text for name, text in files.items()}
    return write_files(root, {"requirements.txt": header + requirements, **others})


def run(app: Path, target: Target = HEROKU_24, **options: object) -> Resolution:
    arguments: dict[str, object] = {
        "environ": dict(os.environ),
        "dotenv": {},
        "cache_dir": None,
        "offline": False,
    }
    arguments.update(options)
    manager = choose_package_manager(BuildFiles.of(app, collect_app_files(app)))
    return resolve(app, target, manager, **arguments)  # type: ignore[arg-type]


def packages(resolution: Resolution) -> dict[str, ResolvedPackage]:
    return {package.name: package for package in resolution.packages}


def file_of(package: ResolvedPackage) -> ResolvedFile:
    assert package.file is not None, package
    return package.file


@pytest.fixture(autouse=True)
def _needs_uv() -> None:
    if find_uv() is None:
        pytest.fail("uv is a dependency of slugprof: install the project (pip install -e .)")


# --- requirements.txt with uv --------------------------------------------------------------------


def test_markers_extras_and_edges_for_the_dyno(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "app-dep[extra1]\n")
    resolution = run(app)
    found = packages(resolution)
    # colorama is for win32 only; tomli for Python < 3.12 only; plugin comes with the extra
    assert sorted(found) == ["app-dep", "fast", "plugin"]
    assert resolution.resolver.startswith("uv ")
    assert resolution.top_level == ("app-dep",)
    assert resolution.manager_files == ("requirements.txt",)
    assert found["app-dep"].top_level and found["app-dep"].requested_by == ("requirements.txt",)
    assert found["app-dep"].requires == ("fast", "plugin")
    assert found["fast"].requested_by == ("app-dep",) and not found["fast"].top_level
    fast = file_of(found["fast"])
    assert fast.filename == "fast-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert fast.kind == "wheel" and fast.url.startswith("file://") and fast.sha256
    assert fast.size == (wheels / fast.filename).stat().st_size
    assert not resolution.from_cache

    older = run(app, make_target("heroku-24", "amd64", "3.11", "pip"))
    assert sorted(packages(older)) == ["app-dep", "fast", "plugin", "tomli"]
    assert file_of(packages(older)["fast"]).filename.startswith("fast-1.0-cp311-cp311-manylinux")


def test_arm64_picks_aarch64_wheels(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "fast\n")
    arm = run(app, make_target("heroku-24", "arm64", "3.13", "pip"))
    assert file_of(packages(arm)["fast"]).filename.endswith("manylinux2014_aarch64.whl")


def test_manylinux_above_the_stacks_glibc_is_not_picked(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "newglibc\n")
    on_24 = packages(run(app))["newglibc"]
    assert on_24.version == "1.0"  # 2.0 ships manylinux_2_40 only: heroku-24 has glibc 2.39
    assert file_of(on_24).filename.endswith("manylinux_2_28_x86_64.whl")
    newer = make_target("heroku-26", "amd64", "3.13", "pip", glibc_overrides={"heroku-26": "2.41"})
    on_26 = run(app, newer)
    assert packages(on_26)["newglibc"].version == "2.0"
    assert any("uv knows manylinux tags up to manylinux_2_40" in note for note in on_26.notes)


def test_a_wheel_for_another_platform_only_cannot_be_resolved(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "winonly\n")
    with pytest.raises(ToolFailure) as caught:
        run(app)
    message = str(caught.value)
    line = (app / "requirements.txt").read_text().splitlines().index("winonly") + 1  # after the header
    assert caught.value.exit_code == EXIT_FAILURE == 3
    assert message.startswith(
        f"cannot resolve winonly (requirements.txt:{line}) for heroku-24/amd64, Python 3.13: "
    )
    assert "win_amd64" in message  # uv's own reason: wheels only for that platform
    assert "\n" not in message


def test_an_unknown_requirement_cannot_be_resolved(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "fast\nno-such-package==1.0\n")
    with pytest.raises(ToolFailure, match=r"cannot resolve no-such-package") as caught:
        run(app)
    assert "\n" not in str(caught.value)


def test_includes_constraints_and_direct_files(tmp_path: Path, wheels: Path) -> None:
    vendored = build_wheel(tmp_path / "app" / "vendor", "localthing", "0.5", requires=["plugin"])
    app = make_app(
        tmp_path / "app",
        wheels,
        "-r more.txt\n-c constraints.txt\n./vendor/localthing-0.5-py3-none-any.whl\n",
        more__txt="fast ; python_version >= '3.12'\n",
        constraints__txt="plugin==1.0\n",
    )
    resolution = run(app)
    found = packages(resolution)
    assert sorted(found) == ["fast", "localthing", "plugin"]
    assert resolution.manager_files == ("requirements.txt", "more.txt", "constraints.txt")
    assert found["fast"].top_level and found["fast"].requested_by == ("more.txt",)
    assert found["plugin"].version == "1.0" and not found["plugin"].top_level  # constrained, not requested
    assert found["plugin"].requested_by == ("localthing",)
    local = file_of(found["localthing"])
    assert local.url == vendored.resolve().as_uri() and local.size == vendored.stat().st_size
    assert resolution.top_level == ("fast", "localthing")


def test_cached_until_a_requirement_changes(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "-r more.txt\n", more__txt="plugin\n")
    cache = tmp_path / "cache"
    first = run(app, cache_dir=cache)
    assert not first.from_cache and packages(first)["plugin"].version == "2.0"
    assert list((cache / "resolve-v1").glob("*.json"))
    assert (cache / "uv").is_dir()  # uv's own cache, for a fast warm run
    again = run(app, cache_dir=cache)
    assert again.from_cache and again.packages == first.packages and again.notes == first.notes
    (app / "more.txt").write_text("plugin<2\n")  # an included file changed: resolve again
    changed = run(app, cache_dir=cache)
    assert not changed.from_cache and packages(changed)["plugin"].version == "1.0"
    other = run(app, make_target("heroku-24", "arm64", "3.13", "pip"), cache_dir=cache)
    assert not other.from_cache and other.target.arch == "arm64"
    offline = run(app, cache_dir=cache, offline=True)
    assert offline.from_cache


def test_a_broken_cache_entry_resolves_again(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "plugin\n")
    cache = tmp_path / "cache"
    run(app, cache_dir=cache)
    entries = list((cache / "resolve-v1").glob("*.json"))
    assert entries  # else there is nothing to break
    for entry in entries:
        entry.write_text("{not json")
    again = run(app, cache_dir=cache)
    assert not again.from_cache and packages(again)["plugin"].version == "2.0"
    assert run(app, cache_dir=cache).from_cache  # the broken entry was written anew


def write_simple_index(root: Path, wheel_paths: list[Path], *, metadata: bool = False) -> str:
    """A PEP 503 tree on disk (`<root>/simple/<name>/index.html`), as pip, uv and slugprof read it."""
    by_project: dict[str, list[Path]] = {}
    for path in wheel_paths:
        by_project.setdefault(path.name.split("-")[0].replace("_", "-").lower(), []).append(path)
    for project, paths in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        anchors = []
        for path in paths:
            digest = sha256_of(path)
            attribute = ""
            if metadata:
                with zipfile.ZipFile(path) as archive:
                    name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
                    data = archive.read(name)
                path.with_name(path.name + ".metadata").write_bytes(data)
                attribute = f' data-core-metadata="sha256={hashlib.sha256(data).hexdigest()}"'
            href = os.path.relpath(path, page)
            anchors.append(f'<a href="{href}#sha256={digest}"{attribute}>{path.name}</a><br/>')
        (page / "index.html").write_text("<html><body>\n" + "\n".join(anchors) + "\n</body></html>\n")
    (root / "simple").mkdir(parents=True, exist_ok=True)
    return (root / "simple").as_uri()


def test_pip_extra_index_url_from_dotenv(tmp_path: Path) -> None:
    extra = write_simple_index(tmp_path / "extra", [build_wheel(tmp_path / "files", "extrapkg", "3.0")])
    empty = write_simple_index(tmp_path / "empty", [])
    app = write_files(tmp_path / "app", {"requirements.txt": f"--index-url {empty}\nextrapkg\n"})
    with pytest.raises(ToolFailure, match="extrapkg"):
        run(app)
    found = packages(run(app, dotenv={"PIP_EXTRA_INDEX_URL": extra}))
    assert file_of(found["extrapkg"]).filename == "extrapkg-3.0-py3-none-any.whl"


def test_index_url_replaces_the_default_index(tmp_path: Path) -> None:
    mirror = write_simple_index(tmp_path / "mirror", [build_wheel(tmp_path / "files", "mirrored", "1.1")])
    app = write_files(tmp_path / "app", {"requirements.txt": "mirrored\n"})
    resolution = run(app, index_url=mirror, offline=True)
    assert packages(resolution)["mirrored"].version == "1.1"


def test_the_user_environment_does_not_steer_the_resolver(tmp_path: Path, wheels: Path) -> None:
    app = make_app(tmp_path / "app", wheels, "plugin\n")
    environ = {**os.environ, "UV_CONSTRAINT": str(tmp_path / "missing.txt"), "PIP_NO_INDEX": "1"}
    assert packages(run(app, environ=environ))["plugin"].version == "2.0"


# --- build errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"requirements.txt": "flask\n", "poetry.lock": ""},  # several manager files
        {"Pipfile": "[packages]\nflask = '*'\n"},  # a Pipfile without its lock
        {},  # no manager file
    ],
)
def test_the_resolver_refuses_an_app_whose_build_stops_before_installing(
    tmp_path: Path, files: dict[str, str]
) -> None:
    # The build verdict (the BUILD12x rules) says why; the resolver only refuses to guess.
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(UsageError, match=r"the Heroku build would fail .*: see the build verdict"):
        run(tmp_path)


# --- pip as the fallback ------------------------------------------------------------------------------


@pytest.mark.slow
def test_pip_resolves_when_uv_is_missing(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve_module, "find_uv", lambda: None)
    app = make_app(tmp_path / "app", wheels, "app-dep[extra1]\ncolorama ; sys_platform == 'win32'\n")
    resolution = run(app)
    assert resolution.resolver.startswith("pip ")
    assert any("uv was not found" in note for note in resolution.notes)
    found = packages(resolution)
    # pip evaluates markers on this machine; what the dyno does not reach is dropped
    assert sorted(found) == ["app-dep", "fast", "plugin"]
    assert file_of(found["fast"]).filename.endswith("manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert found["app-dep"].requires == ("fast", "plugin")


# --- lock files ---------------------------------------------------------------------------------------


@pytest.fixture
def platform_index(tmp_path: Path) -> tuple[str, dict[str, Path]]:
    """A PEP 503 tree with PEP 658 metadata: `fast` for several platforms, `needs-fast` and `plain`."""
    files = tmp_path / "files"
    built = {
        "x86": build_wheel(
            files, "fast", "1.0", tag="cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64"
        ),
        "new": build_wheel(files, "fast", "1.0", tag="cp313-cp313-manylinux_2_40_x86_64"),
        "arm": build_wheel(files, "fast", "1.0", tag="cp313-cp313-manylinux_2_17_aarch64"),
        "musl": build_wheel(files, "fast", "1.0", tag="cp313-cp313-musllinux_1_2_x86_64"),
        "win": build_wheel(files, "fast", "1.0", tag="cp313-cp313-win_amd64"),
        "old": build_wheel(files, "fast", "0.9", tag="cp313-cp313-manylinux_2_17_x86_64"),
        "needs": build_wheel(
            files, "needs-fast", "2.0", requires=["fast", 'colorama; sys_platform == "win32"']
        ),
        "plain": build_wheel(files, "plain", "1.0"),
    }
    return write_simple_index(tmp_path / "index", list(built.values()), metadata=True), built


def test_poetry_lock_files_are_found_in_the_index(
    tmp_path: Path, platform_index: tuple[str, dict[str, Path]]
) -> None:
    index, built = platform_index
    pyproject = (
        '[tool.poetry]\nname = "app"\npackage-mode = false\n\n[tool.poetry.dependencies]\n'
        'python = "^3.12"\nneeds-fast = "^2"\n'
    )
    lock = poetry_lock(
        [
            poetry_package("fast", "1.0", [built[key] for key in ("x86", "new", "arm", "musl", "win")]),
            poetry_package("needs-fast", "2.0", [built["needs"]], dependencies={"fast": "*"}),
        ],
        python="^3.12",
    )
    app = write_files(tmp_path / "app", {"pyproject.toml": pyproject, "poetry.lock": lock})
    target = make_target("heroku-24", "amd64", "3.13", "poetry")
    resolution = run(app, target, index_url=index)
    assert resolution.resolver == f"poetry.lock (lock reader {LOCK_READER_VERSION})"
    assert resolution.manager_files == ("poetry.lock", "pyproject.toml")
    found = packages(resolution)
    fast = file_of(found["fast"])
    assert fast.filename == built["x86"].name and fast.url == built["x86"].resolve().as_uri()
    assert fast.size == built["x86"].stat().st_size and fast.sha256 == sha256_of(built["x86"])
    assert found["needs-fast"].top_level and found["needs-fast"].requires == ("fast",)
    assert found["fast"].requested_by == ("needs-fast",)

    arm = packages(run(app, make_target("heroku-24", "arm64", "3.13", "poetry"), index_url=index))
    assert file_of(arm["fast"]).filename == built["arm"].name

    cache = tmp_path / "cache"
    offline = run(app, target, index_url=index, offline=True, cache_dir=cache)
    fast_offline = file_of(packages(offline)["fast"])
    assert (fast_offline.filename, fast_offline.url) == (built["x86"].name, "")
    assert any(note.startswith("offline: 2 package file(s) not looked up") for note in offline.notes)
    online = run(app, target, index_url=index, cache_dir=cache)  # the offline reading was not cached
    assert not online.from_cache and file_of(packages(online)["fast"]).url


def test_pipfile_lock_hashes_and_edges_from_the_index(
    tmp_path: Path, platform_index: tuple[str, dict[str, Path]]
) -> None:
    index, built = platform_index
    lock = {
        "_meta": {"sources": [{"name": "local", "url": index, "verify_ssl": True}]},
        "default": {
            "fast": {
                "hashes": [f"sha256:{sha256_of(built[key])}" for key in ("x86", "arm", "win", "musl")],
                "index": "local",
                "version": "==1.0",
            },
            "needs-fast": {
                "hashes": [f"sha256:{sha256_of(built['needs'])}"],
                "index": "local",
                "version": "==2.0",
            },
            "pywin32": {"hashes": ["sha256:00"], "markers": "sys_platform == 'win32'", "version": "==306"},
        },
        "develop": {"plain": {"hashes": [f"sha256:{sha256_of(built['plain'])}"], "version": "==1.0"}},
    }
    app = write_files(
        tmp_path / "app", {"Pipfile": '[packages]\nneeds-fast = "*"\n', "Pipfile.lock": json.dumps(lock)}
    )
    resolution = run(app, make_target("heroku-24", "amd64", "3.13", "pipenv"))
    found = packages(resolution)
    assert sorted(found) == ["fast", "needs-fast"]
    # the manylinux_2_40 wheel is on the index but not in the lock's hashes, nor installable on heroku-24
    assert file_of(found["fast"]).filename == built["x86"].name
    assert found["needs-fast"].requires == ("fast",)  # from the index's PEP 658 metadata
    assert found["fast"].requested_by == ("needs-fast",)
    assert resolution.top_level == ("needs-fast",)


def test_a_locked_file_missing_from_the_index_is_a_note(
    tmp_path: Path, platform_index: tuple[str, dict[str, Path]]
) -> None:
    index, _ = platform_index
    lock = {"_meta": {"sources": [{"name": "l", "url": index}]}, "default": {"gone": {"version": "==1"}}}
    app = write_files(tmp_path / "app", {"Pipfile.lock": json.dumps(lock)})
    resolution = run(app, make_target("heroku-24", "amd64", "3.13", "pipenv"))
    assert packages(resolution)["gone"].file is None
    assert any(
        note.startswith("gone: no file of gone 1 for the dyno found in file://") for note in resolution.notes
    )


def test_uv_lock_is_the_resolution(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "app"\nversion = "1"\ndependencies = ["plain"]\n'
    lock = """\
version = 1
revision = 2
requires-python = ">=3.12"

[[package]]
name = "app"
version = "1"
source = { virtual = "." }
dependencies = [{ name = "plain" }]

[[package]]
name = "plain"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/plain-1.0-py3-none-any.whl", hash = "sha256:0f", size = 1234 }]
"""
    app = write_files(tmp_path / "app", {"pyproject.toml": pyproject, "uv.lock": lock})
    resolution = run(app, make_target("heroku-24", "amd64", "3.13", "uv"), offline=True)
    plain = packages(resolution)["plain"]
    assert file_of(plain) == ResolvedFile(
        filename="plain-1.0-py3-none-any.whl",
        url="https://files.example/plain-1.0-py3-none-any.whl",
        kind="wheel",
        size=1234,
        sha256="0f",
    )
    assert plain.top_level and plain.requested_by == ("uv.lock",)


# --- the index and file sizes -----------------------------------------------------------------------

PLAIN_PIPFILE_LOCK = json.dumps({"default": {"plain": {"version": "==1.0"}}})  # looked up on the index


def test_parse_simple_page_html_and_json() -> None:
    html = (
        b'<a href="../../f/pkg-1.0-py3-none-any.whl#sha256=abc" data-core-metadata="sha256=def">'
        b"pkg-1.0-py3-none-any.whl</a><a href='https://o.example/pkg-1.0.tar.gz'>pkg-1.0.tar.gz</a>"
    )
    files = parse_simple_page(html, "text/html", "https://i.example/simple/pkg/")
    assert [(f.filename, f.url, f.sha256, f.core_metadata) for f in files] == [
        ("pkg-1.0-py3-none-any.whl", "https://i.example/f/pkg-1.0-py3-none-any.whl", "abc", True),
        ("pkg-1.0.tar.gz", "https://o.example/pkg-1.0.tar.gz", None, False),
    ]
    document = {
        "meta": {"api-version": "1.1"},
        "name": "pkg",
        "files": [
            {"filename": "pkg-1.0-py3-none-any.whl", "url": "p.whl", "hashes": {"sha256": "1"}, "size": 9}
        ],
    }
    (entry,) = parse_simple_page(
        json.dumps(document).encode(), "application/vnd.pypi.simple.v1+json", "https://i.example/simple/pkg/"
    )
    assert (entry.url, entry.size, entry.sha256) == ("https://i.example/simple/pkg/p.whl", 9, "1")


@pytest.mark.slow  # waits through the real retry backoff
def test_an_unreachable_index_names_the_configured_url(tmp_path: Path) -> None:
    app = write_files(tmp_path / "app", {"Pipfile.lock": PLAIN_PIPFILE_LOCK})
    with pytest.raises(ToolFailure, match=r"cannot reach http://user:\*\*\*@127\.0\.0\.1:9/simple"):
        run(
            app,
            make_target("heroku-24", "amd64", "3.13", "pipenv"),
            index_url="http://user:secret@127.0.0.1:9/simple",
        )


@pytest.mark.slow  # waits through the real retry backoff
def test_an_index_that_keeps_failing_names_the_index_and_its_status(tmp_path: Path) -> None:
    app = write_files(tmp_path / "app", {"Pipfile.lock": PLAIN_PIPFILE_LOCK})
    with serve_index(tmp_path) as index:
        index.fail(503, times=ATTEMPTS)
        with pytest.raises(ToolFailure) as raised:
            run(app, make_target("heroku-24", "amd64", "3.13", "pipenv"), index_url=index.url)
        assert index.count() == ATTEMPTS  # retried, then given up
    assert str(raised.value) == f"{index.url}: HTTP 503 Service Unavailable"


# --- processes --------------------------------------------------------------------------------------

_PROCESS_STARTERS = {
    "subprocess",
    "os.system",
    "os.popen",
    "os.execv",
    "os.execvp",
    "os.spawnv",
    "os.posix_spawn",
}


def _source_files() -> list[Path]:
    return sorted(Path(slugprof.__file__).parent.rglob("*.py"))


def test_only_the_processes_module_starts_processes() -> None:
    offenders = []
    for path in _source_files():
        if path.name == "processes.py" and path.parent.name == "slugprof":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = [f"{node.value.id}.{node.attr}"]
            line = getattr(node, "lineno", 0)
            offenders += [f"{path.name}:{line} {name}" for name in names if name in _PROCESS_STARTERS]
    assert offenders == []


def test_every_resolver_and_build_run_has_a_timeout() -> None:
    checked = []
    for path in _source_files():
        if path.parent.name != "resolve" and path.name != "listings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_command":
                checked.append((path.name, node.lineno, any(k.arg == "timeout" for k in node.keywords)))
    assert {name for name, _, _ in checked} == {"uv.py", "pip.py", "listings.py"}
    assert [(name, line) for name, line, has_timeout in checked if not has_timeout] == []


# --- the real index (opt-in) ----------------------------------------------------------------------------


@pytest.mark.network
def test_real_index_requests_for_heroku_24(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests\n")
    resolution = run(tmp_path, cache_dir=tmp_path / "cache")
    found = packages(resolution)
    assert {"requests", "certifi", "idna", "urllib3", "charset-normalizer"} <= set(found)
    charset = file_of(found["charset-normalizer"])
    assert "manylinux" in charset.filename and "x86_64" in charset.filename
    with Client() as client:
        size = client.size(file_of(found["requests"]).url)
    assert size is not None and size > 10_000
