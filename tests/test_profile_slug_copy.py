"""`profile` runs the slug, not the work tree: the app starts from a copy of exactly the files the push
sends after `.slugignore`, with HOME there, as a dyno's /app. Real git repositories, real gunicorn."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from clirun import HELLO_WSGI, run_slugprof
from conftest import GitRunner

pytestmark = pytest.mark.slow


def committed_app(git: GitRunner, root: Path, files: dict[str, str], untracked: dict[str, str]) -> Path:
    """An app in a real git repository: `files` committed, `untracked` written but never added."""
    root.mkdir(parents=True)
    for name, text in {"Procfile": "web: gunicorn app:app\n", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "app")
    for name, text in untracked.items():
        (root / name).write_text(text)
    return root


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under the app (.git aside) with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in root.rglob("*")
        if ".git" not in path.relative_to(root).parts
    }


def profile(app: Path, home: Path) -> tuple[int, str, str]:
    result = run_slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--requests", "2", "-q", "--format", "json",
        HOME=str(home),
    )  # fmt: skip
    assert "Traceback (most recent call last)" not in result.stderr.split("slugprof:")[-1]
    return result.returncode, result.stdout, result.stderr


def test_a_file_slugignore_removes_is_absent_and_the_failure_names_it(git: GitRunner, tmp_path: Path) -> None:
    loads = (
        "import pickle, os\nMODEL = open(os.path.join(os.path.dirname(__file__), 'model.pkl'), 'rb').read()\n"
    )
    app = committed_app(
        git,
        tmp_path / "app",
        {"app.py": loads + HELLO_WSGI, "model.pkl": "weights", ".slugignore": "*.pkl\n"},
        {},
    )
    code, _, stderr = profile(app, tmp_path / "home")
    assert code == 3, stderr
    assert "model.pkl is on disk here but not in the slug (.slugignore: *.pkl removes it)" in stderr


def test_a_module_never_committed_is_absent_and_the_failure_says_so(git: GitRunner, tmp_path: Path) -> None:
    app = committed_app(
        git, tmp_path / "app", {"app.py": "import helpers\n" + HELLO_WSGI}, {"helpers.py": "VALUE = 1\n"}
    )
    code, _, stderr = profile(app, tmp_path / "home")
    assert code == 3, stderr
    assert "helpers.py is on disk here but not in the slug (it is not committed)" in stderr


def test_the_users_tree_and_home_are_never_written(git: GitRunner, tmp_path: Path) -> None:
    # The app writes at import, into its folder and under ~, and Python writes its __pycache__: all of
    # it lands in the copy. The user's tree is byte for byte and time for time what it was.
    writes = (
        "import os\n"
        "open('written-by-the-app.txt', 'w').write('x')\n"
        "os.makedirs(os.path.expanduser('~/.app-cache'), exist_ok=True)\n"
        "open(os.path.expanduser('~/.app-cache/state'), 'w').write(os.environ['HOME'])\n"
    )
    app = committed_app(git, tmp_path / "app", {"app.py": writes + HELLO_WSGI, "lib.py": "X = 1\n"}, {})
    home = tmp_path / "home"
    home.mkdir()
    before = tree_state(app)
    code, stdout, stderr = profile(app, home)
    assert code == 0, stderr
    assert tree_state(app) == before
    assert list(home.iterdir()) == []
    report = json.loads(stdout)
    assert report["requests"]["status_codes"] == {"200": 2}


def test_the_django_sample_runs_collectstatic_in_the_copy_and_answers(tmp_path: Path) -> None:
    # WhiteNoise's compressed manifest storage answers 500 without the manifest collectstatic writes:
    # the build writes it, so the profile runs the step too, in its copy of the slug.
    app = Path(__file__).resolve().parent.parent / "sample_apps" / "django_whitenoise"
    before = {path for path in tree_state(app) if not path.startswith(".venv")}
    code, stdout, stderr = profile(app, tmp_path / "home")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["requests"]["status_codes"] == {"200": 2}
    step = next(note for note in report["notes"] if "collectstatic" in note)
    assert step.startswith("python manage.py collectstatic --noinput, as the build runs it")
    assert int(step.rsplit(": ", 1)[1].split()[0]) > 0  # the files it added to the copy
    assert {path for path in tree_state(app) if not path.startswith(".venv")} == before  # no staticfiles/


def test_collectstatic_that_fails_fails_the_profile_as_it_fails_the_build(
    git: GitRunner, tmp_path: Path
) -> None:
    manage = (
        "import sys\n"
        "if sys.argv[1:2] == ['collectstatic']:\n"
        "    sys.exit('STATIC_ROOT is not set: ImproperlyConfigured')\n"
    )
    app = committed_app(git, tmp_path / "app", {"app.py": HELLO_WSGI, "manage.py": manage}, {})
    code, _, stderr = profile(app, tmp_path / "home")
    assert code == 3, stderr
    assert "collectstatic failed (exit status 1), and on Heroku it fails the build" in stderr
    assert "STATIC_ROOT is not set" in stderr
    (app / ".heroku").mkdir()
    (app / ".heroku" / "collectstatic_disabled").write_text("")
    git(app, "add", ".")
    git(app, "commit", "-q", "-m", "disable")
    code, stdout, stderr = profile(app, tmp_path / "home")
    assert code == 0, stderr
    assert "collectstatic did not run: .heroku/collectstatic_disabled exists" in json.loads(stdout)["notes"]
