"""The requirement rules (BUILD14x) and the build-step rules (BUILD15x), on apps committed to real git
repositories and run through the real pipeline (resolved offline from an empty cache unless a test
serves its own index)."""

from __future__ import annotations

import ensurepip
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clirun import analyze_resolved as analyze_json
from clirun import report_of
from conftest import GitRunner
from indexserver import IndexServer, serve_index
from packaging.requirements import InvalidRequirement, Requirement
from test_rules_build import FLASK_APP, Repo, one
from wheelfactory import build_wheel

from slugprof.model import Severity
from slugprof.sources.locks import read_pipfile_lock
from slugprof.sources.requirement_reasons import explain
from slugprof.sources.target import make_target


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


# --- BUILD140: lines pip refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason", "replacement"),
    [
        ("flask 3.0", "a version specifier needs an operator: write `flask==3.0`", "flask==3.0"),
        ("flask=3.0", "`=` is not a version operator: write `flask==3.0`", "flask==3.0"),
        ("flask (3.0)", "versions are not written in parentheses: write `flask==3.0`", "flask==3.0"),
        (
            "flask>=1.0<2.0",
            "version specifiers are separated by commas: write `flask>=1.0,<2.0`",
            "flask>=1.0,<2.0",
        ),
        ("numpy>=", "`>=` has no version after it: name the version it compares with", None),
        ("flask[async", "the `[` that opens the extras is never closed with `]`", None),
        ("an-invalid-requirement!", "`!` cannot be part of a package name", None),
        ("pip install flask", "a pip command, not a requirement: write only the package (`flask`)", "flask"),
        ("flask==3.0.x", "`3.0.x` is not a version pip understands (PEP 440), in `==3.0.x`", None),
        ("flask@", "`@` must be followed by the URL of the package", None),
        (
            "flask; python_version >= 3.8",
            'a marker compares with a quoted string: write `python_version >= "3.8"`',
            'flask; python_version >= "3.8"',
        ),
        (
            'flask; pyversion == "3"',
            "`pyversion` is not an environment marker variable (such as python_version, sys_platform or "
            "platform_system)",
            None,
        ),
        (
            "gunicorn==23.0 uvicorn",
            "`uvicorn` after `gunicorn==23.0` is not part of a requirement: write one requirement per line, "
            "and a comment after ` #`",
            "gunicorn==23.0",
        ),
    ],
)
def test_a_refused_line_is_explained_in_words(line: str, reason: str, replacement: str | None) -> None:
    with pytest.raises(InvalidRequirement) as refused:
        Requirement(line)
    explained = explain(line, str(refused.value))
    assert (explained.text, explained.replacement) == (reason, replacement)
    if replacement is not None:
        Requirement(replacement)  # what it suggests is a requirement pip reads


def test_an_invalid_requirement_line_is_an_error_at_its_line(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "requirements.txt": "# web\nflask\nrequests 2.31\ngunicorn\n"})
    finding = one(repo.findings(), "BUILD140")
    assert finding.severity == Severity.ERROR
    assert finding.location is not None and (finding.location.path, finding.location.line) == (
        "requirements.txt",
        3,
    )
    assert "a version specifier needs an operator: write `requests==2.31`" in finding.title
    assert "requests 2.31" not in finding.title.replace("`requests==2.31`", "")  # the reason, not an echo
    assert finding.fix is not None and [(e.path, e.old, e.new) for e in finding.fix.edits] == [
        ("requirements.txt", "requests 2.31", "requests==2.31")
    ]
    repo.commit({"requirements.txt": "# web\nflask\nrequests==2.31\ngunicorn\n"})
    assert "BUILD140" not in repo.ids()


def test_every_kind_of_line_pip_reads_stays_silent(repo: Repo) -> None:
    requirements = (
        "--index-url https://example.com/simple\n"
        "-r requirements/base.txt\n"
        "-c constraints.txt\n"
        'requests[socks]>=2,<3 ; python_version >= "3.8"\n'
        "my_lib @ https://example.com/my_lib-1.0.tar.gz\n"
        "git+https://github.com/org/repo.git#egg=repo\n"
        "flask \\\n  ==3.0  # pinned\n"
    )
    files = {
        "requirements.txt": requirements,
        "requirements/base.txt": "gunicorn\n",
        "constraints.txt": "urllib3<3\n",
    }
    repo.commit({**FLASK_APP, **files})
    assert "BUILD140" not in repo.ids()


def test_a_line_in_an_included_file_is_located_there(repo: Repo) -> None:
    files = {"requirements.txt": "-r requirements/base.txt\n", "requirements/base.txt": "flask\ndjango=5.1\n"}
    repo.commit({**FLASK_APP, **files})
    finding = one(repo.findings(), "BUILD140")
    assert finding.location is not None
    assert (finding.location.path, finding.location.line) == ("requirements/base.txt", 2)
    assert "`=` is not a version operator: write `django==5.1`" in finding.title


def test_an_include_the_build_does_not_see_is_refused(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "requirements.txt": "flask\n-r requirements/prod.txt\n"})
    repo.write({"requirements/prod.txt": "gunicorn\n"})  # on disk, never committed
    finding = one(repo.findings(), "BUILD140")
    assert finding.location is not None and finding.location.line == 2
    assert "`requirements/prod.txt` cannot be opened: requirements/prod.txt is not committed" in finding.title
    repo.commit({"requirements/prod.txt": "gunicorn\n"})
    assert "BUILD140" not in repo.ids()


def test_an_unknown_option_is_refused(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "requirements.txt": "--no-deps-please\nflask\n"})
    finding = one(repo.findings(), "BUILD140")
    assert "pip has no option `--no-deps-please` in a requirements file" in finding.title


@pytest.mark.slow
def test_analyze_exits_0_with_the_finding_and_an_incomplete_slug(tmp_path: Path, git: GitRunner) -> None:
    repo = Repo(tmp_path / "app", git)
    repo.commit({**FLASK_APP, "requirements.txt": "flask\nrequests 2.31\n"})

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert report["slug"]["status"] == "incomplete"
    assert report["dependencies"]["source"] == "none"
    assert any("requirements.txt line 2" in note for note in report["dependencies"]["notes"])
    assert [error["id"] for error in report["build"]["errors"]] == ["BUILD140"]
    finding = next(f for f in report["findings"] if f["id"] == "BUILD140")
    assert finding["location"] == {"path": "requirements.txt", "line": 2}


# --- resolving never runs a package's build code -------------------------------------------------------

# A stand-in for setuptools, inside the sdist, so that nothing comes from an index: each hook runs the
# project's setup.py, as setuptools' hooks do, with `setup` collecting its arguments.
_SETUP_BACKEND = """
import base64, hashlib, os, zipfile


def _setup():
    found = {}
    namespace = {"__name__": "__main__", "setup": lambda **kwargs: found.update(kwargs)}
    with open("setup.py", encoding="utf-8") as handle:
        exec(compile(handle.read(), "setup.py", "exec"), namespace)
    return found


def _metadata(info):
    lines = ["Metadata-Version: 2.1", "Name: " + info["name"], "Version: " + info["version"]]
    lines += ["Requires-Dist: " + requirement for requirement in info.get("install_requires", [])]
    return "\\n".join(lines) + "\\n"


def _dist_info(info):
    return info["name"].replace("-", "_") + "-" + info["version"] + ".dist-info"


def get_requires_for_build_wheel(config_settings=None):
    _setup()
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = _setup()
    folder = os.path.join(metadata_directory, _dist_info(info))
    os.makedirs(folder)
    with open(os.path.join(folder, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write(_metadata(info))
    return _dist_info(info)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = _setup()
    dist_info = _dist_info(info)
    members = {}
    for package in info.get("packages", []):
        for root, _, files in os.walk(package):
            for file in sorted(files):
                with open(os.path.join(root, file), "rb") as handle:
                    members[os.path.join(root, file).replace(os.sep, "/")] = handle.read()
    members[dist_info + "/METADATA"] = _metadata(info).encode()
    members[dist_info + "/WHEEL"] = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    digest = lambda data: base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = [f"{path},sha256={digest(data)},{len(data)}" for path, data in members.items()]
    members[dist_info + "/RECORD"] = ("\\n".join(rows + [dist_info + "/RECORD,,"]) + "\\n").encode()
    filename = info["name"].replace("-", "_") + "-" + info["version"] + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in members.items():
            archive.writestr(path, data)
    return filename
"""


def _setup_py(marker: Path, name: str) -> str:
    module = name.replace("-", "_")
    return (
        "from pathlib import Path\n\n"
        f"Path({str(marker)!r}).write_text('setup.py ran\\n')\n"
        f"setup(name={name!r}, version='1.0', install_requires=['helper-lib>=1'], packages=[{module!r}])\n"
    )


def write_sdist(dest: Path, name: str, files: dict[str, str], version: str = "1.0") -> Path:
    """`<name>-<version>.tar.gz` holding `files` under its root folder."""
    root = f"{name.replace('-', '_')}-{version}"
    sdist = dest / f"{root}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return sdist


def setup_py_project(marker: Path, name: str) -> dict[str, str]:
    """A project whose metadata only its setup.py knows (and which writes `marker` when it runs)."""
    module = name.replace("-", "_")
    return {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
        "backend.py": _SETUP_BACKEND,
        "setup.py": _setup_py(marker, name),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{module}/__init__.py": "VALUE = 1\n" * 200,
    }


def static_project(marker: Path, name: str) -> dict[str, str]:
    """A project that declares its dependencies in pyproject.toml; its backend writes `marker`."""
    module = name.replace("-", "_")
    backend = f"from pathlib import Path\nPath({str(marker)!r}).write_text('backend ran\\n')\n"
    return {
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
            f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = ["helper-lib>=1"]\n'
        ),
        "PKG-INFO": f"Metadata-Version: 2.2\nName: {name}\nVersion: 1.0\nRequires-Dist: helper-lib>=1\n",
        "backend.py": backend,
        f"{module}/__init__.py": "VALUE = 1\n",
    }


def _plain_project(name: str, version: str) -> dict[str, str]:
    """A source-only release with static metadata (it is never built here)."""
    pyproject = f'[build-system]\nrequires = []\nbuild-backend = "backend"\n\n[project]\nname = "{name}"\n'
    return {
        "pyproject.toml": pyproject + f'version = "{version}"\ndependencies = []\n',
        "PKG-INFO": f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n",
    }


def _failing_project(message: str) -> dict[str, str]:
    """A project whose build stops with `RuntimeError: <message>`, as old setup.py files do."""
    hook = f"    raise RuntimeError({message!r})\n"
    backend = "def get_requires_for_build_wheel(config_settings=None):\n" + hook
    backend += "def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):\n" + hook
    return {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
        "backend.py": backend,
        "PKG-INFO": "Metadata-Version: 2.1\nName: old-pkg\nVersion: 1.0\n",
    }


@dataclass(frozen=True)
class BuildIndex:
    index: IndexServer
    folder: Path
    markers: Path  # where the projects' build code writes its marker files


@pytest.fixture(scope="module")
def build_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuildIndex]:
    folder = tmp_path_factory.mktemp("build-index")
    markers = tmp_path_factory.mktemp("markers")
    build_wheel(folder, "helper-lib")
    build_wheel(folder, "pytz")
    build_wheel(folder, "broken-meta", requires=["pytz (>dev)", "helper-lib>=1"])  # as celery 5.2.0 did
    for name, version in (("gdal", "3.8.4"), ("shapely", "1.8.5"), ("pysqlite3", "0.5.2")):
        write_sdist(folder, name, _plain_project(name, version), version)
    build_wheel(folder, "shapely", "2.0.6")
    write_sdist(folder, "setup-only", setup_py_project(markers / "setup-only", "setup-only"))
    write_sdist(folder, "static-meta", static_project(markers / "static-meta", "static-meta"))
    write_sdist(folder, "old-pkg", _failing_project("Python version 2.7 or 3.4+ is required."))
    bundled = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("setuptools-*.whl"))
    if bundled:  # real setuptools runs the legacy sdist's setup.py (Python 3.11 and older bundle it)
        shutil.copy(bundled[0], folder)
        legacy = _setup_py(markers / "legacy-setuptools", "legacy-setuptools").replace(
            "from pathlib import Path\n", "from pathlib import Path\nfrom setuptools import setup\n"
        )
        write_sdist(
            folder,
            "legacy-setuptools",
            {
                "setup.py": legacy,
                "PKG-INFO": "Metadata-Version: 2.1\nName: legacy-setuptools\nVersion: 1.0\n",
                "legacy_setuptools/__init__.py": "",
            },
        )
    with serve_index(folder) as index:
        yield BuildIndex(index, folder, markers)


def _packages(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {package["name"]: package for package in report["dependencies"]["packages"]}


def _app(tmp_path: Path, git: GitRunner, requirements: str, **files: str) -> Repo:
    repo = Repo(tmp_path / "app", git)
    repo.commit({**FLASK_APP, "requirements.txt": requirements, **files})
    return repo


@pytest.mark.slow
def test_an_sdist_whose_metadata_needs_setup_py_is_not_built_unless_asked(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    marker = build_index.markers / "setup-only"
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nsetup-only==1.0\n")

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert not marker.exists(), "resolving ran the package's setup.py"
    package = _packages(report)["setup-only"]
    assert package["size_method"] == "estimated from sdist" and not package["measured"]
    assert package["requires"] == []  # its dependencies are in setup.py only
    notes = report["dependencies"]["notes"]
    assert any(note.startswith("setup-only: ") and "does not run its build code" in note for note in notes)

    built = report_of(
        analyze_json(
            repo.root, tmp_path / "cache", "--build-sdists", PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull
        )
    )

    assert marker.read_text() == "setup.py ran\n"
    package = _packages(built)["setup-only"]
    assert package["size_method"] == "built sdist" and package["measured"]
    assert package["requires"] == ["helper-lib"]


@pytest.mark.slow
def test_an_sdist_with_static_metadata_is_followed_without_building(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nstatic-meta\n")

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert not (build_index.markers / "static-meta").exists()
    packages = _packages(report)
    assert packages["static-meta"]["requires"] == ["helper-lib"]
    assert packages["helper-lib"]["requested_by"] == ["static-meta"]


@pytest.mark.slow
def test_a_setuptools_sdist_is_not_built_either(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    if not (build_index.folder / "legacy_setuptools-1.0.tar.gz").exists():
        pytest.skip("this Python bundles no setuptools wheel to serve")
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nlegacy-setuptools\n")

    result = analyze_json(repo.root, tmp_path / "cache")

    assert not (build_index.markers / "legacy-setuptools").exists(), "resolving ran setup.py"
    assert _packages(report_of(result))["legacy-setuptools"]["size_method"] == "estimated from sdist"


@pytest.mark.slow
def test_a_folder_of_the_app_with_only_setup_py_is_not_built(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    marker = build_index.markers / "local-legacy"
    files = {f"libs/legacy/{path}": text for path, text in setup_py_project(marker, "local-legacy").items()}
    files |= {f"libs/modern/{path}": text for path, text in static_project(marker, "local-modern").items()}
    requirements = f"--index-url {build_index.index.url}\n-e ./libs/legacy\n-e ./libs/modern\n"
    repo = _app(tmp_path, git, requirements, **files)

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert not marker.exists(), "resolving ran the folder's setup.py or build backend"
    notes = report["dependencies"]["notes"]
    assert any(note.startswith("requirements.txt:2: ./libs/legacy has no static metadata") for note in notes)
    # the modern project's dependencies come from its pyproject.toml
    assert _packages(report)["helper-lib"]["requested_by"] == ["local-modern"]


# --- requirements from git repositories ------------------------------------------------------------------


def git_project(root: Path, git: GitRunner, files: dict[str, str]) -> Path:
    """A real git repository holding `files`, committed."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "project")
    return root


def tracked_bytes(repository: Path, git: GitRunner) -> tuple[int, int]:
    """(files, bytes) of what git tracks in the repository: the checkout pip makes of it."""
    names = git(repository, "ls-files", "-z").split("\0")
    paths = [repository / name for name in names if name]
    return len(paths), sum(path.stat().st_size for path in paths)


@pytest.mark.slow
def test_editable_and_plain_git_requirements_resolve_and_count(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    marker = build_index.markers / "git-static"
    project = static_project(marker, "gitlib") | {"gitlib/data.txt": "payload\n" * 500}
    repository = git_project(tmp_path / "gitlib", git, project)
    url = f"git+{repository.as_uri()}"
    requirements = f"--index-url {build_index.index.url}\n-e {url}#egg=gitlib\n"
    repo = _app(tmp_path, git, requirements)

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert not marker.exists()
    assert (repo.root / "requirements.txt").read_text() == requirements  # the app's file is untouched
    packages = _packages(report)
    gitlib = packages["gitlib"]
    files, size = tracked_bytes(repository, git)
    assert gitlib["size_method"] == "checkout files" and gitlib["measured"]
    assert (gitlib["file_count"], gitlib["bytes"]) == (files, size)
    assert gitlib["top_level"] and gitlib["requested_by"] == ["requirements.txt"]
    assert gitlib["requires"] == ["helper-lib"]
    assert any(note.startswith("gitlib: installed editable") for note in report["dependencies"]["notes"])

    # without -e (and without #egg), pip builds a wheel from the clone: estimated from its files
    plain = _app(tmp_path / "plain", git, f"--index-url {build_index.index.url}\n{url}\n")
    gitlib = _packages(report_of(analyze_json(plain.root, tmp_path / "cache")))["gitlib"]
    assert gitlib["version"] == "1.0" and gitlib["requires"] == ["helper-lib"]
    assert gitlib["size_method"] == "estimated from sdist" and not gitlib["measured"]
    assert gitlib["bytes"] >= size  # the files, and the bytecode pip would compile


@pytest.mark.slow
def test_a_git_requirement_with_only_setup_py_is_not_built(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    marker = build_index.markers / "git-legacy"
    repository = git_project(tmp_path / "legacy", git, setup_py_project(marker, "git-legacy"))
    requirements = f"--index-url {build_index.index.url}\ngit-legacy @ git+{repository.as_uri()}\n"
    repo = _app(tmp_path, git, requirements)

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert not marker.exists(), "resolving ran the repository's setup.py"
    package = _packages(report)["git-legacy"]
    assert package["version"] == "unknown" and package["requires"] == []
    assert any(
        note.startswith("git-legacy: its source, without static metadata")
        for note in report["dependencies"]["notes"]
    )


# --- resolution errors ---------------------------------------------------------------------------------


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 3, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.slow
def test_a_failed_build_says_the_packages_own_error(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nhelper-lib\nold-pkg==1.0\n")

    # without --build-sdists nothing is built: the package is estimated and the analysis goes on
    assert "old-pkg" in _packages(report_of(analyze_json(repo.root, tmp_path / "cache")))

    error = _one_line_error(analyze_json(repo.root, tmp_path / "cache", "--build-sdists"))

    assert error.startswith("slugprof: error: cannot resolve old-pkg==1.0 (requirements.txt:3) for heroku-24")
    assert error.endswith(": its build failed: RuntimeError: Python version 2.7 or 3.4+ is required.")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("requirement", "reason"),
    [
        (
            "helper-lib>=9",
            "Because only helper-lib==1.0 is available and you require helper-lib>=9, we can conclude "
            "that your requirements are unsatisfiable.",
        ),
        (
            "no-such-project",
            "Because no-such-project was not found in the package registry and you require "
            "no-such-project, we can conclude that your requirements are unsatisfiable.",
        ),
    ],
)
def test_an_unresolvable_requirement_is_named_with_uvs_reason(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex, requirement: str, reason: str
) -> None:
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nhelper-lib\n{requirement}\n")

    error = _one_line_error(analyze_json(repo.root, tmp_path / "cache"))

    assert error.startswith(
        f"slugprof: error: cannot resolve {requirement} (requirements.txt:3) for heroku-24"
    )
    assert error.endswith(f": {reason}")
    assert "hint" not in error


# --- BUILD15x: build steps that change the slug ----------------------------------------------------------

DJANGO_APP = {
    "requirements.txt": "django\ngunicorn\n",
    ".python-version": "3.13\n",
    "Procfile": "web: gunicorn mysite.wsgi\n",
    "manage.py": "import django\n",
}


def test_committed_build_hooks_are_named_with_what_they_run(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "bin/post_compile": "#!/usr/bin/env bash\n# trim\nrm -rf docs\necho done\n"})
    finding = one(repo.findings(), "BUILD150")
    assert finding.severity == Severity.WARNING
    assert finding.title.startswith("bin/post_compile runs during the build")
    assert "slugprof does not run it" in finding.title
    assert "bin/post_compile runs 2 commands, the first: rm -rf docs" in finding.evidence
    assert finding.location is not None and finding.location.path == "bin/post_compile"

    repo.commit({"bin/pre_compile": "#!/bin/sh\nexit 0\n"})
    assert sorted(f.location.path for f in repo.findings() if f.id == "BUILD150" and f.location) == [
        "bin/post_compile",
        "bin/pre_compile",
    ]


def test_a_hook_that_is_not_committed_does_not_run(repo: Repo) -> None:
    repo.commit(FLASK_APP)
    repo.write({"bin/post_compile": "#!/bin/sh\nexit 1\n"})
    assert "BUILD150" not in repo.ids()


def test_collectstatic_skipped_by_the_committed_file(repo: Repo) -> None:
    repo.commit({**DJANGO_APP, ".heroku/collectstatic_disabled": ""})
    finding = one(repo.findings(), "BUILD151")
    assert finding.severity == Severity.INFO
    assert "manage.py is the manage.py the buildpack finds" in finding.evidence
    assert "django (requirements.txt:1) is installed" in finding.evidence
    assert finding.fix is not None and finding.fix.command == (
        "git rm .heroku/collectstatic_disabled && heroku config:set DISABLE_COLLECTSTATIC=1"
    )


@pytest.mark.parametrize(
    ("files", "fires"),
    [
        ({".env": "DISABLE_COLLECTSTATIC=1\n"}, True),
        ({".env": "DISABLE_COLLECTSTATIC=0\n"}, False),  # "0" keeps it on
        ({".env": "OTHER=1\n"}, False),
    ],
)
def test_collectstatic_skipped_by_the_config_var_in_dotenv(
    repo: Repo, files: dict[str, str], fires: bool
) -> None:
    repo.commit({**DJANGO_APP, ".gitignore": ".env\n"})
    repo.write(files)  # ignored by git, as .env usually is: a hint of the app's config vars
    findings = [f for f in repo.findings() if f.id == "BUILD151"]
    assert len(findings) == int(fires)
    if fires:
        assert any("DISABLE_COLLECTSTATIC=1 in .env" in line for line in findings[0].evidence)


@pytest.mark.parametrize(
    "change",
    [
        {"requirements.txt": "flask\ngunicorn\n"},  # not a Django app
        {"manage.py": None, "a/b/c/manage.py": "import django\n"},  # deeper than the buildpack looks
    ],
)
def test_collectstatic_is_not_reported_when_it_would_not_run(
    repo: Repo, git: GitRunner, change: dict[str, str | None]
) -> None:
    repo.commit({**DJANGO_APP, ".heroku/collectstatic_disabled": ""})
    assert "BUILD151" in repo.ids()
    for path, text in change.items():
        if text is None:
            git(repo.root, "rm", "-q", path)
            git(repo.root, "commit", "-q", "-m", "remove")
        else:
            repo.commit({path: text})
    assert "BUILD151" not in repo.ids()


def test_nltk_corpora_are_named_and_not_counted(repo: Repo) -> None:
    repo.commit(
        {**FLASK_APP, "requirements.txt": "flask\nnltk\n", "nltk.txt": "punkt\nstopwords wordnet  # big\n"}
    )
    finding = one(repo.findings(), "BUILD152")
    assert finding.severity == Severity.WARNING
    assert "downloads 3 NLTK corpora into the slug at build time (punkt, stopwords, wordnet)" in finding.title
    assert "they are not counted here" in finding.title
    assert "nltk (requirements.txt:2) is installed, so the buildpack runs its downloader" in finding.evidence
    assert any("sunset" in line for line in finding.evidence)


@pytest.mark.parametrize(
    "files", [{"nltk.txt": "punkt\n"}, {"requirements.txt": "flask\nnltk\n"}], ids=["no-nltk", "no-nltk-txt"]
)
def test_nltk_needs_both_the_package_and_the_file(repo: Repo, files: dict[str, str]) -> None:
    repo.commit({**FLASK_APP, **files})
    assert "BUILD152" not in repo.ids()


# --- BUILD141: a dependency's metadata pip refuses -------------------------------------------------------


@pytest.mark.slow
def test_a_dependency_with_metadata_pip_refuses(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nbroken-meta\n")

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    assert "BUILD141" in [error["id"] for error in report["build"]["errors"]]
    finding = next(f for f in report["findings"] if f["id"] == "BUILD141")
    assert finding["severity"] == "error" and finding["evidence_class"] == "resolved"
    assert finding["title"].startswith(
        "broken-meta 1.0 has metadata pip refuses (Requires-Dist `pytz (>dev)`"
    )
    assert "broken-meta 1.0 METADATA: Requires-Dist: pytz (>dev)" in finding["evidence"]
    assert finding["location"] == {"path": "requirements.txt", "line": 2}
    # a warm run reads the listing from the cache, and still knows
    again = report_of(analyze_json(repo.root, tmp_path / "cache"))
    assert "BUILD141" in [error["id"] for error in again["build"]["errors"]]

    repo.commit({"requirements.txt": f"--index-url {build_index.index.url}\nhelper-lib\n"})
    assert "BUILD141" not in [
        f["id"] for f in report_of(analyze_json(repo.root, tmp_path / "cache"))["findings"]
    ]


# --- BUILD142: source distributions that need system libraries ----------------------------------------------


@pytest.mark.slow
def test_sdists_that_need_system_libraries(tmp_path: Path, git: GitRunner, build_index: BuildIndex) -> None:
    requirements = f"--index-url {build_index.index.url}\ngdal\nshapely<2\npysqlite3\nhelper-lib\n"
    repo = _app(tmp_path, git, requirements)

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    findings = {f["location"]["line"]: f for f in report["findings"] if f["id"] == "BUILD142"}
    assert sorted(findings) == [2, 3, 4]  # gdal, shapely<2, pysqlite3; not helper-lib (a wheel)
    gdal = findings[2]
    assert gdal["severity"] == "error"
    assert gdal["title"].startswith("gdal 3.8.4 builds from source on Heroku and needs GDAL")
    assert (
        gdal["fix"]["command"]
        == "heroku buildpacks:add --index 1 https://github.com/heroku/heroku-geo-buildpack.git"
    )
    assert "building shapely needs GEOS" in findings[3]["evidence"]
    assert "needs SQLite headers" in findings[4]["title"] and findings[4]["fix"]["command"] is None

    # shapely 2 ships wheels: nothing to build
    repo.commit({"requirements.txt": f"--index-url {build_index.index.url}\nshapely\n"})
    report = report_of(analyze_json(repo.root, tmp_path / "cache"))
    assert _packages(report)["shapely"]["version"] == "2.0.6"
    assert "BUILD142" not in [f["id"] for f in report["findings"]]


# --- Pipfile.lock entries from git and from the app's folders -----------------------------------------


def test_pipfile_lock_vcs_entries_are_read_as_pipenv_writes_them(tmp_path: Path) -> None:
    lock = {
        "_meta": {"sources": [{"name": "pypi", "url": "https://example.com/simple", "verify_ssl": True}]},
        "default": {
            "plain": {"git": "https://git.example/plain.git", "ref": "0123abcd"},
            "prefixed": {"git": "git+https://git.example/prefixed.git", "ref": "v1.2"},
            "nested": {
                "editable": True,
                "git": "https://git.example/mono.git",
                "ref": "feedbeef",
                "subdirectory": "libs/nested",
            },
            "myapp": {"editable": True, "path": "."},
            "vendored": {"editable": True, "path": "./vendor/thing"},
        },
    }
    (tmp_path / "Pipfile.lock").write_text(json.dumps(lock), encoding="utf-8")
    (tmp_path / "vendor" / "thing").mkdir(parents=True)

    locked = read_pipfile_lock(tmp_path, make_target("heroku-24", "amd64", "3.13", "pipenv"), environ={})

    packages = {package.name: package for package in locked.packages}
    assert sorted(packages) == ["nested", "plain", "prefixed"]  # the app's own folders count with the app
    urls = {name: package.chosen.url for name, package in packages.items() if package.chosen}
    assert urls == {
        "plain": "git+https://git.example/plain.git@0123abcd",
        "prefixed": "git+https://git.example/prefixed.git@v1.2",
        "nested": "git+https://git.example/mono.git@feedbeef#subdirectory=libs/nested",
    }
    assert [name for name, p in packages.items() if p.chosen and p.chosen.editable] == ["nested"]
    assert sum("counted with the app" in note for note in locked.notes) == 2


@pytest.mark.slow
def test_an_editable_git_entry_of_pipfile_lock_is_counted_from_its_commit(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    repository = git_project(
        tmp_path / "gitlib", git, static_project(build_index.markers / "pipenv-git", "gitlib")
    )
    commit = git(repository, "rev-parse", "HEAD").strip()
    lock = {
        "_meta": {
            "hash": {"sha256": "0" * 64},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.13"},
            "sources": [{"name": "loopback", "url": build_index.index.url, "verify_ssl": False}],
        },
        "default": {
            "gitlib": {"editable": True, "git": repository.as_uri(), "ref": commit},
            "myapp": {"editable": True, "path": "."},
        },
        "develop": {},
    }
    pipfile = (
        '[packages]\ngitlib = {editable = true, git = "'
        + repository.as_uri()
        + '"}\nmyapp = {path = ".", editable = true}\n'
    )
    repo = Repo(tmp_path / "app", git)
    files = {k: v for k, v in FLASK_APP.items() if k != "requirements.txt"}
    repo.commit({**files, "Pipfile": pipfile, "Pipfile.lock": json.dumps(lock, indent=4) + "\n"})

    report = report_of(analyze_json(repo.root, tmp_path / "cache"))

    packages = _packages(report)
    assert sorted(packages) == ["gitlib"]
    count, size = tracked_bytes(repository, git)
    gitlib = packages["gitlib"]
    assert gitlib["size_method"] == "checkout files" and (gitlib["file_count"], gitlib["bytes"]) == (
        count,
        size,
    )
    notes = report["dependencies"]["notes"]
    assert any("myapp is installed editable from the app's folder '.'" in note for note in notes)


# --- --exact with resolved dependencies -------------------------------------------------------------------


@pytest.mark.slow
def test_exact_with_resolved_dependencies_says_what_was_compressed_for_real(
    tmp_path: Path, git: GitRunner, build_index: BuildIndex
) -> None:
    repo = _app(tmp_path, git, f"--index-url {build_index.index.url}\nhelper-lib\n")

    report = report_of(analyze_json(repo.root, tmp_path / "cache", "--exact"))

    assert report["slug"]["compressed_method"] == "exact"
    assert any(
        note.startswith("--exact compressed only the app's files for real") for note in report["notes"]
    )
    terminal = analyze_json(repo.root, tmp_path / "cache", "--exact", "--format", "terminal")
    assert terminal.returncode == 0, terminal.stderr
    assert (
        "Compressed size exact for the app's files (a real tar streamed through gzip -6), and from the wheel "
        "model for the resolved dependencies;" in " ".join(terminal.stdout.split())  # as wrapped to the width
    )

    estimated = report_of(analyze_json(repo.root, tmp_path / "cache"))
    assert not any(note.startswith("--exact") for note in estimated["notes"])


def test_a_repository_git_cannot_clone_is_named_with_gits_own_reason(tmp_path: Path) -> None:
    # git prints its reason, then advice ("Please make sure you have the correct access rights..."):
    # the reason is the line shown.
    from slugprof.measure.checkout import CheckoutError, checkout_listing
    from slugprof.model import SizeMethod

    with pytest.raises(CheckoutError) as raised:
        checkout_listing(f"git+file://{tmp_path}/missing@abc123", SizeMethod.CHECKOUT_FILES)
    assert "does not appear to be a git repository" in str(raised.value), raised.value
    assert str(raised.value).startswith("git clone: fatal:")
