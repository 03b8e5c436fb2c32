"""SEC4xx: secrets and data files that ship in the slug but should not. Evidence names the file and the
line, never a value."""

from __future__ import annotations

import re
from collections.abc import Iterator

from slugprof.model import AppFile, Edit, Fix, Location, Severity, SlugChange
from slugprof.rules.registry import Hit, RuleInputs, append_edit, rule
from slugprof.rules.sec_text import READ_LIMIT, scanned, secret_by_name
from slugprof.sources.appfiles import SLUGIGNORE

_SQLITE_NAMES = re.compile(r".*\.(sqlite3?|db)$")
_SQLITE_URL = re.compile(r"\bsqlite:/{2,}")


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _shipped(inputs: RuleInputs) -> list[AppFile]:
    return list(inputs.report.app.included)


def _private_key_line(inputs: RuleInputs, file: AppFile) -> int | None:
    scan = scanned(inputs).get(file.path)  # one read of every shipped file, shared with SEC420
    return None if scan is None else scan.private_key_line


@rule(
    "SEC400",
    "secret-file-in-slug",
    Severity.ERROR,
    summary="A file of config vars, credentials or a private key ships in the slug: `.env`, `.netrc`, "
    "`.pgpass`, `.aws/credentials`, `*.pem`, `id_rsa`, a file holding `BEGIN PRIVATE KEY`.",
    why="Everyone who can download the slug (collaborators, add-ons, a leaked build) reads it; Heroku's "
    "config vars are the place for secrets, and `.env` is read only by `heroku local`.",
    fix="Remove the file from git, rotate what it held, and set the values with `heroku config:set`.",
    source="heroku-facts 5 (.env is for heroku local), 2.1 (.slugignore)",
)
def secret_file_in_slug(inputs: RuleInputs) -> Iterator[Hit]:
    for file in _shipped(inputs):
        named = secret_by_name(file.path)
        line = None if named else _private_key_line(inputs, file)
        if not named and line is None:
            continue
        what = named or "a private key"
        yield Hit(
            title=f"{file.path} ships in the slug: it holds {what}",
            evidence=(f"{file.path} is committed and not removed by .slugignore (its values are not shown)",),
            location=Location(file.path, line),
            fix=Fix(
                summary=f"stop tracking {file.path}, ignore it, rotate what it held, and use config vars",
                command=f"git rm --cached -- '{file.path}'",
                edits=(append_edit(".gitignore", f"/{file.path}\n"),),
            ),
            change=SlugChange(app_paths=(file.path,)),
        )


@rule(
    "SEC410",
    "sqlite-on-a-dyno",
    Severity.WARNING,
    summary="A SQLite database file ships in the slug, or the settings point at `sqlite:`.",
    why="A dyno's filesystem is ephemeral: what the app writes is lost at every restart (at least daily) "
    "and differs between dynos.",
    fix="Use Heroku Postgres and read DATABASE_URL; keep local databases out of git.",
    source="heroku-facts 9.3 (runtime failures)",
)
def sqlite_on_a_dyno(inputs: RuleInputs) -> Iterator[Hit]:
    for file in _shipped(inputs):
        if _SQLITE_NAMES.match(_name(file.path)):
            yield Hit(
                title=f"{file.path} is a SQLite database in the slug: a dyno loses what is written to it",
                evidence=(f"{file.path} is committed ({file.bytes} bytes)",),
                location=Location(file.path),
                fix=Fix(
                    summary="move the data to Heroku Postgres (DATABASE_URL); keep the file out of the slug",
                    edits=(Edit(path=SLUGIGNORE, old=None, new=f"/{file.path}\n"),),
                ),
                change=SlugChange(app_paths=(file.path,)),
            )
    for file in _shipped(inputs):
        if not file.path.endswith(".py") or file.bytes > READ_LIMIT:
            continue
        text = inputs.files.read_text(file.path) or ""
        if "sqlite:" not in text or not _SQLITE_URL.search(text):  # the plain search rules most files out
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if _SQLITE_URL.search(line) and not line.lstrip().startswith("#"):
                yield Hit(
                    title=f"{file.path}:{number} points the app at SQLite: a dyno loses what it writes",
                    evidence=(f"{file.path}, line {number}: a sqlite:// URL",),
                    location=Location(file.path, number),
                    fix=Fix(summary="read the database URL from DATABASE_URL (Heroku Postgres)"),
                )
                break
