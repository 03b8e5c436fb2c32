"""DEP320 on apps in real git repositories whose requirements are resolved for the dyno from wheels the
test builds (no network): a requirement nothing imports or names is said, with what leaves with it
measured; one imported, named in a settings string or in the Procfile, or whose module is named unlike
its distribution, is not."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import NO_RUNTIME_STORE, GitRunner
from test_rules_build import Repo, one
from wheelfactory import build_wheel

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.model import AnalyzeReport, Finding, Severity
from slugprof.model.saved import read_report, write_report

pytestmark = pytest.mark.slow  # each test resolves with uv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    build_wheel(folder, "webapp", requires=["shared"], files=_package("webapp", 2000, "sub"))
    build_wheel(folder, "shared", files=_package("shared", 3000))
    build_wheel(folder, "python-dateutil", files=_package("dateutil", 1000, "parser"))
    build_wheel(folder, "gunicorn", files=_package("gunicorn", 1000))
    build_wheel(folder, "whitenoise", files=_package("whitenoise", 1000, "middleware"))
    build_wheel(folder, "reportkit", requires=["chartlib"], files=_package("reportkit", 4000))
    build_wheel(folder, "chartlib", files=_package("chartlib", 6000))
    return folder


def _package(module: str, lines: int, *submodules: str) -> dict[str, str]:
    files = {f"{module}/__init__.py": "value = 1\n" * lines}
    files.update({f"{module}/{sub}.py": "name = 'x'\n" for sub in submodules})
    return files


def requirements(repo: Repo, wheels: Path, names: str) -> str:
    return f"--no-index\n--find-links {os.path.relpath(wheels, repo.root)}\n{names}"


def measured(repo: Repo) -> AnalyzeReport:
    """The report with every wheel's members read (the local wheels are read even though nothing
    reaches the network: `--no-index`)."""
    options = AnalyzeOptions(
        app_root=repo.root,
        settings=Settings(python_runtime_url=NO_RUNTIME_STORE),
        resolve=True,
        offline=False,
        cache_dir=repo.root.parent / "cache",
    )
    return analyze(options, {})


def unused(report: AnalyzeReport) -> list[Finding]:
    return [finding for finding in report.findings if finding.id == "DEP320"]


def named(report: AnalyzeReport) -> list[str]:
    return sorted(finding.change.packages[-1] for finding in unused(report) if finding.change)


APP = (
    '"""The app."""\n'
    "import webapp.sub\n"  # `import x.y` uses x
    "from dateutil import parser\n"  # the module of python-dateutil
    "app = webapp.sub.name\n"
)


def test_an_unused_requirement_is_said_with_what_leaves_with_it_measured(repo: Repo, wheels: Path) -> None:
    repo.commit(
        {
            "requirements.txt": requirements(
                repo, wheels, "webapp\npython-dateutil\ngunicorn\nreportkit==1.0\n"
            ),
            ".python-version": "3.13\n",
            "Procfile": "web: gunicorn app:app\n",
            "app.py": APP,
        }
    )
    report = measured(repo)
    finding = one(list(report.findings), "DEP320")
    assert finding.severity == Severity.INFO
    assert finding.title == (
        "No module of the app imports `reportkit` (distribution `reportkit`): verify it is needed"
    )
    assert finding.change is not None and finding.change.packages == ("chartlib", "reportkit")
    packages = {package.name: package for package in report.dependencies.packages}
    assert packages["python-dateutil"].modules == ("dateutil",)
    assert finding.savings_bytes is not None and finding.savings_bytes > 0
    assert finding.savings_bytes == packages["reportkit"].bytes + packages["chartlib"].bytes
    assert finding.location is not None and (finding.location.path, finding.location.line) == (
        "requirements.txt",
        6,
    )
    assert finding.fix is not None
    assert [(edit.path, edit.old, edit.new) for edit in finding.fix.edits] == [
        ("requirements.txt", "reportkit==1.0\n", "")
    ]
    # The modules are part of the saved report, and read back.
    loaded = read_report(write_report(report))
    assert isinstance(loaded, AnalyzeReport)
    assert loaded.dependencies.packages == report.dependencies.packages


def test_a_requirement_named_only_in_a_django_middleware_string_is_used(repo: Repo, wheels: Path) -> None:
    settings = 'MIDDLEWARE = [\n    "whitenoise.middleware.WhiteNoiseMiddleware",\n]\n'
    repo.commit(
        {
            "requirements.txt": requirements(repo, wheels, "webapp\npython-dateutil\nwhitenoise\n"),
            ".python-version": "3.13\n",
            "Procfile": "web: python app.py\n",
            "app.py": APP,
            "mysite/settings.py": settings,
        }
    )
    assert named(measured(repo)) == []
    repo.commit({"mysite/settings.py": "MIDDLEWARE = []\n"})
    assert named(measured(repo)) == ["whitenoise"]


def test_a_server_named_only_in_the_procfile_is_used(repo: Repo, wheels: Path) -> None:
    repo.commit(
        {
            "requirements.txt": requirements(repo, wheels, "webapp\npython-dateutil\ngunicorn\n"),
            ".python-version": "3.13\n",
            "Procfile": "web: gunicorn --workers 2 app:app\n",
            "app.py": APP,
        }
    )
    assert named(measured(repo)) == []
    repo.commit({"Procfile": "web: python app.py\n"})
    assert named(measured(repo)) == ["gunicorn"]


def test_a_required_package_that_another_requirement_needs_frees_nothing(repo: Repo, wheels: Path) -> None:
    # shared is written by the app and imported by nothing of it, but webapp needs it: it stays.
    repo.commit(
        {
            "requirements.txt": requirements(repo, wheels, "webapp\nshared\npython-dateutil\n"),
            ".python-version": "3.13\n",
            "Procfile": "web: python app.py\n",
            "app.py": APP,
        }
    )
    assert named(measured(repo)) == []


def test_a_file_that_does_not_parse_is_counted(repo: Repo, wheels: Path) -> None:
    repo.commit(
        {
            "requirements.txt": requirements(repo, wheels, "webapp\npython-dateutil\nreportkit\n"),
            ".python-version": "3.13\n",
            "Procfile": "web: python app.py\n",
            "app.py": APP,
            "broken.py": "import reportkit\ndef (:\n",
        }
    )
    finding = one(list(measured(repo).findings), "DEP320")
    assert "1 .py files that mention it do not parse (a syntax error): not read" in finding.evidence


# The sample apps, with their own requirement names served by wheels built here (their modules laid
# out as the real ones are, and the real edges that decide what leaves): the app files are theirs.
SAMPLE_WHEELS: dict[str, tuple[str, list[str]]] = {
    "flask": ("flask", ["werkzeug"]),
    "werkzeug": ("werkzeug", []),
    "gunicorn": ("gunicorn", []),
    "django": ("django", ["asgiref"]),
    "asgiref": ("asgiref", []),
    "whitenoise": ("whitenoise", []),
    "fastapi": ("fastapi", ["pydantic", "starlette"]),
    "pydantic": ("pydantic", []),
    "starlette": ("starlette", []),
    "uvicorn": ("uvicorn", []),
    "uvicorn-worker": ("uvicorn_worker", ["uvicorn", "gunicorn"]),
}


@pytest.mark.parametrize("app", ["flask_basic", "django_whitenoise", "fastapi_gunicorn"])
def test_the_sample_apps_use_every_requirement(app: str, repo: Repo, tmp_path: Path) -> None:
    folder = tmp_path / "wheels"
    for name, (module, requires) in SAMPLE_WHEELS.items():
        build_wheel(folder, name, requires=requires, files=_package(module, 100))
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the sample apps are their committed files: this needs the project's git checkout")
    source = f"sample_apps/{app}"
    for path in repo.git(ROOT, "ls-files", "-z", "--", source).split("\0"):
        if path:
            target = repo.root / Path(path).relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / path, target)
    lines = (repo.root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    names = [line.split("==")[0] for line in lines if line.strip()]
    assert names and all(name in SAMPLE_WHEELS for name in names)
    repo.write({"requirements.txt": requirements(repo, folder, "".join(f"{name}\n" for name in names))})
    repo.git(repo.root, "add", "-A")
    repo.git(repo.root, "commit", "-q", "-m", "the sample app")
    report = measured(repo)
    tops = [package for package in report.dependencies.packages if package.top_level]
    assert sorted(package.name for package in tops) == sorted(names)
    assert all(package.modules for package in tops)  # every candidate was known, so DEP320 could fire
    assert [f"{f.id}: {f.title}" for f in unused(report)] == []


def test_a_development_tool_is_left_to_dep300(repo: Repo, wheels: Path) -> None:
    build_wheel(wheels, "pytest", files=_package("pytest", 1000))
    repo.commit(
        {
            "requirements.txt": requirements(repo, wheels, "webapp\ngunicorn\npytest==1.0\n"),
            ".python-version": "3.13\n",
            "Procfile": "web: gunicorn app:app\n",
            "app.py": APP,
        }
    )
    report = measured(repo)
    assert "pytest" in {p.name for p in report.dependencies.packages}
    assert "DEP300" in [f.id for f in report.findings]
    assert unused(report) == []
