"""SLUG230 on apps committed to real git repositories: a module or data file the code names that is on
disk but not pushed is reported; once committed, or when it is only `.env`, it is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import FLASK_APP, Repo, one

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

APP = (
    "import json\n"
    "from flask import Flask\n"
    "import local_settings\n"
    "from .helpers import tools\n"
    "app = Flask(__name__)\n"
    "MODEL = open('models/scorer.json').read()\n"
    "CONFIG = json.load(open('.env.json')) if False else None\n"
    "from dotenv import load_dotenv\n"
    "load_dotenv('.env')\n"
)


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def test_files_the_code_names_that_are_not_pushed(repo: Repo) -> None:
    repo.commit({**FLASK_APP, "app.py": APP, ".gitignore": "local_settings.py\n"})
    repo.write(
        {
            "local_settings.py": "DEBUG = True\n",
            "models/scorer.json": "{}\n",
            ".env": "A=1\n",
            "helpers/tools.py": "",
        }
    )
    finding = one(repo.findings(), "SLUG230")
    assert finding.evidence == (
        "local_settings.py (ignored by git) is named at app.py:3",
        "helpers/tools.py (not committed) is named at app.py:4",  # a relative import, from app.py's folder
        "models/scorer.json (not committed) is named at app.py:6",
    )
    assert finding.location is not None and (finding.location.path, finding.location.line) == ("app.py", 3)
    assert (
        finding.fix is not None
        and finding.fix.command == "git add -- 'helpers/tools.py' 'models/scorer.json'"
    )


def test_silent_once_they_are_committed(repo: Repo) -> None:
    repo.commit(
        {**FLASK_APP, "app.py": APP, "local_settings.py": "DEBUG = True\n", "models/scorer.json": "{}\n"}
    )
    repo.write({".env": "A=1\n"})
    assert "SLUG230" not in repo.ids()
