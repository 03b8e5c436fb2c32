"""The BUILD rules, each on small apps committed to real git repositories: it fires on its evidence
and stays silent without it. The report comes from the real pipeline (resolved offline from an empty
cache, so nothing reaches the network)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import GitRunner

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.model import AnalyzeReport, BuildOutcome, Finding, Severity
from slugprof.rules import RuleInputs, registered, run_rules
from slugprof.rules.registry import FAMILIES, Needs
from slugprof.sources.buildfiles import BuildFiles

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

FLASK_APP = {
    "requirements.txt": "flask\n",
    ".python-version": "3.13\n",
    "Procfile": "web: gunicorn app:app\n",
    "app.py": "from flask import Flask\napp = Flask(__name__)\n",
}


class Repo:
    """An app folder that is a real git work tree."""

    def __init__(self, root: Path, git: GitRunner) -> None:
        self.root = root
        self.git = git
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q")

    def write(self, files: dict[str, str]) -> None:
        for path, text in files.items():
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, files: dict[str, str]) -> None:
        self.write(files)
        self.git(self.root, "add", "-f", *files)
        self.git(self.root, "commit", "-q", "-m", "files")

    def report(self, **settings: object) -> AnalyzeReport:
        options = AnalyzeOptions(
            app_root=self.root,
            settings=Settings(**settings),  # type: ignore[arg-type]
            resolve=True,
            offline=True,
            cache_dir=self.root.parent / "cache",
        )
        return analyze(options, {})

    def findings(self, today: dt.date = dt.date(2026, 12, 6)) -> list[Finding]:
        report = self.report()
        inputs = RuleInputs(files=BuildFiles.of(self.root, report.app), analysis=report, today=today)
        findings, _, _ = run_rules(inputs)
        return list(findings)

    def ids(self) -> list[str]:
        return [finding.id for finding in self.findings()]


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def one(findings: list[Finding], rule_id: str) -> Finding:
    matching = [finding for finding in findings if finding.id == rule_id]
    assert len(matching) == 1, [f"{f.id}: {f.title}" for f in findings]
    return matching[0]


def test_a_well_formed_flask_app_has_no_build_finding(repo: Repo) -> None:
    repo.commit(FLASK_APP)
    report = repo.report()
    assert report.build is not None and report.build.outcome == BuildOutcome.BUILDS
    assert [f.id for f in report.findings if f.id.startswith("BUILD")] == []


# --- detection and layout ---------------------------------------------------------------------------


def test_an_app_with_no_detection_file_is_not_detected(repo: Repo) -> None:
    repo.commit({"README.md": "hello\n", "notes/todo.txt": "x\n"})
    finding = one(repo.findings(), "BUILD100")
    assert finding.severity == Severity.ERROR
    repo.commit({"main.py": "print(1)\n"})
    assert "BUILD100" not in repo.ids()


def test_a_detection_file_on_disk_but_not_committed_is_named(repo: Repo) -> None:
    repo.commit({"README.md": "hello\n"})
    repo.write({"requirements.txt": "flask\n"})  # untracked
    finding = one(repo.findings(), "BUILD100")
    assert "requirements.txt is on disk but not committed: the build does not see it" in finding.evidence


def test_an_app_one_folder_down(repo: Repo) -> None:
    repo.commit({f"backend/{name}": text for name, text in FLASK_APP.items()})
    finding = one(repo.findings(), "BUILD160")
    assert finding.location is not None and finding.location.path.startswith("backend/")
    assert finding.fix is not None and finding.fix.command == "git subtree push --prefix backend heroku main"
    repo.commit(FLASK_APP)
    assert "BUILD160" not in repo.ids()


def test_a_misnamed_procfile(repo: Repo) -> None:
    repo.commit({**{k: v for k, v in FLASK_APP.items() if k != "Procfile"}, "Procfile.txt": "web: x\n"})
    ids = repo.ids()
    assert "BUILD161" in ids and "BUILD162" not in ids
    repo.git(repo.root, "mv", "Procfile.txt", "Procfile")
    repo.git(repo.root, "commit", "-q", "-m", "rename")
    assert {"BUILD161", "BUILD162"}.isdisjoint(repo.ids())


def test_no_procfile_and_a_procfile_without_web(repo: Repo) -> None:
    repo.commit({k: v for k, v in FLASK_APP.items() if k != "Procfile"})
    assert "BUILD162" in repo.ids()
    repo.commit({"Procfile": "worker: python worker.py\n"})
    finding = one(repo.findings(), "BUILD163")
    assert finding.evidence == ("process types declared: worker",)
    repo.commit({"Procfile": "worker: python worker.py\nweb: gunicorn app:app\n"})
    assert {"BUILD162", "BUILD163"}.isdisjoint(repo.ids())


# --- committed environments -------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [".venv", "venv"])
def test_a_committed_virtualenv_fails_the_build(repo: Repo, folder: str) -> None:
    repo.commit({**FLASK_APP, f"{folder}/pyvenv.cfg": "home = /usr/bin\n", f"{folder}/bin/activate": "x"})
    finding = one(repo.findings(), "BUILD130")
    assert finding.severity == Severity.ERROR
    assert finding.fix is not None and finding.fix.command == f"git rm -r --cached {folder}"
    assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [(".gitignore", None, f"{folder}/\n")]


def test_an_ignored_virtualenv_is_not_a_finding(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".gitignore": ".venv/\n"})
    repo.write({".venv/pyvenv.cfg": "home = /usr/bin\n"})
    assert "BUILD130" not in repo.ids()


def test_a_committed_heroku_python_folder_fails_the_build(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".heroku/python/bin/python3": "x"})
    assert one(repo.findings(), "BUILD131").severity == Severity.ERROR


# --- the package manager ----------------------------------------------------------------------------


def test_no_manager_file_and_an_uncommitted_requirements_file(repo: Repo) -> None:
    repo.commit({"app.py": "x = 1\n", ".python-version": "3.13\n", "Procfile": "web: x\n"})
    repo.write({"requirements.txt": "flask\n"})
    finding = one(repo.findings(), "BUILD120")
    assert "requirements.txt is on disk but not committed: the build does not see it" in finding.evidence
    report = repo.report()
    assert report.build is not None and report.build.outcome == BuildOutcome.FAILS
    assert report.slug.status == "incomplete"


def test_several_manager_files_fail_only_when_both_are_committed(repo: Repo) -> None:
    repo.commit(FLASK_APP)
    repo.write({"uv.lock": "version = 1\n"})  # not committed: not a second manager for the build
    assert "BUILD121" not in repo.ids()
    repo.commit({"uv.lock": "version = 1\n"})
    finding = one(repo.findings(), "BUILD121")
    assert finding.evidence == ("requirements.txt is committed", "uv.lock is committed")
    assert finding.fix is not None and finding.fix.command == "git rm uv.lock"


def test_a_pipfile_without_its_lock(repo: Repo) -> None:
    repo.commit({"Pipfile": "[packages]\nflask = '*'\n", "app.py": "x\n", "Procfile": "web: x\n"})
    ids = repo.ids()
    assert "BUILD122" in ids and "BUILD120" not in ids  # one reason, said once


def test_uv_needs_a_python_version_file(repo: Repo) -> None:
    lock = 'version = 1\nrequires-python = ">=3.12"\n\n'
    lock += '[[package]]\nname = "a"\nversion = "1"\nsource = { virtual = "." }\n'
    files = {"pyproject.toml": "[project]\nname = 'a'\nversion = '1'\n", "uv.lock": lock}
    repo.commit({**files, "Procfile": "web: x\n"})
    finding = one(repo.findings(), "BUILD123")
    assert finding.fix is not None and finding.fix.command == "uv python pin 3.14"
    repo.commit({"runtime.txt": "python-3.13\n"})
    ids = repo.ids()
    assert "BUILD118" in ids and "BUILD123" not in ids  # the buildpack stops on runtime.txt first
    assert "BUILD113" not in ids  # with uv, runtime.txt is an error, not a deprecation
    repo.git(repo.root, "rm", "-q", "runtime.txt")
    repo.commit({".python-version": "3.13\n"})
    assert {"BUILD118", "BUILD123"}.isdisjoint(repo.ids())


# --- the Python version -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("3.12  # pinned\n", "is not a version the buildpack reads"),  # comments only on their own line
        ("3.12\n3.13\n", "names more than one version"),
        ("# just a comment\n", "names no version"),
        ("python-3.12\n", "is not a version the buildpack reads"),
        ("3.012\n", "is not a version the buildpack reads"),  # no leading zeros
    ],
)
def test_a_python_version_file_the_buildpack_cannot_read(repo: Repo, text: str, problem: str) -> None:
    repo.commit({**FLASK_APP, ".python-version": text})
    finding = one(repo.findings(), "BUILD110")
    assert problem in finding.title
    assert finding.location is not None and finding.location.path == ".python-version"


def test_comments_on_their_own_line_and_crlf_are_allowed(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".python-version": "# pinned for the dyno\r\n\r\n  3.12  \r\n"})
    assert {"BUILD110", "BUILD111"}.isdisjoint(repo.ids())


def test_a_byte_order_mark_makes_the_file_unreadable_to_the_buildpack(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".python-version": "\ufeff3.12\n"})
    assert (
        "cannot be read: save it as UTF-8 without a byte-order mark" in one(repo.findings(), "BUILD110").title
    )


@pytest.mark.parametrize("name", ["python-version", ".python-version.txt", ".python-version "])
def test_a_misspelled_version_file_fails_even_beside_a_correct_one(repo: Repo, name: str) -> None:
    repo.commit({**FLASK_APP, name: "3.12\n"})
    finding = one(repo.findings(), "BUILD117")
    assert finding.location is not None and finding.location.path == name
    assert finding.fix is not None and finding.fix.command == f"git rm -- '{name}'"
    repo.commit({"runtime.txt": "python-3.12\n"})  # runtime.txt is read first: no misspelling check
    assert "BUILD117" not in repo.ids()


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("3.9", "has reached end-of-life"),
        ("2.7", "has reached end-of-life"),
        ("3.15", "is not known to the buildpack"),
        ("3.13.99", "is newer than the latest the buildpack knows (3.13.16)"),
    ],
)
def test_an_unsupported_python_fails_the_build(repo: Repo, version: str, words: str) -> None:
    repo.commit({**FLASK_APP, ".python-version": f"{version}\n"})
    finding = one(repo.findings(), "BUILD111")
    assert words in finding.title
    assert finding.fix is not None
    assert [(e.old, e.new) for e in finding.fix.edits] == [(version, "3.14")]


def test_no_python_version_warns_and_an_uncommitted_file_is_said(repo: Repo) -> None:
    repo.commit({k: v for k, v in FLASK_APP.items() if k != ".python-version"})
    finding = one(repo.findings(), "BUILD112")
    assert finding.severity == Severity.WARNING
    repo.write({".python-version": "3.13\n"})
    findings = repo.findings()
    assert (
        ".python-version is on disk but not committed: it will not deploy"
        in one(findings, "BUILD112").evidence
    )
    assert one(findings, "BUILD116").title == ".python-version is not committed: the build will not see it"


@pytest.mark.parametrize(
    ("extra", "absence"),
    [
        ({".gitignore": ".python-version\n"}, "ignored by git"),
        ({".slugignore": ".python-version\n"}, "removed by .slugignore"),
    ],
)
def test_a_version_file_that_does_not_deploy(repo: Repo, extra: dict[str, str], absence: str) -> None:
    base = {k: v for k, v in FLASK_APP.items() if k != ".python-version"}
    repo.commit({**base, **extra})
    if ".slugignore" in extra:
        repo.commit({".python-version": "3.12\n"})
    else:
        repo.write({".python-version": "3.12\n"})
    report = repo.report()
    assert report.python.source == "buildpack default"
    finding = one(repo.findings(), "BUILD116")
    assert finding.title == f".python-version is {absence}: the build will not see it"
    assert finding.fix is not None
    if ".slugignore" in extra:
        assert finding.fix.summary == "remove the .slugignore pattern that matches .python-version"
    else:
        assert finding.fix.command == "git add -f .python-version"


def test_on_fir_a_version_file_project_toml_excludes_is_said_so_not_slugignore(repo: Repo) -> None:
    exclude = '[_]\nschema-version = "0.2"\n\n[io.buildpacks]\nexclude = [".python-version"]\n'
    repo.commit({**FLASK_APP, "project.toml": exclude, ".slugignore": "*.log\n"})
    options = AnalyzeOptions(
        app_root=repo.root,
        settings=Settings(),
        resolve=True,
        offline=True,
        cache_dir=repo.root.parent / "cache",
        generation="fir",
    )
    report = analyze(options, {})
    inputs = RuleInputs(
        files=BuildFiles.of(repo.root, report.app), analysis=report, today=dt.date(2026, 12, 6)
    )
    finding = one(list(run_rules(inputs)[0]), "BUILD116")
    assert finding.title == ".python-version is excluded by project.toml: the build will not see it"
    assert finding.fix is not None and "project.toml's [io.buildpacks] exclude" in finding.fix.summary


def test_runtime_txt_is_deprecated_and_wins_over_python_version(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "runtime.txt": "# the dyno's Python\npython-3.12.15\n"})
    report = repo.report()
    assert (report.python.version, report.python.source) == ("3.12.15", "runtime.txt")
    finding = one(repo.findings(), "BUILD113")
    assert finding.fix is not None and finding.fix.command == "git rm runtime.txt"
    assert "BUILD115" not in repo.ids()  # 3.12.15 is the latest 3.12


def test_python_3_10_is_deprecated_with_the_days_left(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".python-version": "3.10\n"})
    finding = one(repo.findings(today=dt.date(2026, 12, 6)), "BUILD114")
    assert finding.title == "Python 3.10 is deprecated: the buildpack drops it on 6 January 2027 (in 31 days)"
    repo.commit({".python-version": "3.11\n"})
    assert "BUILD114" not in repo.ids()


def test_an_old_patch_is_pinned(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".python-version": "3.13.1\n"})
    finding = one(repo.findings(), "BUILD115")
    assert "3.13.16 is available" in finding.title
    assert finding.fix is not None and [(e.old, e.new) for e in finding.fix.edits] == [("3.13.1", "3.13")]


def test_pipfile_lock_python_version_is_read_and_checked(repo: Repo) -> None:
    lock = '{"_meta": {"requires": {"python_version": "3.8"}, "sources": []}, "default": {}, "develop": {}}'
    repo.commit({"Pipfile": "[packages]\n", "Pipfile.lock": lock, "app.py": "x\n", "Procfile": "web: x\n"})
    finding = one(repo.findings(), "BUILD111")
    assert finding.location is not None and (finding.location.path, finding.location.line) == (
        "Pipfile.lock",
        1,
    )


# --- the stage itself -------------------------------------------------------------------------------


def test_ignored_rules_are_silenced_and_counted(repo: Repo) -> None:
    repo.commit({k: v for k, v in FLASK_APP.items() if k != ".python-version"})
    report = repo.report(ignore=("BUILD112",))
    assert "BUILD112" not in [f.id for f in report.findings]
    assert (report.rules.ignored_rules, report.rules.silenced) == (("BUILD112",), 1)
    assert report.build is not None and report.build.warnings == ()


def test_rule_ids_are_unique_in_families_and_explained() -> None:
    rules = registered()
    assert len({rule.id for rule in rules}) == len(rules)
    assert len({rule.name for rule in rules}) == len(rules)
    for rule in rules:
        assert rule.family in FAMILIES, rule.id
        assert rule.summary and rule.why and rule.fix and rule.source, rule.id


def test_rules_that_need_an_analysis_do_not_run_on_the_files_alone(repo: Repo) -> None:
    repo.commit({k: v for k, v in FLASK_APP.items() if k != ".python-version"})
    report = repo.report()
    files = BuildFiles.of(repo.root, report.app)
    with_analysis, _, _ = run_rules(RuleInputs(files=files, analysis=report))
    assert "BUILD112" in [f.id for f in with_analysis]  # no .python-version: the analysis rule fires
    files_alone, _, _ = run_rules(RuleInputs(files=files))
    needs = {rule.id: rule.needs for rule in registered()}
    assert all(needs[f.id] == Needs.FILES for f in files_alone), [f.id for f in files_alone]
