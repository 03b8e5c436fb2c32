"""The sample apps as the README presents them: the tidy ones give no warning or error from any rule (a
false positive is a bug), and `bloated` gives each mistake planted in it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.model import AnalyzeReport, ProfileReport, Severity
from slugprof.model.saved import load_report

ROOT = Path(__file__).resolve().parent.parent
TIDY = ("flask_basic", "django_whitenoise", "fastapi_gunicorn")


def _analyzed(app: str, cache: Path, *, offline: bool = True) -> AnalyzeReport:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the sample apps are read as committed files: this needs the project's git checkout")
    options = AnalyzeOptions(
        app_root=ROOT / "sample_apps" / app,
        settings=Settings(),
        resolve=True,
        offline=offline,
        cache_dir=cache,
    )
    # Online, the caller's environment as a user's (a proxy, its certificates); offline, nothing.
    return analyze(options, {} if offline else dict(os.environ))


def _problems(report: AnalyzeReport | ProfileReport) -> list[str]:
    return [f"{f.id}: {f.title}" for f in report.findings if f.severity != Severity.INFO]


@pytest.mark.slow
@pytest.mark.parametrize("app", TIDY)
def test_the_tidy_sample_apps_give_no_warning_or_error(app: str, tmp_path: Path) -> None:
    assert _problems(_analyzed(app, tmp_path / "cache")) == []


@pytest.mark.network
@pytest.mark.parametrize("app", TIDY)
def test_the_tidy_sample_apps_give_no_warning_or_error_with_their_dependencies(
    app: str, tmp_path: Path
) -> None:
    report = _analyzed(app, tmp_path / "cache", offline=False)
    assert report.dependencies.packages
    assert _problems(report) == []


@pytest.mark.slow
def test_bloated_gives_each_mistake_its_files_show(tmp_path: Path) -> None:
    report = _analyzed("bloated", tmp_path / "cache")
    ids = {finding.id for finding in report.findings}
    # .env and its WEB_CONCURRENCY, a SQLite file, the notes with a password, the .slugignore's `!` line
    # and `tests/` meant for any depth, its comment lines read as patterns, and the files it should list.
    assert {"SEC400", "SEC410", "SEC420", "SLUG210", "SLUG220", "SLUG221"} <= ids, sorted(ids)
    [block] = [finding for finding in report.findings if finding.id == "SLUG210"]
    assert block.change is not None
    assert {"models/churn_model_v1.pkl", "design/landing_page.psd"} <= set(block.change.app_paths)
    assert block.savings_compressed_bytes is not None and block.savings_compressed_bytes > 1_500_000


def test_the_bloated_example_reports_show_its_dependency_and_memory_mistakes() -> None:
    """The committed reports were measured with bloated's real dependencies and a real profile
    (`reports/generate.sh`): they show what an offline analysis of the files cannot."""
    analyzed = load_report(ROOT / "reports" / "bloated.analyze.json")
    profiled = load_report(ROOT / "reports" / "bloated.profile.json")
    # pylint and pytest in production, opencv-python's GUI build imported as cv2
    assert {"DEP300", "DEP313"} <= {finding.id for finding in analyzed.findings}
    # WEB_CONCURRENCY in .env, pandas imported by each worker
    assert {"MEM501", "MEM510"} <= {finding.id for finding in profiled.findings}
