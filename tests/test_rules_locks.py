"""The lock-file rules (BUILD124-BUILD129), each on apps committed to real git repositories (marked
slow: they run git and the pipeline), and the comparisons behind them checked against the tools
themselves: uv is run here on locks it writes from wheels built in the test (offline); Poetry's and
Pipenv's verdicts come from `tests/data/locks`, written by the real Poetry and Pipenv
(`tests/data/locks/regenerate.py` says how)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import uv
from conftest import GitRunner
from test_rules_build import Repo, one
from wheelfactory import build_wheel

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.heroku import LATEST_PYTHON_PATCH
from slugprof.model import Severity
from slugprof.rules import RuleInputs, run_rules
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.locks.content_hashes import (
    parse_toml,
    pipfile_hash,
    pipfile_lock_hash,
    poetry_lock_is_fresh,
)
from slugprof.sources.locks.poetry_python import parse_poetry_constraint
from slugprof.sources.locks.uv_drift import uv_lock_drift

ROOT = Path(__file__).resolve().parent.parent
LOCKS = Path(__file__).parent / "data" / "locks"
APP = {"Procfile": "web: gunicorn app:app\n", "app.py": "app = None\n"}


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def minimal_uv_lock(requires_python: str) -> str:
    return (
        f'version = 1\nrequires-python = "{requires_python}"\n\n'
        '[[package]]\nname = "app"\nversion = "1"\nsource = { virtual = "." }\n'
    )


def uv_app(requires_python: str, python_version: str) -> dict[str, str]:
    pyproject = f'[project]\nname = "app"\nversion = "1"\nrequires-python = "{requires_python}"\n'
    return {
        **APP,
        "pyproject.toml": pyproject,
        "uv.lock": minimal_uv_lock(requires_python),
        ".python-version": f"{python_version}\n",
    }


# --- BUILD124: the Python version against uv.lock's requires-python ----------------------------------


@pytest.mark.slow
def test_a_python_outside_uv_lock_requires_python_fails_the_build(repo: Repo) -> None:
    repo.commit(uv_app("==3.12.*", "3.13"))
    finding = one(repo.findings(), "BUILD124")
    assert finding.severity == Severity.ERROR
    assert finding.evidence == (
        f".python-version asks for 3.13: the buildpack installs {LATEST_PYTHON_PATCH['3.13']}",
        "uv.lock: requires-python = '==3.12.*'",
    )
    assert finding.location is not None and (finding.location.path, finding.location.line) == (
        ".python-version",
        1,
    )
    assert finding.fix is not None
    assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [(".python-version", "3.13", "3.12")]
    repo.commit({".python-version": "3.12\n"})
    assert "BUILD124" not in repo.ids()


@pytest.mark.slow
def test_a_minor_version_is_checked_as_its_latest_patch(repo: Repo) -> None:
    latest = LATEST_PYTHON_PATCH["3.13"]
    major, minor, patch = latest.split(".")
    repo.commit(uv_app(f">={major}.{minor}.{int(patch) + 1}", "3.13"))
    assert f"Python {latest} is outside" in one(repo.findings(), "BUILD124").title
    repo.commit(uv_app(f"<={latest}", "3.13"))
    assert "BUILD124" not in repo.ids()


@pytest.mark.slow
def test_no_python_offered_fits_the_range(repo: Repo) -> None:
    repo.commit(uv_app(">=4", "3.13"))
    finding = one(repo.findings(), "BUILD124")
    assert finding.fix is not None and finding.fix.command == "uv lock" and finding.fix.edits == ()


@pytest.mark.slow
def test_without_python_version_only_the_missing_file_is_said(repo: Repo) -> None:
    files = uv_app("==3.12.*", "3.13")
    del files[".python-version"]
    repo.commit(files)
    ids = repo.ids()
    assert "BUILD123" in ids and "BUILD124" not in ids  # the build stops before uv runs


# --- BUILD125: the Python version against Poetry's constraint -----------------------------------------


def poetry_app(table: str, python_version: str | None) -> dict[str, str]:
    lock = '[metadata]\nlock-version = "2.1"\npython-versions = "*"\ncontent-hash = "0"\n'
    files = {**APP, "pyproject.toml": table, "poetry.lock": lock}
    if python_version is not None:
        files[".python-version"] = f"{python_version}\n"
    return files


TOOL_POETRY = '[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\npython = "{}"\n'
PROJECT = '[project]\nname = "app"\nversion = "1"\nrequires-python = "{}"\n'


@pytest.mark.slow
@pytest.mark.parametrize(
    ("table", "python_version", "fix"),
    [
        (TOOL_POETRY.format("^3.11"), "3.10", "3.14"),  # ^3.11 is >=3.11,<4.0
        (TOOL_POETRY.format("^3.11"), "3.14", None),
        (TOOL_POETRY.format("~3.11"), "3.12", "3.11"),  # ~3.11 is >=3.11,<3.12
        (TOOL_POETRY.format("~3.11"), "3.11", None),
        (TOOL_POETRY.format("3.11"), "3.11", "widen"),  # a bare version is that version: 3.11.0 only
        (TOOL_POETRY.format("3.11.*"), "3.11", None),
        (PROJECT.format(">=3.11,<3.13"), None, "3.12\n"),  # no version named: the buildpack's 3.14
        (PROJECT.format(">=3.11,<3.13"), "3.12", None),
        (PROJECT.format(">=3.10") + TOOL_POETRY.format("^3.12"), "3.11", "3.14"),  # both must allow
    ],
)
def test_a_python_outside_the_poetry_constraint(
    repo: Repo, table: str, python_version: str | None, fix: str | None
) -> None:
    """`fix`: None when the rule is silent, else the .python-version it proposes, or "widen" when no
    Python the buildpack offers fits and the constraint itself must change."""
    repo.commit(poetry_app(table, python_version))
    findings = repo.findings()
    assert ("BUILD125" in [f.id for f in findings]) is (fix is not None)
    if fix is None:
        return
    finding = one(findings, "BUILD125")
    assert finding.severity == Severity.ERROR and finding.fix is not None
    if fix == "widen":
        assert (finding.fix.command, finding.fix.edits) == ("poetry lock", ())
    else:
        assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [
            (".python-version", python_version, fix)
        ]


@pytest.mark.slow
def test_the_poetry_finding_says_the_constraint_as_pep_440(repo: Repo) -> None:
    repo.commit(poetry_app(PROJECT.format(">=3.11,<3.13"), None))
    finding = one(repo.findings(), "BUILD125")
    assert finding.evidence == (
        f"no version is named: the buildpack installs {LATEST_PYTHON_PATCH['3.14']}",
        "pyproject.toml [project] requires-python: '>=3.11,<3.13', that is >=3.11,<3.13",
    )
    assert finding.fix is not None
    assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [(".python-version", None, "3.12\n")]


@pytest.mark.slow
def test_a_runtime_txt_request_is_fixed_in_runtime_txt(repo: Repo) -> None:
    files = poetry_app(TOOL_POETRY.format("^3.12"), "3.12")
    repo.commit({**files, "runtime.txt": "python-3.11\n"})  # it wins over .python-version
    finding = one(repo.findings(), "BUILD125")
    assert finding.fix is not None
    assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [
        ("runtime.txt", "python-3.11", "python-3.14")
    ]


@pytest.mark.parametrize(
    ("constraint", "shown", "allowed"),
    [
        ("^3.11", ">=3.11,<4.0", {"3.11.0", "3.11.16", "3.12.14", "3.13.15", "3.14.7"}),
        ("^0.2.3", ">=0.2.3,<0.3", set()),
        ("~3.11", ">=3.11,<3.12", {"3.11.0", "3.11.16"}),
        ("~3.11.2", ">=3.11.2,<3.12", {"3.11.16"}),
        ("~3", ">=3,<4.0", {"3.10.21", "3.11.0", "3.11.16", "3.12.14", "3.13.15", "3.14.7"}),
        ("~=3.11", "~=3.11", {"3.11.0", "3.11.16", "3.12.14", "3.13.15", "3.14.7"}),
        ("3.11", "==3.11", {"3.11.0"}),
        ("3.11.*", "==3.11.*", {"3.11.0", "3.11.16"}),
        (">=3.11 <3.13", ">=3.11,<3.13", {"3.11.0", "3.11.16", "3.12.14"}),
        (">=3.12, !=3.13.*", ">=3.12,!=3.13.*", {"3.12.14", "3.14.7", "4.0.0"}),
        (">=3.13 || ~3.10", ">=3.13 or >=3.10,<3.11", {"3.10.21", "3.13.15", "3.14.7", "4.0.0"}),
        ("*", "any version", {"3.10.21", "3.11.0", "3.11.16", "3.12.14", "3.13.15", "3.14.7", "4.0.0"}),
    ],
)
def test_poetry_constraints_read_as_poetry_reads_them(constraint: str, shown: str, allowed: set[str]) -> None:
    parsed = parse_poetry_constraint(constraint)
    assert parsed is not None and parsed.as_pep440 == shown
    versions = ("3.10.21", "3.11.0", "3.11.16", "3.12.14", "3.13.15", "3.14.7", "4.0.0")
    assert {version for version in versions if parsed.allows(version)} == allowed


@pytest.mark.parametrize("constraint", ["3.11 - 3.12", "python3", ">=3.11 <"])
def test_a_constraint_poetry_would_not_read_is_left_alone(constraint: str) -> None:
    assert parse_poetry_constraint(constraint) is None


# --- BUILD127 and BUILD128: the hashes Poetry and Pipenv record ------------------------------------------


def cases(tool: str, lock_name: str) -> list[tuple[Path, str, bool]]:
    """(case folder, project file, whether the real tool accepted the case's lock with it)."""
    found = []
    for case in sorted((LOCKS / tool).iterdir()):
        assert (case / lock_name).is_file(), case
        verdicts = json.loads((case / "verdicts.json").read_text(encoding="utf-8"))["accepted"]
        found += [(case, name, accepted) for name, accepted in verdicts.items()]
    return found


def project_file(case: Path, name: str) -> Path:
    """The case's own project file, or one of its variants."""
    return case / name if name in ("pyproject.toml", "Pipfile") else case / "variants" / name


POETRY_CASES = cases("poetry", "poetry.lock")
PIPENV_CASES = cases("pipenv", "Pipfile.lock")


@pytest.mark.parametrize(
    ("case", "name", "accepted"), POETRY_CASES, ids=[f"{c.name}/{n}" for c, n, _ in POETRY_CASES]
)
def test_the_poetry_content_hash_agrees_with_poetry(case: Path, name: str, accepted: bool) -> None:
    lock_text = (case / "poetry.lock").read_text(encoding="utf-8")
    lock, pyproject = parse_toml(lock_text), parse_toml(project_file(case, name).read_text(encoding="utf-8"))
    assert lock is not None and pyproject is not None
    assert poetry_lock_is_fresh(lock_text, lock, pyproject) is accepted


def test_the_poetry_cases_cover_both_verdicts_and_every_branch() -> None:
    assert {accepted for _, _, accepted in POETRY_CASES} == {True, False}
    assert (
        (LOCKS / "poetry" / "before-2.3" / "poetry.lock")
        .read_text()
        .startswith("# This file is automatically @generated by Poetry 2.2")
    )


@pytest.mark.parametrize(
    ("case", "name", "accepted"), PIPENV_CASES, ids=[f"{c.name}/{n}" for c, n, _ in PIPENV_CASES]
)
def test_the_pipfile_hash_agrees_with_pipenv(case: Path, name: str, accepted: bool) -> None:
    lock = json.loads((case / "Pipfile.lock").read_text(encoding="utf-8"))
    pipfile = parse_toml(project_file(case, name).read_text(encoding="utf-8"))
    assert pipfile is not None
    assert (pipfile_hash(pipfile) == pipfile_lock_hash(lock)) is accepted


def commit_case(repo: Repo, files: dict[str, Path]) -> None:
    repo.commit(
        {**APP, ".python-version": "3.13\n", **{name: path.read_text() for name, path in files.items()}}
    )


@pytest.mark.slow
def test_a_stale_poetry_lock_fails_the_build(repo: Repo) -> None:
    case = LOCKS / "poetry" / "pep621"
    commit_case(repo, {"pyproject.toml": case / "pyproject.toml", "poetry.lock": case / "poetry.lock"})
    assert "BUILD127" not in repo.ids()
    commit_case(repo, {"pyproject.toml": case / "variants" / "dependency-added.toml"})
    finding = one(repo.findings(), "BUILD127")
    assert finding.severity == Severity.ERROR
    assert "pyproject.toml asks for packaging, which poetry.lock does not list" in finding.evidence
    assert finding.fix is not None and finding.fix.command == "poetry lock && git add poetry.lock"


@pytest.mark.slow
def test_a_poetry_lock_without_content_hash_is_stale(repo: Repo) -> None:
    case = LOCKS / "poetry" / "pep621"
    lock = (case / "poetry.lock").read_text()
    lock = "\n".join(line for line in lock.splitlines() if not line.startswith("content-hash"))
    repo.commit({**APP, "pyproject.toml": (case / "pyproject.toml").read_text(), "poetry.lock": lock})
    assert one(repo.findings(), "BUILD127").evidence[0] == "poetry.lock has no content-hash"


@pytest.mark.slow
def test_a_stale_pipfile_lock_fails_the_build(repo: Repo) -> None:
    case = LOCKS / "pipenv" / "basic"
    commit_case(repo, {"Pipfile": case / "Pipfile", "Pipfile.lock": case / "Pipfile.lock"})
    assert "BUILD128" not in repo.ids()
    commit_case(repo, {"Pipfile": case / "variants" / "package-added.Pipfile"})
    finding = one(repo.findings(), "BUILD128")
    assert finding.severity == Severity.ERROR
    assert (
        "Pipfile [packages] names packaging, which Pipfile.lock's 'default' section does not have"
        in finding.evidence
    )
    assert finding.fix is not None and finding.fix.command == "pipenv lock && git add Pipfile.lock"


@pytest.mark.slow
def test_a_pipfile_without_source_is_told_that_pip_configuration_counts(repo: Repo) -> None:
    case = LOCKS / "pipenv" / "basic"
    lock = json.loads((case / "Pipfile.lock").read_text())
    lock["_meta"]["hash"]["sha256"] = "0" * 64
    repo.commit(
        {
            **APP,
            "Pipfile": (case / "variants" / "default-source.Pipfile").read_text(),
            "Pipfile.lock": json.dumps(lock),
        }
    )
    finding = one(repo.findings(), "BUILD128")
    assert any(line.startswith("the Pipfile names no [[source]]") for line in finding.evidence)


# --- BUILD129: a project file with no package manager file -------------------------------------------------


@pytest.mark.slow
def test_setup_py_alone_is_its_own_error(repo: Repo) -> None:
    repo.commit({**APP, ".python-version": "3.13\n", "setup.py": "from setuptools import setup\nsetup()\n"})
    findings = repo.findings()
    finding = one(findings, "BUILD129")
    assert "BUILD120" not in [f.id for f in findings]  # one reason, said once
    assert "implicit setup.py support has been sunset" in finding.title
    assert finding.fix is not None
    assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [
        ("requirements.txt", None, "--editable .\n")
    ]
    repo.commit({"requirements.txt": "--editable .\n"})
    assert {"BUILD120", "BUILD129"}.isdisjoint(repo.ids())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pyproject", "command"),
    [
        ('[project]\nname = "app"\nversion = "1"\n', "uv lock && git add uv.lock"),
        ("[tool.poetry]\npackage-mode = false\n", "poetry lock && git add poetry.lock"),
    ],
)
def test_pyproject_alone_asks_for_a_lock(repo: Repo, pyproject: str, command: str) -> None:
    repo.commit({**APP, ".python-version": "3.13\n", "pyproject.toml": pyproject})
    repo.write({"uv.lock": minimal_uv_lock(">=3.10")})  # on disk, not committed
    findings = repo.findings()
    finding = one(findings, "BUILD129")
    assert "BUILD120" not in [f.id for f in findings]
    assert "uv.lock is on disk but not committed: the build does not see it" in finding.evidence
    assert finding.fix is not None and finding.fix.command == command


@pytest.mark.slow
def test_without_any_project_file_no_package_manager_is_the_finding(repo: Repo) -> None:
    repo.commit({**APP, ".python-version": "3.13\n"})
    ids = repo.ids()
    assert "BUILD120" in ids and "BUILD129" not in ids


# --- BUILD126: uv.lock against pyproject.toml, checked against uv itself ----------------------------------


class UvProject:
    """An app folder with wheels beside it, locked by the real uv offline."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.wheels = root.parent / "wheels"
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("UV_")},
            "UV_CACHE_DIR": str(root.parent / "uv-cache"),
            "UV_PYTHON_DOWNLOADS": "never",
            "XDG_CONFIG_HOME": str(root.parent / "config"),  # no user uv.toml: only the project's settings
        }
        build_wheel(self.wheels, "alpha", "1.0")
        build_wheel(self.wheels, "alpha", "2.0")
        build_wheel(self.wheels, "beta", "1.0", requires=["alpha>=1"])
        build_wheel(self.wheels, "Gamma_Pkg", "1.0")

    def uv(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = [uv.find_uv_bin(), *arguments, "--offline", "--python", sys.executable]
        return subprocess.run(
            command, cwd=self.root, env=self.environment, capture_output=True, text=True, check=False
        )

    def lock(self, pyproject: str) -> None:
        (self.root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        completed = self.uv("lock")
        assert completed.returncode == 0, completed.stderr

    def uv_accepts(self, pyproject: str) -> bool:
        (self.root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        completed = self.uv("lock", "--check")
        assert completed.returncode == 0 or "needs to be updated" in completed.stderr, completed.stderr
        return completed.returncode == 0

    def drift(self, pyproject: str) -> tuple[str, ...] | None:
        lock = parse_toml((self.root / "uv.lock").read_text(encoding="utf-8"))
        project = parse_toml(pyproject)
        assert lock is not None and project is not None
        return uv_lock_drift(lock, project)


REQUIRES_PYTHON = f">={sys.version_info.major}.{sys.version_info.minor}"
UV_PYPROJECT = f"""[project]
name = "demo"
version = "0.1.0"
requires-python = "{REQUIRES_PYTHON}"
dependencies = ["beta", "alpha>=1,<3 ; python_version >= '3.8'"]

[project.optional-dependencies]
extra1 = ["gamma_pkg"]

[dependency-groups]
dev = ["gamma-pkg>=1"]

[tool.uv]
find-links = ["../wheels"]
no-index = true
"""
REFORMATTED = f"""# the same declarations, written differently
[tool.uv]
no-index = true
find-links = ['../wheels']

[dependency-groups]
Dev = [ "gamma-pkg >= 1.0" ]

[project]
dependencies = [
    'alpha<3,>=1; python_full_version >= "3.8"',
    "Beta",
]
requires-python = '{REQUIRES_PYTHON}.0'
version = "0.1.0"
name = "demo"

[project.optional-dependencies]
Extra1 = ["Gamma-Pkg"]
"""

Edit = Callable[[str], str]
UV_EDITS: list[tuple[str, Edit, bool]] = [
    ("add a dependency", lambda t: t.replace('["beta", ', '["beta", "gamma-pkg", '), False),
    ("remove a dependency", lambda t: t.replace('"beta", ', ""), False),
    ("change a specifier", lambda t: t.replace('"beta"', '"beta>=1"'), False),
    (
        "add an extra",
        lambda t: t.replace('extra1 = ["gamma_pkg"]', 'extra1 = ["gamma_pkg"]\nextra2 = ["alpha"]'),
        False,
    ),
    (
        "add a dependency group",
        lambda t: t.replace('dev = ["gamma-pkg>=1"]', 'dev = ["gamma-pkg>=1"]\ntest = ["beta"]'),
        False,
    ),
    ("change a group's dependency", lambda t: t.replace('"gamma-pkg>=1"', '"gamma-pkg<2"'), False),
    ("change requires-python", lambda t: t.replace(REQUIRES_PYTHON, f"{REQUIRES_PYTHON},<4"), False),
    ("bump the version", lambda t: t.replace('version = "0.1.0"', 'version = "0.2.0"'), False),
    ("add a marker", lambda t: t.replace('"beta"', "\"beta; sys_platform == 'linux'\""), False),
    ("reformat without changing anything", lambda _: REFORMATTED, True),
    (
        "drop a marker always true for requires-python",
        lambda t: t.replace(" ; python_version >= '3.8'", ""),
        True,
    ),
    (
        "change only the description",
        lambda t: t.replace('version = "0.1.0"', 'version = "0.1.0"\ndescription = "x"'),
        True,
    ),
]


@pytest.mark.slow
def test_the_uv_lock_comparison_agrees_with_uv(tmp_path: Path) -> None:
    project = UvProject(tmp_path / "app")
    project.root.mkdir()
    project.lock(UV_PYPROJECT)
    assert project.drift(UV_PYPROJECT) == ()
    for what, edit, fresh in UV_EDITS:
        edited = edit(UV_PYPROJECT)
        assert edited != UV_PYPROJECT, what
        assert project.uv_accepts(edited) is fresh, f"uv: {what}"
        drift = project.drift(edited)
        assert drift is not None and (drift == ()) is fresh, f"{what}: {drift}"
    assert project.drift(UV_EDITS[2][1](UV_PYPROJECT)) == (
        "dependency changed: uv.lock has beta, pyproject.toml beta>=1",
    )


@pytest.mark.slow
def test_a_stale_uv_lock_fails_the_build(tmp_path: Path, git: GitRunner) -> None:
    repo = Repo(tmp_path / "app", git)
    project = UvProject(repo.root)
    project.lock(UV_PYPROJECT)
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    python = minor if minor in LATEST_PYTHON_PATCH else "3.13"
    repo.commit(
        {
            **APP,
            ".python-version": f"{python}\n",
            "pyproject.toml": UV_PYPROJECT,
            "uv.lock": (repo.root / "uv.lock").read_text(),
        }
    )
    assert {"BUILD124", "BUILD126"}.isdisjoint(repo.ids())
    repo.commit({"pyproject.toml": UV_EDITS[0][1](UV_PYPROJECT)})
    finding = one(repo.findings(), "BUILD126")
    assert finding.severity == Severity.ERROR
    assert finding.evidence == ("dependency added in pyproject.toml: gamma-pkg",)
    assert finding.fix is not None and finding.fix.command == "uv lock && git add uv.lock"


# --- the sample apps ----------------------------------------------------------------------------------------


SAMPLE_APPS = sorted(path.name for path in (ROOT / "sample_apps").iterdir() if path.is_dir())


def test_the_lock_file_sample_apps_exist_with_their_locks() -> None:
    for app, lock in (("uv_app", "uv.lock"), ("poetry_app", "poetry.lock"), ("pipenv_app", "Pipfile.lock")):
        assert app in SAMPLE_APPS
        folder = ROOT / "sample_apps" / app
        for name in (lock, ".gitignore", "Procfile", "app.py", ".python-version"):
            assert (folder / name).is_file(), f"{app}/{name}"
        assert (folder / ".python-version").read_text().strip() == "3.13"
        assert (folder / "Procfile").read_text() == "web: gunicorn app:app\n"


@pytest.mark.slow
@pytest.mark.parametrize("app", SAMPLE_APPS)
def test_the_sample_apps_have_no_build_finding(app: str, tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the sample apps are read as committed files: this needs the project's git checkout")
    root = ROOT / "sample_apps" / app
    options = AnalyzeOptions(
        app_root=root, settings=Settings(), resolve=True, offline=True, cache_dir=tmp_path / "cache"
    )
    report = analyze(options, {})
    findings, verdict, _ = run_rules(RuleInputs(files=BuildFiles.of(root, report.app), analysis=report))
    assert [f"{f.id}: {f.title}" for f in findings if f.id.startswith("BUILD")] == []
    assert verdict.errors == () and verdict.warnings == ()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("app", "project_file", "edit", "rule_id"),
    [
        (
            "uv_app",
            "pyproject.toml",
            lambda t: t.replace('"gunicorn>=23"', '"gunicorn>=23", "click"'),
            "BUILD126",
        ),
        (
            "poetry_app",
            "pyproject.toml",
            lambda t: t.replace('"gunicorn (>=23)"', '"gunicorn (>=24)"'),
            "BUILD127",
        ),
        ("pipenv_app", "Pipfile", lambda t: t.replace('gunicorn = ">=23"', 'gunicorn = ">=24"'), "BUILD128"),
    ],
)
def test_the_sample_locks_go_stale_when_their_project_file_changes(
    app: str, project_file: str, edit: Edit, rule_id: str, repo: Repo
) -> None:
    source = ROOT / "sample_apps" / app
    files = {path.name: path.read_text(encoding="utf-8") for path in source.iterdir() if path.is_file()}
    repo.commit(files)
    assert rule_id not in repo.ids()
    edited = edit(files[project_file])
    assert edited != files[project_file]
    repo.commit({project_file: edited})
    assert one(repo.findings(), rule_id).severity == Severity.ERROR
