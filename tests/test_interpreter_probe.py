"""One start of the app's interpreter answers the environment's questions and memray's.

The venvs here carry a sitecustomize that appends a line to a file at each start of their interpreter:
the starts are counted, not assumed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from slugprof.measure.memray_availability import app_interpreter_questions, memray_status
from slugprof.sources.environment import (
    InterpreterQuestions,
    ModuleImport,
    find_environment,
    query_environment,
)

pytestmark = pytest.mark.slow

COUNTING_SITECUSTOMIZE = """\
import json, os, sys
with open(os.environ["TEST_STARTS_FILE"], "a") as starts:
    starts.write(json.dumps({"argv0": sys.argv[0], "dyno": os.environ.get("DYNO")}) + "\\n")
"""
SERVER = """\
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def make_venv(folder: Path, sitecustomize: str = COUNTING_SITECUSTOMIZE) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=60)
    (site_packages,) = (folder / "lib").glob("python*/site-packages")
    (site_packages / "sitecustomize.py").write_text(sitecustomize)
    return folder / "bin" / "python"


def starts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def starts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "starts.jsonl"
    monkeypatch.setenv("TEST_STARTS_FILE", str(path))
    return path


def test_the_environment_answers_memrays_questions_in_the_same_start(
    tmp_path: Path, starts_file: Path
) -> None:
    python = make_venv(tmp_path / "venv")
    environment = find_environment(tmp_path, str(tmp_path / "venv"), {}, app_interpreter_questions())
    assert environment is not None and len(starts(starts_file)) == 1
    assert environment.modules["memray"].error is not None  # a fresh venv: no memray of its own
    availability = memray_status(str(python), environment)
    assert availability.status == "borrowed", availability.reason
    assert len(starts(starts_file)) == 1  # memray's check used the answer: no second start
    memray_status(str(python))  # asked without the environment: it starts the interpreter itself
    assert len(starts(starts_file)) == 2


def site_packages_of(venv: Path) -> Path:
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    return site_packages


def test_one_start_answers_the_asked_distributions_and_modules(tmp_path: Path, starts_file: Path) -> None:
    python = make_venv(tmp_path / "venv")
    site_packages = site_packages_of(tmp_path / "venv")
    info = site_packages / "Some_Dist-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Some_Dist\nVersion: 1.2\n")
    (site_packages / "with_version.py").write_text("__version__ = '3.4'\n")
    questions = InterpreterQuestions(
        distributions=("some-dist", "no-such-dist"), modules=("with_version", "nope_x")
    )
    environment = query_environment(str(python), "--env", questions)
    assert len(starts(starts_file)) == 1
    assert environment.distributions == {"some-dist": "1.2"}
    assert environment.modules["with_version"] == ModuleImport("3.4", None)
    assert (environment.modules["nope_x"].error or "").startswith("ModuleNotFoundError: ")
    assert environment.ext_suffix.endswith((".so", ".pyd"))
    assert query_environment(str(python), "--env").modules == {}
    assert len(starts(starts_file)) == 2


def test_a_module_that_kills_the_interpreter_costs_only_the_import_answer(tmp_path: Path) -> None:
    sitecustomize = "print('noise from a sitecustomize')\n"
    python = make_venv(tmp_path / "venv", sitecustomize)
    (site_packages_of(tmp_path / "venv") / "crasher.py").write_text(
        "import os, sys\nsys.stderr.write('boom\\n')\nos._exit(3)\n"
    )
    environment = query_environment(str(python), "--env", InterpreterQuestions(modules=("crasher", "json")))
    assert environment.prefix == str(tmp_path / "venv")
    for name in ("crasher", "json"):
        assert environment.modules[name].error == "importing it stopped the interpreter (boom)"


def test_profile_starts_the_app_interpreter_once_before_running_it(tmp_path: Path) -> None:
    make_venv(tmp_path / "venv")  # only its interpreter records starts: every one counted is the app's
    app = tmp_path / "app"
    app.mkdir()
    (app / "Procfile").write_text("web: python server.py\n")
    (app / "server.py").write_text(SERVER)
    starts_file = tmp_path / "starts.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WEB_CONCURRENCY", "DYNO")}
    argv = ["profile", str(app), "--env", str(tmp_path / "venv"), "--format", "json", "-q", "--requests", "2"]
    completed = subprocess.run(
        [sys.executable, "-m", "slugprof", *argv],
        env={**env, "TEST_STARTS_FILE": str(starts_file)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["memray"]["mode"] == "borrowed"  # memray's check was answered, and the app ran under it
    recorded = starts(starts_file)
    preparation = [start for start in recorded if start["dyno"] is None]
    assert len(preparation) == 1, preparation  # the environment's query, with memray's questions
    assert preparation[0]["argv0"] == "-c"
    assert [start["dyno"] for start in recorded].count("web.1") == 2  # the sampler's run and memray's
    assert all(start["argv0"] != "-c" for start in recorded if start["dyno"] == "web.1")
