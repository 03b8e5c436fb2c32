"""The SLUG rules on small apps committed to real git repositories: the limits, the .slugignore block with
its saving measured by running the slug model again (checked against a real `tar | gzip -6` of the app
with and without the files), and the mistakes in an app's own .slugignore."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import FLASK_APP, Repo, one

from slugprof.model import AnalyzeReport, Finding, Severity

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

MB = 1_000_000


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def prose(seed: int, size: int) -> str:
    """Text that compresses like source or docs do (neither random bytes nor one repeated line)."""
    words = ["slug", "dyno", "heroku", "python", "worker", "memory", "build", "request", "tests", "data"]
    rng = random.Random(seed)
    out: list[str] = []
    while sum(map(len, out)) < size:
        out.append(" ".join(rng.choice(words) for _ in range(12)) + f" {rng.randrange(10**6)}\n")
    return "".join(out)[:size]


def ids(report: AnalyzeReport) -> list[str]:
    return [finding.id for finding in report.findings]


def test_the_limits(repo: Repo) -> None:
    repo.commit(FLASK_APP)
    quiet = repo.report()
    assert {"SLUG200", "SLUG201", "SLUG202"}.isdisjoint(ids(quiet))
    size = quiet.slug.compressed_bytes
    soft = one(list(repo.report(soft_limit=size - 1000).findings), "SLUG202")
    assert soft.title.endswith("to stay clear of the boot-time warning")
    budget = one(list(repo.report(slug_limit=size - 2 * MB, soft_limit=size - 3 * MB).findings), "SLUG201")
    assert "must go" in budget.title and budget.severity == Severity.WARNING
    hard = repo.report(slug_limit=size - 2 * MB, soft_limit=size - 3 * MB, slug_hard_limit=size - 1 * MB)
    assert one(list(hard.findings), "SLUG200").severity == Severity.ERROR
    assert "SLUG201" not in ids(hard)  # the worse one is said, once


def real_gzip_of(root: Path, leave_out: list[str]) -> int:
    """Bytes of `tar -c . | gzip -6` of the app folder without `leave_out` and without .git."""
    excludes = [f"--exclude=./{path}" for path in leave_out]
    command = ["tar", "-c", "--exclude=./.git", *excludes, "-f", "-", "-C", str(root), "."]
    tar = subprocess.run(command, capture_output=True, check=True).stdout
    return len(subprocess.run(["gzip", "-6"], input=tar, capture_output=True, check=True).stdout)


def test_the_slugignore_block_and_its_saving_measured_against_a_real_gzip(repo: Repo) -> None:
    files = {
        **FLASK_APP,
        "app.py": FLASK_APP["app.py"] + "DATA = open('data/prices.csv').read()\n",
        "tests/test_app.py": prose(1, 300_000),
        "src/pkg/tests/test_unit.py": prose(2, 200_000),
        "docs/guide.md": prose(3, 400_000),
        "notebooks/explore.ipynb": prose(4, 150_000),
        "design/logo.psd": prose(5, 100_000),
        "models/weights.pt": prose(6, 1_200_000),
        "data/prices.csv": prose(7, 1_500_000),  # the app opens it: never proposed
    }
    repo.commit(files)
    finding = one(list(repo.report().findings), "SLUG210")
    assert finding.fix is not None
    block = finding.fix.edits[0].new.splitlines()
    assert sorted(block) == sorted(["tests", "/docs", "*.ipynb", "*.psd", "*.pt"]), block
    assert finding.change is not None
    removed = sorted(finding.change.app_paths)
    assert removed == sorted(
        p
        for p in files
        if p.startswith(("tests/", "src/pkg/tests", "docs/", "notebooks/", "design/", "models/"))
    )
    assert finding.savings_bytes == sum((repo.root / p).stat().st_size for p in removed)
    real = real_gzip_of(repo.root, []) - real_gzip_of(repo.root, removed)
    assert finding.savings_compressed_bytes is not None
    assert abs(finding.savings_compressed_bytes - real) <= 0.05 * real, (
        finding.savings_compressed_bytes,
        real,
    )


def test_a_tidy_app_gets_no_block(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "templates/index.html": "<p>hi</p>\n", "data/small.csv": "a,b\n1,2\n"})
    assert "SLUG210" not in ids(repo.report())


def slug_findings(repo: Repo) -> list[Finding]:
    return [f for f in repo.report().findings if f.id.startswith("SLUG22")]


def test_mistakes_in_the_apps_own_slugignore(repo: Repo) -> None:
    repo.commit(
        {
            **FLASK_APP,
            "src/tests/test_x.py": "x = 1\n",
            "tests/test_y.py": "y = 1\n",
            "keep/notes.txt": "k\n",
            ".slugignore": "# keep\n!keep.txt\ntests/\n*.jpg\n",
            "static/A.JPG": "jpeg\n",
            "static/B.JPG": "jpeg\n",
        }
    )
    findings = slug_findings(repo)
    mistakes = {f.location.line: f for f in findings if f.id == "SLUG220" and f.location}
    assert mistakes[2].fix is not None and [(e.old, e.new) for e in mistakes[2].fix.edits] == [
        ("!keep.txt\n", "")
    ]
    assert mistakes[3].fix is not None and [(e.old, e.new) for e in mistakes[3].fix.edits] == [
        ("tests/\n", "tests\n")
    ]
    comments = one(findings, "SLUG221")
    assert comments.title == "the comment on .slugignore line 1 is read as 1 pattern, which remove 1 files"
    nothing = one(findings, "SLUG222")
    assert (
        nothing.title
        == ".slugignore line 4, `*.jpg`, matches nothing (it would match 2 files in another letter case)"
    )


def test_a_slugignore_that_removes_what_the_build_or_the_app_needs(repo: Repo) -> None:
    app = FLASK_APP["app.py"] + "RATES = open('config/rates.json').read()\n"
    repo.commit(
        {**FLASK_APP, "app.py": app, "config/rates.json": "{}\n", ".slugignore": "config\nProcfile\n"}
    )
    needed = [f for f in slug_findings(repo) if f.id == "SLUG223"]
    assert sorted(f.title for f in needed) == [
        ".slugignore: Procfile removes Procfile, which the build needs",
        ".slugignore: config removes config/rates.json, which the app's code opens by name",
    ]
