"""Read the lock files the buildpack installs from, the way it installs them, for one target dyno.

- `uv.lock`: `uv sync --locked --no-default-groups`: the project's own dependencies (no dependency
  groups, no extras of the project), markers evaluated for the dyno, each package's wheel chosen by
  the dyno's tags from the wheels the lock lists (with their URL and, when the index gave it, size).
- `poetry.lock`: `poetry sync --only main`: the main group only, no extras; markers evaluated. The lock
  names each file (with its hash) but not its URL: that is looked up in the index later.
- `Pipfile.lock`: `pipenv install --deploy`: the "default" section only; markers evaluated; the lock
  holds hashes only, and the index each package comes from (`_meta.sources`).

Garbage, or a missing field the installer needs, is a one-line UsageError naming the file.
"""

from slugprof.sources.locks.pipfile_lock import read_pipfile_lock
from slugprof.sources.locks.poetry_lock import read_poetry_lock
from slugprof.sources.locks.results import (
    DEFAULT_INDEX,
    PIPFILE_LOCK,
    POETRY_LOCK,
    UV_LOCK,
    LockedFile,
    LockedPackage,
    LockedSet,
)
from slugprof.sources.locks.uv_lock import read_uv_lock

__all__ = [
    "DEFAULT_INDEX",
    "PIPFILE_LOCK",
    "POETRY_LOCK",
    "UV_LOCK",
    "LockedFile",
    "LockedPackage",
    "LockedSet",
    "read_pipfile_lock",
    "read_poetry_lock",
    "read_uv_lock",
]
