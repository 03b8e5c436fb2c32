"""SEC420 on apps committed to real git repositories: credentials in plain text, labelled in any
language or in a known token format, said with the file, the line and the kind, the value in no format
of the report. Every token here is fake and made at run time from parts, so no file of this repository
holds one."""

from __future__ import annotations

import base64
import random
import string
from pathlib import Path

import pytest
from conftest import GitRunner
from test_rules_build import FLASK_APP, Repo

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.cli.output import render
from slugprof.config import Settings
from slugprof.model import Finding, Severity
from slugprof.rules.sec_text import credentials_in

pytestmark = pytest.mark.slow  # real git repositories and the whole pipeline, per test

ROOT = Path(__file__).resolve().parent.parent
_RANDOM = random.Random(420)


def fake(alphabet: str, length: int) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(length))


UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def _jwt() -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    return ".".join((part(b'{"alg":"HS256","typ":"JWT"}'), part(b'{"sub":"42","n":"x"}'), fake(ALNUM, 43)))


PASSWORD = fake(ALNUM, 10) + "7!"  # the one value every labelled line below holds
TOKENS = {
    "an AWS access key": "AK" + "IA" + fake(UPPER_DIGITS, 16),
    "a GitHub token": "gh" + "p_" + fake(ALNUM, 36),
    "a GitLab token": "gl" + "pat-" + fake(ALNUM, 20),
    "a Slack token": "xo" + "xb-" + fake(string.digits, 11) + "-" + fake(string.ascii_lowercase, 24),
    "a Stripe key": "sk" + "_live_" + fake(ALNUM, 24),
    "a JSON web token": _jwt(),
    "a password in a URL": "postgres://admin:" + PASSWORD + "@db.internal.example.net:5432/app",
}
LABELLED = {  # one notes file per language, each labels the same password
    "es": "CONTRASEÑA: {}",
    "en": "password = {}",
    "de": "Passwort: {}",
    "fr": "mot de passe : {}",
    "pt": "senha: {}",
    "nl": "wachtwoord = {}",
    "ru": "пароль: {}",
    "zh": "密码\uff1a{}",  # the full-width colon Chinese text uses
    "ja": "パスワード: {}",
}
OTHER_LABELS = {"a token": "token: {}", "an API key": "api_key={}", "a secret": "client_secret: {}"}


@pytest.fixture
def repo(tmp_path: Path, git: GitRunner) -> Repo:
    return Repo(tmp_path / "app", git)


def found(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.location.path: f for f in findings if f.id == "SEC420" and f.location is not None}


def test_credentials_in_every_language_and_format_are_said_and_never_shown(repo: Repo) -> None:
    files = {
        f"notes/{language}.txt": "deploy notes\n\n" + label.format(PASSWORD) + "\n"
        for language, label in LABELLED.items()
    }
    files.update(
        {
            f"tokens/{index}.md": f"# keys\nused by the cron job: {token}\n"
            for index, token in enumerate(TOKENS.values())
        }
    )
    files.update(
        {
            f"conf/{index}.yml": f"service:\n  {label.format(PASSWORD)}\n"
            for index, label in enumerate(OTHER_LABELS.values())
        }
    )
    files["settings_local.py"] = f'DATABASES = {{"default": {{"PASSWORD": "{PASSWORD}"}}}}\n'
    repo.commit({**FLASK_APP, **files})
    report = repo.report()
    by_path = found(report.findings)
    for language in LABELLED:
        finding = by_path.pop(f"notes/{language}.txt")
        assert finding.severity == Severity.ERROR
        assert finding.location is not None and finding.location.line == 3
        assert finding.evidence == (f"notes/{language}.txt, line 3: a password (the value is not shown)",)
        assert finding.fix is not None
        assert [(e.path, e.new) for e in finding.fix.edits] == [(".slugignore", f"/notes/{language}.txt\n")]
        assert finding.change is not None and finding.change.app_paths == (f"notes/{language}.txt",)
        assert finding.savings_bytes is not None and finding.savings_bytes > 0
    for index, kind in enumerate(TOKENS):
        finding = by_path.pop(f"tokens/{index}.md")
        assert finding.title == f"tokens/{index}.md holds {kind} in plain text, and it ships in the slug"
    for index, kind in enumerate(OTHER_LABELS):
        finding = by_path.pop(f"conf/{index}.yml")
        assert finding.evidence == (f"conf/{index}.yml, line 2: {kind} (the value is not shown)",)
        assert finding.fix is not None and finding.fix.edits == ()  # config the app may read: no .slugignore
    finding = by_path.pop("settings_local.py")
    assert finding.location is not None and finding.location.line == 1
    assert by_path == {}
    for output_format in ("json", "terminal", "markdown", "html"):
        text = render(report, output_format, to_terminal=False)
        for secret in (PASSWORD, *TOKENS.values()):
            assert secret not in text, output_format
        assert "SEC420" in text, output_format


PLACEHOLDERS = """\
password: changeme
password = <password>
DB_PASSWORD=${DB_PASSWORD}
token: xxxxxxxx
api_key =
secret: "{{ vault_secret }}"
password: see the admin page
"output_token": "NextToken"
url = postgres://user:password@localhost/app
"""
READS_CONFIG = """\
import os

SECRET_KEY = os.environ.get("SECRET_KEY", "dev")
PASSWORD = os.environ["DB_PASSWORD"]
token = settings.API_TOKEN
password = get_password()
"""


def test_placeholders_and_code_that_reads_config_vars_are_silent(repo: Repo) -> None:
    env_file = ".env.production"
    repo.commit(
        {
            **FLASK_APP,
            "docs/setup.md": PLACEHOLDERS,
            "config.py": READS_CONFIG,
            env_file: f"PASSWORD={PASSWORD}\n",  # SEC400's, not said twice
        }
    )
    findings = repo.report().findings
    assert found(findings) == {}
    assert [f.location.path for f in findings if f.id == "SEC400" and f.location] == [env_file]
    # The same lines with real values are said: the silence above is the placeholders'.
    assert credentials_in(f"password: {PASSWORD}\n", python=False) != ()
    assert credentials_in(f'PASSWORD = "{PASSWORD}"\n', python=True) != ()


def test_a_private_key_is_said_once_by_sec400(repo: Repo) -> None:
    key = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + fake(ALNUM, 64) + "\n-----END RSA PRIVATE KEY-----\n"
    repo.commit({**FLASK_APP, "notes.txt": "the deploy key\n" + key})
    findings = repo.report().findings
    assert [(f.id, f.location.line) for f in findings if f.id.startswith("SEC") and f.location] == [
        ("SEC400", 2)
    ]


def test_third_party_code_committed_with_the_app_is_not_read_for_credentials(repo: Repo) -> None:
    vendored = "venv/lib/python3.11/site-packages/somelib/defaults.py"
    line = f'PASSWORD = "{PASSWORD}"\n'
    repo.commit({**FLASK_APP, vendored: line, "ops/notes.py": line})
    findings = repo.report().findings
    assert [f.location.path for f in findings if f.id == "SEC420" and f.location] == ["ops/notes.py"]


@pytest.mark.parametrize(
    "app", ["flask_basic", "django_whitenoise", "fastapi_gunicorn", "uv_app", "poetry_app", "pipenv_app"]
)
def test_the_sample_apps_hold_no_credential(app: str, tmp_path: Path) -> None:
    options = AnalyzeOptions(
        app_root=ROOT / "sample_apps" / app, settings=Settings(), offline=True, cache_dir=tmp_path / "cache"
    )
    assert [f"{f.id}: {f.title}" for f in analyze(options, {}).findings if f.id == "SEC420"] == []
