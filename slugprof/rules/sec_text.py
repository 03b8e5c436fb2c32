"""SEC420: credentials written in plain text in files that ship: a password in a notes file, in any
language, a token in a config file, a key pasted into code. Evidence names the file, the line and the
kind of credential, never the value.

One scan reads every shipped text file once, for this rule and for SEC400's private keys. A file is
ruled out by a plain search of its bytes for the words and token prefixes below, so only the few that
hold one are decoded and searched line by line.

Token formats are our own table of the formats their issuers publish (AWS, GitHub, GitLab, Slack,
Stripe, PyPI, Google, SendGrid, JWTs, `scheme://user:pass@host` URLs). detect-secrets (Yelp, Apache-2.0)
was evaluated for them: its plugins can be called on a line (`analyze_string`) without its CLI or a
baseline, and it works on 3.10-3.13, but its plugin modules import `requests` (for their optional
verification calls), so loading them costs 0.13 s, more than this whole scan may add to `analyze`, and
installing it brings 7.7 MB (requests, urllib3, PyYAML, charset-normalizer, idna, certifi); its last
release is 1.5.0 (May 2024). Each format it knows is one regular expression here, with the same
published prefixes. Private keys are SEC400's (the whole file should go), not repeated here.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from slugprof.model import AppFile, Edit, Fix, Location, Severity, SlugChange
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.sources.appfiles import SLUGIGNORE

READ_LIMIT = 1_000_000  # text files larger than this are data dumps, not notes or config: not read
# Files that are never text: compiled code, images, fonts, archives. Not read at all.
BINARY = re.compile(
    r".*\.(pyc|pyo|so|pyd|dll|dylib|a|o|png|jpe?g|gif|webp|ico|woff2?|ttf|otf|zip|gz|whl|mo|pdf|sqlite3?|db)$"
)
_SNIFF_BYTES = 8192  # a NUL byte in a file's first bytes makes it binary (as git and grep decide)
_PRIVATE_KEY_MARK = b"PRIVATE KEY-----"
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# `.env` files are config vars by their name (SEC400 names them, and the examples are meant to ship).
_ENV_NAME = re.compile(r"^\.env(\..+)?$")
# Files that hold config vars or keys by their name: `.env`, `.env.production`, key files.
_SECRET_NAMES = re.compile(r"^(\.env(\..+)?|.*\.pem|.*\.key|id_rsa|id_ed25519|id_ecdsa|.*\.p12|.*\.pfx)$")
_NOT_SECRET = re.compile(r"^\.env\.(example|sample|template|dist)$")
# Files that hold credentials by their name: login files of netrc, PostgreSQL, git, PyPI and Apache, Java
# keystores, and the AWS CLI's credentials file.
_CREDENTIAL_NAMES = re.compile(
    r"^(\.netrc|_netrc|\.pgpass|\.git-credentials|\.pypirc|\.htpasswd|id_dsa|.*\.jks|.*\.keystore)$"
)
_CREDENTIAL_PATHS = re.compile(r"(^|/)\.aws/credentials$")


def secret_by_name(path: str) -> str | None:
    """What a file holds by its name alone ("config vars", "credentials", "a private key"), for SEC400,
    which names the whole file; None for other files (SEC420 reads those line by line)."""
    name = path.rsplit("/", 1)[-1]
    if _CREDENTIAL_NAMES.match(name) or _CREDENTIAL_PATHS.search(path):
        return "credentials"
    if _SECRET_NAMES.match(name) and not _NOT_SECRET.match(name):
        return "config vars" if name.startswith(".env") else "a private key"
    return None


# Files people keep notes in: when one holds a credential, the whole file should not ship.
_NOTES = re.compile(r".*\.(txt|md|markdown|rst|org|adoc|log|notes)$", re.IGNORECASE)

# The words people label a credential with, by the kind the evidence names; ours, and small. Each is
# matched when a `:` or `=` follows it (`DB_PASSWORD=`, `"api_key": `, `Passwort:`, and the full-width
# colon CJK text uses).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "an AWS secret access key": ("aws_secret_access_key", "secret_access_key"),
    "a password": (
        "password", "passwd", "pwd",  # English, and the common short forms
        "passwort", "kennwort",  # German
        "contraseña",  # Spanish
        "senha",  # Portuguese
        "mot de passe",  # French
        "wachtwoord",  # Dutch
        "lösenord",  # Swedish
        "hasło",  # Polish
        "şifre",  # Turkish
        "пароль",  # Russian, Ukrainian's is the same word
        "密码", "密碼",  # Chinese, simplified and traditional
        "パスワード",  # Japanese
        "비밀번호",  # Korean
    ),
    "an API key": ("api_key", "apikey", "api-key", "api key"),
    "a token": ("token",),
    "a secret": ("secret", "secret_key"),
}  # fmt: skip
# Token formats, as their issuers publish them, each with the plain strings one must contain (a file
# without them is not searched for it).
TOKENS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    (
        "an AWS access key",
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
    ),
    (
        "a GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b"),
    ),
    (
        "a GitLab token",
        ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-"),
        re.compile(r"\b(?:glpat|gldt|glrt|glptt|glft|glsoat)-[A-Za-z0-9_\-]{20,}"),
    ),
    ("a Slack token", ("xox",), re.compile(r"\bxox[abposr]-(?:[0-9]+-)+[A-Za-z0-9]+")),
    (
        "a Slack webhook",
        ("hooks.slack.com",),
        re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/\w+"),
    ),
    ("a Stripe key", ("k_live_",), re.compile(r"\b[rs]k_live_[0-9A-Za-z]{24,}")),
    ("a PyPI token", ("pypi-AgEI",), re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}")),
    ("a Google API key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a SendGrid key", ("SG.",), re.compile(r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b")),
    ("a JSON web token", ("eyJ",), re.compile(r"\beyJ[\w\-]{10,}\.eyJ[\w\-]{10,}\.[\w\-]{10,}", re.ASCII)),
)
# `scheme://user:password@host`: found from its `://`, the scheme does not matter.
_BASIC_AUTH = re.compile(r"://[^\s/:@'\"`]+:(?P<value>[^\s/@'\"`]+)@(?P<host>[^\s/:'\"`]+)")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1", "host", "hostname", "example.com"})

# The plain search that rules a file out, a pass over its bytes for each of these, so they are few:
# ASCII keywords in the lower-cased bytes (`passw` stands for password, passwd and passwort), the other
# languages' words as written, capitalised and in capitals (only in a file that is not all ASCII), and
# the tokens' strings and the URL with a password as written.
_ALL_WORDS = tuple(word for words in KEYWORDS.values() for word in words)
_LOWER_MARKS = (
    b"passw", b"pwd", b"kennwort", b"contrase", b"senha", b"mot de passe", b"wachtwoord", b"token", b"secret",
)  # fmt: skip
_LOWER_PATTERNS = (re.compile(rb"api[_ \-]?key"),)
_OTHER_LANGUAGES = tuple(
    sorted(
        {variant.encode("utf-8") for word in _ALL_WORDS if not word.isascii()
         for variant in (word, word.capitalize(), word.upper())}
    )
)  # fmt: skip
_TOKEN_MARKS = (b"AKIA", b"ASIA", b"xox", b"k_live_", b"pypi-AgEI", b"AIza", b"SG.", b"eyJ", b"hooks.slack")
_TOKEN_PATTERNS = (
    re.compile(rb"gh[pousr]_|github_pat_"),
    re.compile(rb"gl(?:pat|dt|rt|ptt|ft|soat)-"),
    re.compile(_BASIC_AUTH.pattern.encode("ascii")),
)
# What follows a keyword that labels a value: an optional closing quote or bracket, then `:`, `=`
# (not `==`), `=>` or the full-width colon CJK text uses, then the value to the end of the line.
_LABELS = re.compile(r"[\"'`]?\]?[ \t]*(?::|=(?!=)|\uff1a|=>)[ \t]*(?P<value>[^\r\n]*)")
_KIND_OF_WORD = {word: kind for kind, words in KEYWORDS.items() for word in words}
_QUOTED = re.compile(r"^[rRbBuU]{0,2}(?P<quote>[\"'`])(?P<text>.*?)(?P=quote)")
# Values that are no credential: placeholders, references to config vars, template variables, empty.
_PLACEHOLDER = re.compile(
    r"^(?:change[-_ ]?me.*|x{3,}|\*+|\.+|-+|_+|<[^>]*>|\[[^\]]*\]|\([^)]*\)|\$\{[^}]*\}|\$\(?\w+\)?|"
    r"%\(\w+\)s|"
    r"\{\{.*\}\}|\{\w*\}|none|null|nil|true|false|undefined|password|passwd|pass|secret|token|"
    r"your[-_ ]?\w*|example\w*|dummy\w*|placeholder|redacted|hidden|todo|tbd|fixme|n/?a|test|"
    r"\w+\(.*|(?:os\.)?(?:environ|getenv)\b.*)$",
    re.IGNORECASE,
)
# A name, a dotted path or a URL, not a credential: `"output_token": "NextToken"`, `token: auth.Token`,
# `token_url: https://...`, `password_file: /etc/app/pw`.
_NAME_LIKE = re.compile(r"^(?:[A-Za-z_][A-Za-z_.\-]*|[\w+.\-]+://.*|~?\.{0,2}/.*)$")
_REFERENCE = re.compile(r"environ|getenv|process\.env|ENV\[|\$\{|\{\{|%\(", re.IGNORECASE)
_MIN_VALUE = 4  # shorter values are flags, counts and examples ("pwd: 1"), not credentials
MAX_LINES_SHOWN = 10  # lines named in one finding's evidence; the rest are counted


@dataclass(frozen=True)
class Credential:
    line: int
    kind: str  # "a password", "an AWS access key": what the evidence says, never the value


@dataclass(frozen=True)
class TextScan:
    """What one read of a shipped file found."""

    private_key_line: int | None = None  # the first `BEGIN ... PRIVATE KEY` line (SEC400)
    credentials: tuple[Credential, ...] = ()  # SEC420


def scanned(inputs: RuleInputs) -> dict[str, TextScan]:
    """Each shipped text file that holds a private key or a credential, read once for both rules."""
    return inputs.files.derived("sec-text-scan", lambda: _scan(inputs))


# Third-party code committed with the app (a virtualenv's packages, vendored node modules): its own
# tokens and test fixtures are not the app's credentials, and a committed virtualenv is BUILD130's error.
_THIRD_PARTY = re.compile(r"(?:^|/)(?:site-packages|dist-packages|node_modules)/")


def _scan(inputs: RuleInputs) -> dict[str, TextScan]:
    found: dict[str, TextScan] = {}
    for file in inputs.report.app.included:
        if file.kind != "file" or file.bytes > READ_LIMIT or BINARY.match(file.path):
            continue
        data = inputs.files.read_bytes(file.path, keep=False) or b""
        result = _scan_bytes(file, data)
        if result is not None:
            found[file.path] = result
    return found


def _scan_bytes(file: AppFile, data: bytes) -> TextScan | None:
    """A private key anywhere (SEC400's); credentials in the app's own text files (SEC420's)."""
    key_line = _private_key_line(data) if _PRIVATE_KEY_MARK in data else None
    credentials: tuple[Credential, ...] = ()
    name = file.path.rsplit("/", 1)[-1]
    if (
        not _ENV_NAME.match(name)
        and secret_by_name(file.path) is None  # the whole file is SEC400's
        and not _THIRD_PARTY.search(file.path)
        and b"\0" not in data[:_SNIFF_BYTES]
        and _may_hold_credentials(data)
    ):
        credentials = credentials_in(data.decode("utf-8", "replace"), python=name.endswith(".py"))
    if key_line is None and not credentials:
        return None
    return TextScan(private_key_line=key_line, credentials=credentials)


def _private_key_line(data: bytes) -> int | None:
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if _PRIVATE_KEY.search(line):
            return number
    return None


def _may_hold_credentials(data: bytes) -> bool:
    """The plain search: False rules the file out (most files), True sends it to `credentials_in`."""
    lowered = data.lower()
    return (
        any(mark in lowered for mark in _LOWER_MARKS)
        or any(pattern.search(lowered) for pattern in _LOWER_PATTERNS)
        or any(mark in data for mark in _TOKEN_MARKS)
        or any(pattern.search(data) for pattern in _TOKEN_PATTERNS)
        or (not data.isascii() and any(mark in data for mark in _OTHER_LANGUAGES))
    )


def credentials_in(text: str, *, python: bool) -> tuple[Credential, ...]:
    """The credentials in `text`, one per line (the first kind found there), in line order. In Python
    source (`python`), a labelled value counts only when it is a string literal: a name or a call
    (`os.environ["X"]`) reads it from elsewhere."""
    lines = _LineNumbers(text)
    by_line: dict[int, str] = {}
    for kind, marks, regex in TOKENS:
        if any(mark in text for mark in marks):
            for match in regex.finditer(text):
                if "EXAMPLE" not in match.group(0):  # the issuers' documented examples
                    by_line.setdefault(lines.of(match.start()), kind)
    if "://" in text:
        for match in _BASIC_AUTH.finditer(text):
            if match.group("host").lower() not in _LOCAL_HOSTS and _is_credential(match.group("value")):
                by_line.setdefault(lines.of(match.start()), "a password in a URL")
    for line, kind in _labelled(text.lower(), python=python):
        by_line.setdefault(line, kind)
    return tuple(Credential(line, kind) for line, kind in sorted(by_line.items()))


def _labelled(lowered: str, *, python: bool) -> Iterator[tuple[int, str]]:
    """(line, kind) of each keyword that labels a credential, in the lower-cased text (lower-casing
    keeps the lines, and every keyword is in lower case)."""
    lines = _LineNumbers(lowered)
    for word, kind in _KIND_OF_WORD.items():
        start = lowered.find(word)
        while start >= 0:
            label = _LABELS.match(lowered, start + len(word))
            if label is not None:
                value = _value(label.group("value"), python=python)
                if value is not None and _is_credential(value):
                    yield lines.of(start), kind
            start = lowered.find(word, start + len(word))


class _LineNumbers:
    """1-based line numbers of offsets in a text (the line starts found once, when first asked)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._newlines: list[int] | None = None

    def of(self, offset: int) -> int:
        if self._newlines is None:
            self._newlines = [match.start() for match in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, offset) + 1


def _value(raw: str, *, python: bool) -> str | None:
    """The labelled value: a quoted string's text, or (outside Python) a bare word; None for prose
    ("password: see the admin page"), and in Python for anything but a literal."""
    raw = raw.strip()
    quoted = _QUOTED.match(raw)
    if quoted is not None:
        return quoted.group("text")
    if python:
        return None
    bare = raw.split(" #", 1)[0].strip().rstrip(",;")
    return None if not bare or any(space.isspace() for space in bare) else bare


def _is_credential(value: str) -> bool:
    value = value.strip()
    return (
        len(value) >= _MIN_VALUE
        and not _NAME_LIKE.match(value)
        and not _PLACEHOLDER.match(value)
        and not _REFERENCE.search(value)
    )


@rule(
    "SEC420",
    "credentials-in-text",
    Severity.ERROR,
    summary="A shipped text file holds a credential in plain text: a password or token labelled in any "
    "language (`password =`, `CONTRASEÑA:`, `пароль:`, `api_key=`...), or a known token format (AWS, "
    "GitHub, GitLab, Slack, Stripe, JWT, a `scheme://user:pass@host` URL).",
    why="Everyone who can download the slug reads it, and git keeps it in the history; Heroku's config "
    "vars are the place for credentials.",
    fix="Remove it from the file, rotate the credential, keep it in a config var (`heroku config:set "
    "NAME=...`); a notes file should not ship at all (`.slugignore`).",
    source="heroku-facts 5 (config vars), 2.1 (.slugignore)",
)
def credentials_in_text(inputs: RuleInputs) -> Iterator[Hit]:
    for path, scan in sorted(scanned(inputs).items()):
        if scan.credentials:
            yield _hit(path, scan.credentials)


def _hit(path: str, credentials: tuple[Credential, ...]) -> Hit:
    kinds = list(dict.fromkeys(credential.kind for credential in credentials))
    what = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
    evidence = [
        f"{path}, line {credential.line}: {credential.kind} (the value is not shown)"
        for credential in credentials[:MAX_LINES_SHOWN]
    ]
    if len(credentials) > MAX_LINES_SHOWN:
        evidence.append(f"and {len(credentials) - MAX_LINES_SHOWN} more lines")
    notes = bool(_NOTES.match(path))
    summary = "remove it from the file, rotate it, and keep it in a config var: heroku config:set NAME=..."
    if notes:
        summary += f"; {path} is notes, not code: keep it out of the slug"
    return Hit(
        title=f"{path} holds {what} in plain text, and it ships in the slug",
        evidence=tuple(evidence),
        location=Location(path, credentials[0].line),
        fix=Fix(summary=summary, edits=(Edit(path=SLUGIGNORE, old=None, new=f"/{path}\n"),) if notes else ()),
        change=SlugChange(app_paths=(path,)) if notes else None,
    )
