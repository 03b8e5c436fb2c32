"""The config vars the profile runs with: `.env` as `heroku local` reads it, or another file, none, the
app's real config vars through the Heroku CLI, and `--set`; named in the report, never their values."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from clirun import HELLO_WSGI, run_slugprof

from slugprof.sources.config_vars import development_switches

SECRET = "s3cr3t-value-never-shown"
# The app needs SECRET_KEY to boot, as real apps do, and answers with the DEBUG it saw.
NEEDS_A_KEY = "import os\nKEY = os.environ['SECRET_KEY']\n" + HELLO_WSGI


def write_app(root: Path, dotenv: str | None) -> Path:
    root.mkdir(parents=True)
    (root / "Procfile").write_text("web: gunicorn app:app\n")
    (root / "app.py").write_text(NEEDS_A_KEY)
    if dotenv is not None:
        (root / ".env").write_text(dotenv)
    return root


def profile(app: Path, *extra: str, path: str | None = None) -> tuple[int, str, str]:
    variables = {"PATH": path} if path else {}
    result = run_slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--requests", "2", "-q", "--format", "json",
        *extra, variables=variables,
    )  # fmt: skip
    assert "Traceback (most recent call last)" not in result.stderr.split("slugprof:")[-1]
    return result.returncode, result.stdout, result.stderr


@pytest.mark.slow
def test_dotenv_is_read_named_never_shown_and_a_development_switch_is_a_finding(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", f"SECRET_KEY={SECRET}\nDEBUG=true\n")
    code, stdout, stderr = profile(app)
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["config_vars"] == [
        {"name": "DEBUG", "origin": ".env", "development": True},
        {"name": "SECRET_KEY", "origin": ".env", "development": False},
    ]
    (finding,) = [f for f in report["findings"] if f["id"] == "MEM503"]
    assert finding["title"].startswith("the profile ran with DEBUG set for development (from .env)")
    saved = tmp_path / "profile.json"
    saved.write_text(stdout)
    html = run_slugprof("report", saved, "--format", "html")
    assert "config vars from .env: DEBUG, SECRET_KEY" in html.stdout
    terminal = run_slugprof("profile", app, "--env", sys.executable, "--no-memray", "--requests", "1")
    assert "config vars from .env: DEBUG, SECRET_KEY" in terminal.stdout
    for text in (stdout, stderr, terminal.stdout, terminal.stderr, html.stdout):
        assert SECRET not in text
    # --set wins over .env: with DEBUG=false the run is no development server
    code, stdout, _ = profile(app, "--set", "DEBUG=false")
    report = json.loads(stdout)
    assert {"name": "DEBUG", "origin": "--set", "development": False} in report["config_vars"]
    assert "MEM503" not in [f["id"] for f in report["findings"]]


@pytest.mark.slow
def test_no_env_file_and_another_env_file(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", f"SECRET_KEY={SECRET}\n")
    code, _, stderr = profile(app, "--no-env-file")
    assert code == 3 and "KeyError: 'SECRET_KEY'" in stderr  # the app cannot boot without its key
    code, stdout, stderr = profile(app, "--no-env-file", "--set", "SECRET_KEY=x")
    assert code == 0, stderr
    assert json.loads(stdout)["config_vars"] == [
        {"name": "SECRET_KEY", "origin": "--set", "development": False}
    ]
    production = tmp_path / "production.env"
    production.write_text("SECRET_KEY=other\nENVIRONMENT=production\n")
    code, stdout, stderr = profile(app, "--env-file", str(production))
    assert code == 0, stderr
    assert {v["origin"] for v in json.loads(stdout)["config_vars"]} == {str(production)}
    code, _, stderr = profile(app, "--env-file", str(tmp_path / "missing.env"))
    assert code == 2 and "--env-file" in stderr and "no such file" in stderr


def heroku_stub(folder: Path, script: str) -> str:
    """A `heroku` program standing in for the Heroku CLI (Heroku cannot be reached from the tests)."""
    folder.mkdir()
    stub = folder / "heroku"
    stub.write_text("#!/bin/sh\n" + script)
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.mark.slow
def test_heroku_config_takes_the_apps_real_config_vars_instead_of_dotenv(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", "SECRET_KEY=dev\nDEBUG=1\n")
    asked = tmp_path / "asked"
    answer = json.dumps({"SECRET_KEY": SECRET, "DATABASE_URL": "postgres://u:p@h/d"})
    path = heroku_stub(tmp_path / "bin", f"echo \"$@\" > {asked}\necho '{answer}'\n")
    code, stdout, stderr = profile(app, "--heroku-config", "shop-prod", path=path)
    assert code == 0, stderr
    assert asked.read_text().split() == ["config", "--json", "--app", "shop-prod"]
    report = json.loads(stdout)
    assert [(v["name"], v["origin"]) for v in report["config_vars"]] == [
        ("DATABASE_URL", "heroku config (shop-prod)"),
        ("SECRET_KEY", "heroku config (shop-prod)"),
    ]  # .env (with its DEBUG) is not read: the dyno never reads it
    assert SECRET not in stdout + stderr and "u:p@h" not in stdout + stderr


def test_a_heroku_cli_that_refuses_says_what_it_said(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", None)
    path = heroku_stub(tmp_path / "bin", "echo ' ▸    Invalid credentials provided.' >&2\nexit 1\n")
    code, _, stderr = profile(app, "--heroku-config", "shop", path=path)
    assert code == 2, stderr
    assert "--heroku-config shop: the Heroku CLI says: Invalid credentials provided." in stderr


@pytest.mark.parametrize("bad", ["DEBUG", "=x", "2FA=on", "A B=c"])
def test_a_bad_set_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    code, _, stderr = profile(write_app(tmp_path / "app", None), "--set", bad)
    assert code == 2 and "give NAME=VALUE" in stderr


def test_what_counts_as_a_development_switch() -> None:
    values = {
        "DEBUG": "True",
        "FLASK_DEBUG": "0",
        "ENVIRONMENT": "development",
        "FLASK_ENV": "production",
        "GUNICORN_CMD_ARGS": "--reload --timeout 30",
        "SECRET_KEY": "development",  # not a switch, whatever its value
    }
    assert development_switches(values) == ("DEBUG", "ENVIRONMENT", "GUNICORN_CMD_ARGS")
