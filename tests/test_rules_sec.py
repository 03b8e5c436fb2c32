"""SEC rules on apps committed to real git repositories: secret files and SQLite databases that ship, with
the file and line as evidence and the value never in any format of the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import FLASK_APP, Repo

from slugprof.cli.output import render
from slugprof.model import Severity

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

SECRET = "s3cr3t-Value-9f8e7d"  # must appear in no report


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def test_a_committed_env_file_and_a_private_key_ship_and_their_values_never_show(repo: Repo) -> None:
    key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n-----END OPENSSH PRIVATE KEY-----\n"
    repo.commit(
        {
            **FLASK_APP,
            ".env": f"SECRET_KEY={SECRET}\nDATABASE_URL=postgres://u:{SECRET}@h/db\n",
            ".env.example": "SECRET_KEY=change-me\n",
            "deploy/notes.txt": "how we deploy\n" + key,
        }
    )
    report = repo.report()
    found = [f for f in report.findings if f.id == "SEC400"]
    assert sorted((f.location.path, f.location.line) for f in found if f.location) == [
        (".env", None),
        ("deploy/notes.txt", 2),
    ]
    assert all(f.severity == Severity.ERROR for f in found)
    env = next(f for f in found if f.location and f.location.path == ".env")
    assert env.change is not None and env.change.app_paths == (".env",)
    assert env.savings_bytes == (repo.root / ".env").stat().st_size
    for output_format in ("json", "terminal", "markdown", "html"):
        assert SECRET not in render(report, output_format, to_terminal=False), output_format


def test_credential_files_ship_by_their_names(repo: Repo) -> None:
    credentials = {
        ".netrc": f"machine api.example.org login deploy password {SECRET}\n",
        "ops/.pgpass": f"db.internal:5432:app:app:{SECRET}\n",
        "ops/.aws/credentials": f"[default]\naws_access_key_id = x\naws_secret_access_key = {SECRET}\n",
    }
    repo.commit({**FLASK_APP, **credentials})
    report = repo.report()
    found = {f.location.path: f for f in report.findings if f.id == "SEC400" and f.location}
    assert sorted(found) == sorted(credentials)
    assert all(f.title.endswith("it holds credentials") for f in found.values())
    assert not [f for f in report.findings if f.id == "SEC420"]  # each file is named once, by SEC400
    for output_format in ("json", "terminal", "markdown", "html"):
        assert SECRET not in render(report, output_format, to_terminal=False), output_format


def test_an_example_env_file_is_not_a_secret(repo: Repo) -> None:
    repo.commit({**FLASK_APP, ".env.example": "SECRET_KEY=change-me\n"})
    assert "SEC400" not in [f.id for f in repo.report().findings]


def test_sqlite_files_and_sqlite_urls(repo: Repo) -> None:
    app = FLASK_APP["app.py"] + "ENGINE = 'sqlite:///data/app.db'\n"
    repo.commit({**FLASK_APP, "app.py": app, "data/app.db": "SQLite format 3\0"})
    findings = [f for f in repo.report().findings if f.id == "SEC410"]
    assert sorted((f.location.path, f.location.line) for f in findings if f.location) == [
        ("app.py", 3),
        ("data/app.db", None),
    ]
    repo.commit({**FLASK_APP})
    repo.git(repo.root, "rm", "-q", "data/app.db")
    repo.git(repo.root, "commit", "-q", "-m", "no db")
    assert "SEC410" not in [f.id for f in repo.report().findings]
