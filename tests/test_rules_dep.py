"""DEP rules on apps whose dependencies are resolved for the dyno from wheels the test builds (no
network): development tools in production, removed together as one change and measured as one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import FLASK_APP, Repo, one
from wheelfactory import build_wheel

pytestmark = pytest.mark.slow  # each test resolves with uv


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    build_wheel(folder, "webapp", requires=["shared"], files={"webapp/__init__.py": "x = 1\n" * 2000})
    build_wheel(folder, "shared", files={"shared/__init__.py": "y = 2\n" * 3000})
    build_wheel(
        folder, "pytest", requires=["pluggy", "shared"], files={"pytest/__init__.py": "z = 3\n" * 9000}
    )
    build_wheel(folder, "pluggy", files={"pluggy/__init__.py": "w = 4\n" * 5000})
    build_wheel(folder, "gunicorn", files={"gunicorn/__init__.py": "g = 5\n" * 100})
    return folder


def app_with(repo: Repo, wheels: Path, requirements: str) -> None:
    header = f"--no-index\n--find-links {os.path.relpath(wheels, repo.root)}\n"
    repo.commit({**FLASK_APP, "requirements.txt": header + requirements})


def test_dev_tools_leave_together_and_the_saving_is_what_leaves(repo: Repo, wheels: Path) -> None:
    app_with(repo, wheels, "webapp\ngunicorn\npytest==1.0  # tests\n")
    report = repo.report()
    finding = one(list(report.findings), "DEP300")
    assert finding.change is not None
    assert finding.change.packages == ("pluggy", "pytest")  # shared stays: webapp needs it
    packages = {p.name: p for p in report.dependencies.packages}
    assert finding.savings_bytes == packages["pytest"].bytes + packages["pluggy"].bytes
    assert (
        finding.savings_compressed_bytes
        == packages["pytest"].compressed_bytes + packages["pluggy"].compressed_bytes
    )
    assert finding.fix is not None
    edits = [(e.path, e.old, e.new) for e in finding.fix.edits]
    assert edits == [
        ("requirements.txt", "pytest==1.0  # tests\n", ""),
        ("requirements-dev.txt", None, "-r requirements.txt\npytest==1.0  # tests\n"),
    ]
    assert finding.location is not None and (finding.location.path, finding.location.line) == (
        "requirements.txt",
        5,
    )


def test_no_dev_tool_no_finding(repo: Repo, wheels: Path) -> None:
    app_with(repo, wheels, "webapp\ngunicorn\n")
    assert "DEP300" not in [f.id for f in repo.report().findings]


def test_a_dev_tool_pulled_in_by_another_requirement_is_not_named(
    repo: Repo, wheels: Path, git: GitRunner
) -> None:
    build_wheel(wheels, "testkit", requires=["pytest"])
    app_with(repo, wheels, "webapp\ntestkit\n")
    assert "DEP300" not in [f.id for f in repo.report().findings]  # pytest is not a requirement of the app
