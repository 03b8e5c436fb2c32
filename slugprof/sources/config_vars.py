"""The config vars the profiled process runs with, and where each came from.

On a dyno they are the app's config vars (`heroku config`); `.env` is read only by `heroku local`. An app
needs its config vars to boot, so the profile reads `.env` by default, as `heroku local` does, and says
which variables it applied (their names, never their values). What a `.env` holds for development can
change what is measured: `DEBUG=true` or `ENVIRONMENT=development` turns on reload and off preload in
many apps. Those are named as development switches, for the rules to warn about.

Where they come from, each over the one before:
  the app's `.env` (or `--env-file FILE`; none with `--no-env-file` or with `--heroku-config`),
  the app's real config vars (`--heroku-config APP`: `heroku config --json --app APP`, with the Heroku CLI
  installed and logged in),
  `--set NAME=VALUE`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from slugprof.errors import ToolFailure, UsageError
from slugprof.model import ConfigVar
from slugprof.processes import run_command
from slugprof.sources.dotenv import parse_dotenv

HEROKU_TIMEOUT_SECONDS: Final = 60.0  # the CLI asks the API once; a slow network is the usual wait
_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
# Variables whose value puts a framework or server into development mode, and the values that do.
_DEBUG_FLAGS: Final = ("DEBUG", "FLASK_DEBUG", "DJANGO_DEBUG", "UVICORN_RELOAD", "RELOAD")
_ENVIRONMENT_NAMES: Final = ("ENVIRONMENT", "FLASK_ENV", "APP_ENV", "ENV", "PYTHON_ENV", "DJANGO_ENV")
_DEVELOPMENT_VALUES: Final = frozenset({"development", "dev", "develop", "local", "debug"})


@dataclass(frozen=True)
class ConfigSource:
    """Where the user asked the config vars to come from (the profile's flags)."""

    env_file: Path | None = None  # --env-file; None: the app's .env
    read_env_file: bool = True  # False with --no-env-file
    sets: tuple[tuple[str, str], ...] = ()  # --set NAME=VALUE, in order
    heroku_app: str | None = None  # --heroku-config APP


@dataclass(frozen=True)
class ConfigVars:
    values: dict[str, str]
    applied: tuple[ConfigVar, ...]  # each name once, with where its value came from; sorted by name
    notes: tuple[str, ...]


def parse_set(text: str) -> tuple[str, str]:
    """`--set NAME=VALUE` as a pair; a UsageError naming the mistake."""
    name, equals, value = text.partition("=")
    if not equals or not _NAME.match(name):
        raise UsageError(f"--set {text}: give NAME=VALUE, a variable name then '=' (e.g. --set DEBUG=false)")
    return name, value


def read_config_vars(app_root: Path, source: ConfigSource, environ: Mapping[str, str]) -> ConfigVars:
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    notes: list[str] = []
    env_file = _env_file(app_root, source)
    if env_file is not None:
        found, file_notes = _read_env_file(env_file, explicit=source.env_file is not None)
        shown = ".env" if source.env_file is None else str(source.env_file)
        _layer(values, origins, found, shown)
        notes.extend(file_notes)
    if source.heroku_app:
        origin = f"heroku config ({source.heroku_app})"
        _layer(values, origins, _heroku_config(source.heroku_app, environ), origin)
    _layer(values, origins, dict(source.sets), "--set")
    applied = tuple(
        ConfigVar(name=name, origin=origins[name], development=name in development_switches(values))
        for name in sorted(values)
    )
    return ConfigVars(values, applied, tuple(notes))


def development_switches(values: Mapping[str, str]) -> tuple[str, ...]:
    """The names whose value turns development mode on: `DEBUG=true`, `ENVIRONMENT=development`, a
    reload flag in GUNICORN_CMD_ARGS."""
    found = [name for name in _DEBUG_FLAGS if values.get(name, "").strip().lower() in _TRUE]
    found += [
        name for name in _ENVIRONMENT_NAMES if values.get(name, "").strip().lower() in _DEVELOPMENT_VALUES
    ]
    if "--reload" in values.get("GUNICORN_CMD_ARGS", "").split():
        found.append("GUNICORN_CMD_ARGS")
    return tuple(sorted(found))


def _env_file(app_root: Path, source: ConfigSource) -> Path | None:
    if not source.read_env_file:
        return None
    if source.env_file is not None:
        return source.env_file
    return None if source.heroku_app else app_root / ".env"


def _read_env_file(path: Path, *, explicit: bool) -> tuple[dict[str, str], tuple[str, ...]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if explicit:
            raise UsageError(f"--env-file {path}: no such file") from None
        return {}, ()
    except OSError as error:
        if explicit:
            raise UsageError(f"--env-file {path}: cannot read it ({error.strerror})") from None
        return {}, (f"{path.name}: cannot read it ({error.strerror})",)
    return parse_dotenv(text)


def _layer(values: dict[str, str], origins: dict[str, str], found: Mapping[str, str], origin: str) -> None:
    for name, value in found.items():
        values[name] = value
        origins[name] = origin


def _heroku_config(app: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The app's config vars from the Heroku CLI; a UsageError saying what to do when it cannot give
    them (not installed, not logged in, no such app)."""
    argv: Sequence[str] = ["heroku", "config", "--json", "--app", app]
    try:
        result = run_command(argv, env=environ, timeout=HEROKU_TIMEOUT_SECONDS)
    except ToolFailure as error:  # not on PATH, or it did not answer in time
        raise UsageError(
            f"--heroku-config {app}: cannot run the Heroku CLI ({error}); install it and `heroku login`, "
            "or give the config vars with --env-file or --set"
        ) from None
    if result.returncode != 0:
        text = result.stderr.decode("utf-8", "replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # The CLI marks its errors with a leading " ▸" or "!": the message is what follows.
        said = lines[-1].lstrip(" !\u25b8\u203a") if lines else f"exit status {result.returncode}"
        raise UsageError(f"--heroku-config {app}: the Heroku CLI says: {said}")
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise UsageError(f"--heroku-config {app}: the Heroku CLI did not answer JSON") from None
    if not isinstance(document, dict):
        raise UsageError(f"--heroku-config {app}: the Heroku CLI did not answer a JSON object")
    return {str(name): str(value) for name, value in document.items()}
