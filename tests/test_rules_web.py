"""WEB rules on apps committed to real git repositories: each fires on the Procfile line (or the file it
names) that shows its evidence, and stays silent without it; the sample apps give none."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import FLASK_APP, Repo, one

from slugprof.heroku import DEFAULT_DYNO, DYNO_PLANS
from slugprof.model import Finding, Severity
from slugprof.rules import registered
from slugprof.rules.registry import Needs

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

ROOT = Path(__file__).resolve().parent.parent
FASTAPI_APP = {
    "requirements.txt": "fastapi\nuvicorn\n",
    ".python-version": "3.13\n",
    "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
}
FLASK_DEBUG_APP = (
    "from flask import Flask\n"
    "\n"
    "app = Flask(__name__)\n"
    "\n"
    "\n"
    "@app.get('/')\n"
    "def index():\n"
    "    return 'hello'\n"
    "\n"
    "\n"
    "if __name__ == '__main__':\n"
    "    app.run(debug=True)\n"
)
STANDARD_1X = next(plan for plan in DYNO_PLANS if plan.name == DEFAULT_DYNO)


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def web(repo: Repo) -> list[Finding]:
    return [finding for finding in repo.findings() if finding.id.startswith("WEB")]


def procfile_edit(finding: Finding) -> tuple[str | None, str]:
    assert finding.fix is not None and len(finding.fix.edits) == 1
    edit = finding.fix.edits[0]
    assert edit.path == "Procfile"
    return edit.old, edit.new


def test_the_web_rules_read_the_files_alone() -> None:
    web_rules = [rule for rule in registered() if rule.family == "WEB"]
    assert [rule.id for rule in web_rules] == ["WEB600", "WEB610", "WEB620", "WEB630"]
    assert all(rule.needs == Needs.FILES for rule in web_rules)


# --- WEB610: listening on $PORT ----------------------------------------------------------------------


def test_gunicorn_without_a_bind_and_with_port_are_silent(repo: Repo) -> None:
    repo.commit(FLASK_APP)  # web: gunicorn app:app: gunicorn binds 0.0.0.0:$PORT when PORT is set
    assert web(repo) == []
    repo.commit({"Procfile": "web: gunicorn -b 0.0.0.0:$PORT app:app\n"})
    assert web(repo) == []
    repo.commit({"Procfile": "web: gunicorn --bind=[::]:${PORT} app:app\n"})
    assert web(repo) == []


def test_gunicorn_bound_to_localhost_or_a_fixed_port(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "Procfile": "release: true\nweb: gunicorn -b 127.0.0.1:8000 app:app\n"})
    finding = one(repo.findings(), "WEB610")
    assert finding.severity == Severity.ERROR
    assert finding.location is not None and (finding.location.path, finding.location.line) == ("Procfile", 2)
    assert "web: gunicorn -b 127.0.0.1:8000 app:app" in finding.title
    assert any("127.0.0.1 accepts connections from the dyno itself only" in line for line in finding.evidence)
    assert procfile_edit(finding) == (
        "web: gunicorn -b 127.0.0.1:8000 app:app",
        "web: gunicorn --bind 0.0.0.0:$PORT app:app",
    )
    repo.commit({"Procfile": "web: gunicorn --bind 0.0.0.0:5000 app:app\n"})
    finding = one(repo.findings(), "WEB610")
    assert any("port 5000 is fixed" in line for line in finding.evidence)
    repo.commit({"Procfile": "web: gunicorn -b unix:/tmp/nginx.socket app:app\n"})  # a proxy in front
    assert "WEB610" not in repo.ids()


def test_uvicorn_without_the_port_from_port(repo: Repo) -> None:
    repo.commit({**FASTAPI_APP, "Procfile": "web: uvicorn main:app\n"})
    finding = one(repo.findings(), "WEB610")
    assert finding.severity == Severity.ERROR
    assert any("127.0.0.1:8000" in line for line in finding.evidence)
    assert procfile_edit(finding) == (
        "web: uvicorn main:app",
        "web: uvicorn --host 0.0.0.0 --port $PORT main:app",
    )
    repo.commit({"Procfile": "web: uvicorn main:app --port $PORT\n"})  # the host is still 127.0.0.1
    finding = one(repo.findings(), "WEB610")
    assert procfile_edit(finding)[1] == "web: uvicorn --host 0.0.0.0 --port $PORT main:app"
    repo.commit({"Procfile": "web: uvicorn main:app --host 0.0.0.0 --port $PORT\n"})
    assert web(repo) == []


@pytest.mark.parametrize(
    ("command", "fixed"),
    [
        ("hypercorn main:app", "hypercorn --bind 0.0.0.0:$PORT main:app"),
        ("daphne main:app", "daphne -b 0.0.0.0 -p $PORT main:app"),
        ("waitress-serve main:app", "waitress-serve --port=$PORT main:app"),
        ("python -m uvicorn main:app --host localhost --port $PORT", None),
    ],
)
def test_other_servers_on_their_own_defaults(repo: Repo, command: str, fixed: str | None) -> None:
    repo.commit({**FASTAPI_APP, "Procfile": f"web: {command}\n"})
    finding = one(repo.findings(), "WEB610")
    if fixed is not None:
        assert procfile_edit(finding) == (f"web: {command}", f"web: {fixed}")
    bound = {
        "hypercorn main:app": "hypercorn main:app --bind 0.0.0.0:$PORT",
        "daphne main:app": "daphne -b 0.0.0.0 -p $PORT main:app",
        "waitress-serve main:app": "waitress-serve --port=$PORT main:app",
    }.get(command, "python -m uvicorn main:app --host 0.0.0.0 --port $PORT")
    repo.commit({"Procfile": f"web: {bound}\n"})
    assert "WEB610" not in repo.ids()


def test_a_gunicorn_config_that_binds_localhost(repo: Repo) -> None:
    config = 'import os\n\nbind = "127.0.0.1:8000"\n'
    repo.commit({**FLASK_APP, "gunicorn.conf.py": config})
    finding = one(repo.findings(), "WEB610")
    assert any(line.startswith("gunicorn.conf.py:3 binds `127.0.0.1:8000`") for line in finding.evidence)
    assert finding.location is not None and finding.location.path == "Procfile"
    assert finding.fix is not None
    assert [(e.path, e.old, e.new) for e in finding.fix.edits] == [
        ("gunicorn.conf.py", 'bind = "127.0.0.1:8000"\n', "")
    ]
    # -c names the config gunicorn reads instead of ./gunicorn.conf.py
    repo.commit(
        {
            "gunicorn.conf.py": "import os\n\nbind = [f\"[::]:{os.environ.get('PORT', '5000')}\"]\n",
            "deploy/gunicorn.py": "bind = 'localhost:5000'\n",
        }
    )
    assert "WEB610" not in repo.ids()
    repo.commit({"Procfile": "web: gunicorn -c deploy/gunicorn.py app:app\n"})
    finding = one(repo.findings(), "WEB610")
    assert any(line.startswith("deploy/gunicorn.py:1 binds") for line in finding.evidence)


def test_a_cd_before_the_server_moves_where_its_config_is_read(repo: Repo) -> None:
    repo.commit(
        {
            **FLASK_APP,
            "Procfile": "web: cd site && gunicorn app:app\n",
            "site/gunicorn.conf.py": "bind = 'localhost:5000'\nworkers = 3\n",
        }
    )
    findings = repo.findings()
    assert any(line.startswith("site/gunicorn.conf.py:1 binds") for line in one(findings, "WEB610").evidence)
    assert one(findings, "WEB620").fix is not None
    repo.commit({"Procfile": "web: gunicorn app:app\n"})  # ./gunicorn.conf.py: there is none at the root
    assert web(repo) == []


# --- WEB600: development servers ----------------------------------------------------------------------


def test_flask_run_is_a_development_server(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "Procfile": "web: flask run --host 0.0.0.0 --port $PORT\n"})
    finding = one(repo.findings(), "WEB600")
    assert finding.severity == Severity.ERROR
    assert finding.location is not None and (finding.location.path, finding.location.line) == ("Procfile", 1)
    assert "flask run" in finding.title
    assert procfile_edit(finding) == ("web: flask run --host 0.0.0.0 --port $PORT", "web: gunicorn app:app")
    assert "WEB610" not in repo.ids()  # WEB600's fix replaces the whole command
    repo.commit({"Procfile": "web: python -m flask --app app run\n"})
    assert procfile_edit(one(repo.findings(), "WEB600"))[1] == "web: gunicorn app:app"


def test_python_app_py_with_debug_true_names_the_line(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "app.py": FLASK_DEBUG_APP, "Procfile": "web: python app.py\n"})
    finding = one(repo.findings(), "WEB600")
    assert any(line.startswith("app.py:12 calls app.run(debug=True)") for line in finding.evidence)
    assert any(line.startswith("app.py:12 passes debug=True") for line in finding.evidence)
    assert procfile_edit(finding) == ("web: python app.py", "web: gunicorn app:app")
    # The same file served by gunicorn: app.run() never runs.
    repo.commit({"Procfile": "web: gunicorn app:app\n"})
    assert web(repo) == []


def test_a_script_that_is_not_a_flask_dev_server_is_silent(repo: Repo) -> None:
    server = (
        "import os\n\nimport uvicorn\n\nfrom main import app\n\n"
        "uvicorn.run(app, host='0.0.0.0', port=int(os.environ['PORT']))\n"
    )
    repo.commit({**FASTAPI_APP, "serve.py": server, "Procfile": "web: python serve.py\n"})
    assert web(repo) == []


def test_django_runserver_and_uvicorn_reload(repo: Repo) -> None:
    manage = "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
    repo.commit(
        {
            "requirements.txt": "django\ngunicorn\n",
            ".python-version": "3.13\n",
            "manage.py": manage,
            "mysite/__init__.py": "",
            "mysite/wsgi.py": "application = None\n",
            "Procfile": "web: python manage.py migrate && python manage.py runserver 0.0.0.0:$PORT\n",
        }
    )
    finding = one(repo.findings(), "WEB600")
    assert procfile_edit(finding)[1] == "web: python manage.py migrate && gunicorn mysite.wsgi"
    repo.commit({"Procfile": "web: uvicorn main:app --reload --host 0.0.0.0 --port 8000\n"})
    finding = one(repo.findings(), "WEB600")
    assert any("port 8000 is fixed" in line for line in finding.evidence)
    assert procfile_edit(finding)[1] == "web: uvicorn --host 0.0.0.0 --port $PORT main:app"
    assert "WEB610" not in repo.ids()


def test_flask_debug_variables_in_the_command(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "Procfile": "web: FLASK_DEBUG=1 gunicorn app:app\n"})
    finding = one(repo.findings(), "WEB600")
    assert any(line.startswith("FLASK_DEBUG=1 in the command") for line in finding.evidence)
    assert procfile_edit(finding) == ("web: FLASK_DEBUG=1 gunicorn app:app", "web: gunicorn app:app")
    repo.commit({"Procfile": "web: FLASK_ENV=development gunicorn app:app\n"})
    assert any(line.startswith("FLASK_ENV=development") for line in one(repo.findings(), "WEB600").evidence)
    repo.commit({"Procfile": "web: FLASK_DEBUG=0 gunicorn app:app\n"})
    assert web(repo) == []


# --- WEB620: worker counts ----------------------------------------------------------------------------


def test_a_fixed_worker_count_on_the_command_line(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "Procfile": "web: gunicorn app:app -w 4 --preload\n"})
    finding = one(repo.findings(), "WEB620")
    assert finding.severity == Severity.WARNING
    assert any(f"{STANDARD_1X.web_concurrency} on {STANDARD_1X.name}" in line for line in finding.evidence)
    assert procfile_edit(finding) == (
        "web: gunicorn app:app -w 4 --preload",
        "web: gunicorn app:app --preload",
    )
    repo.commit({"Procfile": "web: gunicorn app:app --workers $WEB_CONCURRENCY\n"})
    assert "WEB620" not in repo.ids()
    repo.commit({"Procfile": "web: gunicorn app:app --workers=$(nproc)\n"})
    assert any("core count" in line for line in one(repo.findings(), "WEB620").evidence)


def test_a_worker_count_from_the_cores_in_the_config(repo: Repo) -> None:
    config = "import multiprocessing\n\nworkers = multiprocessing.cpu_count() * 2 + 1\n"
    repo.commit({**FLASK_APP, "gunicorn.conf.py": config})
    finding = one(repo.findings(), "WEB620")
    assert any(
        line.startswith("gunicorn.conf.py:3 sets `workers = multiprocessing") for line in finding.evidence
    )
    assert any(f"reports {STANDARD_1X.cores} cores" in line for line in finding.evidence)
    assert finding.fix is not None
    assert [(e.path, e.old) for e in finding.fix.edits] == [
        ("gunicorn.conf.py", "workers = multiprocessing.cpu_count() * 2 + 1\n")
    ]
    assert 'os.environ.get("WEB_CONCURRENCY"' in finding.fix.edits[0].new
    repo.commit({"gunicorn.conf.py": 'import os\n\nworkers = int(os.environ.get("WEB_CONCURRENCY", 2))\n'})
    assert "WEB620" not in repo.ids()
    repo.commit({"gunicorn.conf.py": "workers = 4\n"})
    assert "WEB620" in repo.ids()
    repo.commit({"Procfile": "web: gunicorn app:app -w $WEB_CONCURRENCY\n"})  # overrides the config
    assert "WEB620" not in repo.ids()


# --- WEB630: Celery -----------------------------------------------------------------------------------


def test_a_celery_worker_without_concurrency(repo: Repo) -> None:
    procfile = "web: gunicorn app:app\nworker: celery -A proj worker --loglevel=info\n"
    repo.commit({**FLASK_APP, "requirements.txt": "flask\ncelery\n", "Procfile": procfile})
    finding = one(repo.findings(), "WEB630")
    assert finding.severity == Severity.WARNING
    assert finding.location is not None and (finding.location.path, finding.location.line) == ("Procfile", 2)
    assert any(f"{STANDARD_1X.cores} worker processes" in line for line in finding.evidence)
    assert procfile_edit(finding) == (
        "worker: celery -A proj worker --loglevel=info",
        f"worker: celery -A proj worker --concurrency {STANDARD_1X.web_concurrency} --loglevel=info",
    )
    for silent in (
        "celery -A proj worker --concurrency=2",
        "celery -A proj worker -c 2",
        "celery -A proj worker -P solo",
    ):
        repo.commit({"Procfile": f"web: gunicorn app:app\nworker: {silent}\n"})
        assert "WEB630" not in repo.ids(), silent


def test_celery_concurrency_set_in_the_app_is_silent(repo: Repo) -> None:
    celery_app = "from celery import Celery\napp = Celery('proj')\napp.conf.worker_concurrency = 2\n"
    procfile = "web: gunicorn app:app\nworker: celery -A proj worker\n"
    repo.commit({**FLASK_APP, "proj.py": celery_app, "Procfile": procfile})
    assert "WEB630" not in repo.ids()
