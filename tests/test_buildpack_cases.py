"""The buildpack's own cases, as a table: each row is an app's committed files, what heroku/heroku-
buildpack-python does with them, and where in the buildpack's code or specs that is decided. The
expectations come from reading the buildpack (cited by file, commit prefix and line, or by spec title);
none of its code is used. Abbreviations: pv = lib/python_version.sh@d065b20d, bc = bin/compile@ca40f202,
pvs = spec/hatchet/python_version_spec.rb@8c9cacdb, pms = spec/hatchet/package_manager_spec.rb@6d06c3b5,
chk = lib/checks.sh (the fork that tracks it, after v324), CL = CHANGELOG.md@8c9cacdb.

Every app also commits `app.py` and a Procfile with a web process, and `requirements.txt` unless the
row says otherwise (`None` removes a file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import Repo

from slugprof.model import BuildOutcome, Severity

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

BASE = {"app.py": "app = None\n", "Procfile": "web: gunicorn app:app\n", "requirements.txt": "flask\n"}
UV_LOCK = 'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "a"\nversion = "1"\n'
UV_LOCK += 'source = { virtual = "." }\n'
PYPROJECT = "[project]\nname = 'a'\nversion = '1'\nrequires-python = '>=3.10'\n"
PIPFILE = "[packages]\n"
# A Pipfile and the lock Pipenv wrote for it (its hash matches): the Pipenv sample app's.
PIPENV_APP = Path(__file__).resolve().parent.parent / "sample_apps" / "pipenv_app"
PIPENV_FILES = {name: (PIPENV_APP / name).read_text() for name in ("Pipfile", "Pipfile.lock")}


def pipfile_lock(requires: str) -> str:
    return '{"_meta": {"requires": {' + requires + '}, "sources": []}, "default": {}, "develop": {}}'


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | None]
    errors: frozenset[str]  # exactly the BUILD errors
    warnings: frozenset[str] = field(default_factory=frozenset)  # at least these BUILD warnings
    python: str | None = None  # the version the build uses, when it builds
    source: str = ""


def case(
    name: str,
    files: dict[str, str | None],
    errors: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
    *,
    python: str | None = None,
    source: str,
) -> Case:
    return Case(name, files, frozenset(errors), frozenset(warnings), python, source)


CASES = [
    # --- the Python version ---
    case(
        "3.14 in .python-version",
        {".python-version": "3.14\n"},
        python="3.14",
        source="pv 11, 106-110; bc 123",
    ),
    case(
        "a pinned old patch",
        {".python-version": "3.13.2\n"},
        warnings=("BUILD115",),
        python="3.13.2",
        source="pv 715-738 (patch update available)",
    ),
    case(
        "3.10 is deprecated",
        {".python-version": "3.10\n"},
        warnings=("BUILD114",),
        python="3.10",
        source="pv 691-713",
    ),
    case(
        "3.9 is end-of-life",
        {".python-version": "3.9\n"},
        ("BUILD111",),
        source="pv 434, 458-476; pvs 'EOL Python 3.x'",
    ),
    case("2.7 is end-of-life", {".python-version": "2.7\n"}, ("BUILD111",), source="pv 434"),
    case(
        "3.15 is not in a released buildpack",
        {".python-version": "3.15\n"},
        ("BUILD111",),
        source="CL 'Unreleased: Added support for Python 3.15'; pv 479 in v354",
    ),
    case("3.16 is not recognised", {".python-version": "3.16\n"}, ("BUILD111",), source="pv 479, 504-519"),
    case("4.0 is not recognised", {".python-version": "4.0\n"}, ("BUILD111",), source="pv 479"),
    case(
        "a patch newer than any known",
        {".python-version": "3.12.999\n"},
        ("BUILD111",),
        source="pvs 'non-existent Python patch version'; pv 726",
    ),
    case("a comment line", {".python-version": "# my version\n3.13\n"}, python="3.13", source="pv 340-348"),
    case("CRLF and spaces", {".python-version": "  3.13  \r\n"}, python="3.13", source="pv 344-345; CL v284"),
    case("an inline comment", {".python-version": "3.13 # pinned\n"}, ("BUILD110",), source="pv 196, 231"),
    case(
        "a python- prefix in .python-version",
        {".python-version": "python-3.13\n"},
        ("BUILD110",),
        source="pv 231",
    ),
    case("a wildcard", {".python-version": "3.13.*\n"}, ("BUILD110",), source="pv 20-23, 196"),
    case("a bare major", {".python-version": "3\n"}, ("BUILD110",), source="pv 20-23, 196"),
    case("a leading zero", {".python-version": "3.013\n"}, ("BUILD110",), source="pv 20-23"),
    case(
        "two versions",
        {".python-version": "3.12\n2.7\n"},
        ("BUILD110",),
        source="pv 312; pvs 'multiple Python versions'",
    ),
    case("an empty file", {".python-version": ""}, ("BUILD110",), source="pv 293"),
    case("only a comment", {".python-version": "# soon\n"}, ("BUILD110",), source="pv 293"),
    case(
        "a byte-order mark",
        {".python-version": "\ufeff3.13\n"},
        ("BUILD110",),
        source="pv 217-221, 262; pvs 'unsupported file encoding'",
    ),
    case(
        "a misspelled name",
        {"python-version": "3.13\n"},
        ("BUILD117",),
        warnings=(),
        source="pv 28-49, 85-103",
    ),
    case(
        "a misspelled name beside a correct file",
        {"python-version": "3.13\n", ".python-version": "3.13\n"},
        ("BUILD117",),
        source="pv 85-103 (PR #1970: checked before .python-version)",
    ),
    case(
        "runtime.txt skips the misspelling check",
        {"runtime.txt": "python-3.13\n", "python-version.txt": "3.13\n"},
        warnings=("BUILD113",),
        python="3.13",
        source="pv 77-82",
    ),
    case(
        "runtime.txt is deprecated",
        {"runtime.txt": "python-3.13\n"},
        warnings=("BUILD113",),
        python="3.13",
        source="pv 606-648",
    ),
    case(
        "runtime.txt with a comment line",
        {"runtime.txt": "# c\npython-3.12\n"},
        warnings=("BUILD113",),
        python="3.12",
        source="pv 145-152; CL v318",
    ),
    case("runtime.txt without the prefix", {"runtime.txt": "3.12\n"}, ("BUILD110",), source="pv 152, 161"),
    case(
        "runtime.txt with an inline comment",
        {"runtime.txt": "python-3.12 # x\n"},
        ("BUILD110",),
        source="pv 152, 161",
    ),
    case(
        "runtime.txt wins over .python-version",
        {"runtime.txt": "python-3.13\n", ".python-version": "3.12\n"},
        warnings=("BUILD113",),
        python="3.13",
        source="pvs 'both a runtime.txt and .python-version'",
    ),
    case(
        "runtime.txt end-of-life",
        {"runtime.txt": "python-2.7.18\n"},
        ("BUILD111",),
        source="pvs 'EOL Python 2.x'",
    ),
    case("no version at all", {}, warnings=("BUILD112",), python="3.14", source="pv 581-603; bc 117"),
    # --- uv ---
    case(
        "uv without .python-version",
        {"requirements.txt": None, "uv.lock": UV_LOCK, "pyproject.toml": PYPROJECT},
        ("BUILD123",),
        source="pv 554-578; uv_spec@09ce55f1",
    ),
    case(
        "uv with runtime.txt",
        {
            "requirements.txt": None,
            "uv.lock": UV_LOCK,
            "pyproject.toml": PYPROJECT,
            "runtime.txt": "python-3.13\n",
        },
        ("BUILD118",),
        source="pv 606-631",
    ),
    # --- the package manager ---
    case(
        "requirements.txt and uv.lock",
        {"uv.lock": UV_LOCK, "pyproject.toml": PYPROJECT, ".python-version": "3.13\n"},
        ("BUILD121",),
        source="CL v325 (PR #1993)",
    ),
    case(
        "requirements.txt and poetry.lock",
        {"poetry.lock": "", ".python-version": "3.13\n"},
        ("BUILD121",),
        source="PR #1993",
    ),
    case(
        "Pipfile, Pipfile.lock and requirements.txt",
        {"Pipfile": PIPFILE, "Pipfile.lock": pipfile_lock('"python_version": "3.13"')},
        ("BUILD121",),
        source="PR #1993",
    ),
    case(
        "a Pipfile alone",
        {"requirements.txt": None, "Pipfile": PIPFILE},
        ("BUILD122",),
        source="CL v292; pm.sh 15-39",
    ),
    case(
        "Pipfile.lock names the version",
        {"requirements.txt": None, **PIPENV_FILES},
        python="3.13",
        source="pv 123-130, 649-651",
    ),
    case(
        ".python-version wins over Pipfile.lock",
        {"requirements.txt": None, **PIPENV_FILES, ".python-version": "3.12\n"},
        python="3.12",
        source="pv 106-110; pipenv_spec",
    ),
    case(
        "a wildcard in Pipfile.lock",
        {
            "requirements.txt": None,
            "Pipfile": PIPFILE,
            "Pipfile.lock": pipfile_lock('"python_version": "^3.12"'),
        },
        ("BUILD110",),
        source="pv 385-417",
    ),
    case(
        "Pipfile.lock is not JSON",
        {"requirements.txt": None, "Pipfile": PIPFILE, "Pipfile.lock": "{not json"},
        ("BUILD110",),
        source="pv 360-375",
    ),
    case(
        "Pipfile.lock end-of-life",
        {
            "requirements.txt": None,
            "Pipfile": PIPFILE,
            "Pipfile.lock": pipfile_lock('"python_version": "3.8"'),
        },
        ("BUILD111",),
        source="pv 458-467",
    ),
    case(
        "pyproject.toml alone",
        {"requirements.txt": None, "pyproject.toml": PYPROJECT, ".python-version": "3.13\n"},
        ("BUILD129",),
        source="pms 'no supported package manager files' (fixture pyproject_toml_only)",
    ),
    case(
        "setup.py alone",
        {"requirements.txt": None, "setup.py": "from setuptools import setup\nsetup()\n"},
        ("BUILD129",),
        source="pms 'only a setup.py'; CL v325 (PR #1992)",
    ),
    case(
        "setup.py with requirements.txt naming it",
        {"requirements.txt": "--editable .\n", "setup.py": "from setuptools import setup\nsetup()\n"},
        warnings=("BUILD112",),
        source="PR #1992",
    ),
    case(
        "manage.py and runtime.txt only",
        {"requirements.txt": None, "app.py": None, "manage.py": "x\n", "runtime.txt": "python-3.13\n"},
        ("BUILD120",),
        warnings=("BUILD113",),
        source="detect.rs known files; bc 98",
    ),
    # --- committed environments ---
    case(
        "a committed .venv",
        {".venv/pyvenv.cfg": "home = /usr\n", ".python-version": "3.13\n"},
        ("BUILD130",),
        source="bc 105; chk 101-108; CL v324",
    ),
    case(
        "a committed venv",
        {"venv/pyvenv.cfg": "home = /usr\n", ".python-version": "3.13\n"},
        ("BUILD130",),
        source="chk 101-108",
    ),
    case(
        "env/ is not checked",
        {"env/pyvenv.cfg": "home = /usr\n", ".python-version": "3.13\n"},
        python="3.13",
        source="chk: the loop covers .venv and venv only",
    ),
    case(
        ".venv without pyvenv.cfg is not checked",
        {".venv/lib/x.py": "x\n", ".python-version": "3.13\n"},
        python="3.13",
        source="chk 105-106",
    ),
    case(
        "a committed .heroku/python",
        {".heroku/python/bin/python": "x\n", ".python-version": "3.13\n"},
        ("BUILD131",),
        source="bc 96; checks_spec@09ce55f1 'broken Python install'",
    ),
    # --- detection ---
    case(
        "nothing the buildpack detects",
        {"requirements.txt": None, "app.py": None, "README.md": "x\n"},
        ("BUILD100",),
        source="bin/detect; detect.rs KNOWN_PYTHON_PROJECT_FILES",
    ),
]


@pytest.mark.parametrize("row", CASES, ids=[row.name for row in CASES])
def test_the_buildpacks_case(row: Case, tmp_path: Path, git: GitRunner) -> None:
    assert row.source, "every case cites where the buildpack decides it"
    repo = Repo(tmp_path / "app", git)
    files = {path: text for path, text in {**BASE, **row.files}.items() if text is not None}
    repo.commit(files)
    findings = repo.findings()
    build = [finding for finding in findings if finding.id.startswith("BUILD")]
    errors = {finding.id for finding in build if finding.severity == Severity.ERROR}
    warnings = {finding.id for finding in build if finding.severity == Severity.WARNING}
    assert errors == row.errors, [f"{f.id}: {f.title}" for f in build]
    assert row.warnings <= warnings, [f"{f.id}: {f.title}" for f in build]
    report = repo.report()
    assert report.build is not None
    assert report.build.outcome == (BuildOutcome.FAILS if row.errors else BuildOutcome.BUILDS)
    if row.python is not None:
        assert report.python.version == row.python
