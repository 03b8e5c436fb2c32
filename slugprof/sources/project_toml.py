"""project.toml, the Cloud Native Buildpacks project descriptor: which of the app's files a Fir build takes.

On Fir there is no slug and `.slugignore` does not apply: the app's files go into the image unless
project.toml's `[io.buildpacks]` table (`[build]` in its schema 0.1) lists them in `exclude`, or, when it
has `include`, only those it lists go. Both take gitignore patterns (heroku-facts 9.4); the descriptor's
specification refuses a table with both.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from pathspec import GitIgnoreSpec

from slugprof.errors import UsageError
from slugprof.model import AppInventory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

PROJECT_TOML = "project.toml"
SLUGIGNORE = ".slugignore"


@dataclass(frozen=True)
class ProjectFiles:
    """What project.toml says of the app's files: gitignore patterns to leave out, or the only ones to
    take."""

    table: str | None = None  # "[io.buildpacks]" or "[build]" (schema 0.1); None: no project.toml rule
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


def read_project_toml(root: Path) -> ProjectFiles:
    """The file rules of the app's project.toml; none when it has no such file. UsageError when broken."""
    path = root / PROJECT_TOML
    if not path.is_file():
        return ProjectFiles()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{PROJECT_TOML}: not valid TOML ({error}); fix the file") from error
    io_table = document.get("io", {}).get("buildpacks") if isinstance(document.get("io"), dict) else None
    for name, table in (("[io.buildpacks]", io_table), ("[build]", document.get("build"))):
        if isinstance(table, dict) and ("exclude" in table or "include" in table):
            return _rules(name, table)
    return ProjectFiles()


def _rules(name: str, table: dict[str, object]) -> ProjectFiles:
    if "exclude" in table and "include" in table:
        raise UsageError(f"{PROJECT_TOML}: {name} sets both include and exclude, which the buildpacks refuse")
    return ProjectFiles(name, _patterns(name, table, "exclude"), _patterns(name, table, "include"))


def _patterns(name: str, table: dict[str, object], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"{PROJECT_TOML}: {name} {key} must be a list of strings (gitignore patterns)")
    return tuple(str(item) for item in value)


def fir_app_files(app: AppInventory, rules: ProjectFiles) -> AppInventory:
    """The app's files as a Fir build takes them: .slugignore not applied, project.toml's rules applied."""
    spec = GitIgnoreSpec.from_lines(rules.include or rules.exclude)
    reason = f"{PROJECT_TOML} {rules.table} {'include' if rules.include else 'exclude'}"
    files = []
    for file in app.files:
        matched = bool(rules.table) and spec.match_file(file.path)
        taken = matched if rules.include else not matched
        excluded_by = None if taken else f"{reason}: not in the image"
        files.append(replace(file, included=taken, excluded_by=excluded_by))
    return replace(app, files=tuple(files), slugignore=())


def slugignore_note(app: AppInventory) -> str | None:
    """What a Fir analysis says of an app's .slugignore: that it is not applied."""
    if not any(file.path == SLUGIGNORE for file in app.files):
        return None
    return (
        f"{SLUGIGNORE} is not applied on Fir: Cloud Native Buildpacks build an image, not a slug, and "
        f"{PROJECT_TOML}'s [io.buildpacks] exclude or include decide which files go"
    )
