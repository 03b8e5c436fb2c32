"""Helpers every lock reader shares: TOML loading, typed field access, markers, wheel choice."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from slugprof.errors import UsageError
from slugprof.markers import decide
from slugprof.model import Target
from slugprof.sources.locks.results import LockedFile, LockedPackage
from slugprof.sources.target import (
    choose_filename,
    is_sdist,
    tag_ranks,
    target_tags,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def _load_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"{shown}: cannot read it ({error.strerror or error})") from error
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UsageError(f"{shown}: not UTF-8 text") from error
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{shown}: not valid TOML ({error})") from error


def _table(value: object, shown: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{shown}: {what} must be a table")
    return value


def _text(value: object, shown: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{shown}: {what} must be a non-empty string")
    return value


def _marker_applies(
    text: object, environment: Mapping[str, str], shown: str, where: str, notes: list[str]
) -> bool:
    if text is not None and not isinstance(text, str):
        raise UsageError(f"{shown}: {where}: marker must be a string")
    decision = decide(text, environment, where=f"{shown}: {where}")
    if decision.note and decision.note not in notes:
        notes.append(decision.note)
    return decision.applies


def _file_url(path: Path) -> str:
    return path.resolve().as_uri()


def _filename_of(location: str) -> str:
    return unquote(urlsplit(location).path).rstrip("/").rsplit("/", 1)[-1]


def _choose(files: Iterable[LockedFile], target: Target) -> LockedFile | None:
    by_name = {file.filename: file for file in files}
    chosen = choose_filename(by_name, tag_ranks(target_tags(target)))
    return by_name[chosen] if chosen is not None else None


def _kind(filename: str) -> Literal["wheel", "sdist"] | None:
    if filename.endswith(".whl"):
        return "wheel"
    if is_sdist(filename):
        return "sdist"
    return None


def _sha256(value: object) -> str | None:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value.removeprefix("sha256:")
    return None


def _project_table(app_root: Path, files_read: list[str]) -> dict[str, Any]:
    path = app_root / "pyproject.toml"
    if not path.is_file():
        return {}
    files_read.append("pyproject.toml")
    return _load_toml(path, "pyproject.toml")


def _sorted(packages: Iterable[LockedPackage]) -> tuple[LockedPackage, ...]:
    return tuple(sorted(packages, key=lambda package: (package.name, package.version)))
