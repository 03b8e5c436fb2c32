"""`profile --try VARIANT`: a change to how the web process runs, tried by running it.

    preload           gunicorn's --preload, added through GUNICORN_CMD_ARGS (the app imported once, in
                      the master, before the fork)
    workers=N         N workers: WEB_CONCURRENCY=N and --workers N in GUNICORN_CMD_ARGS
    threads=N         N threads per gunicorn worker (--threads N in GUNICORN_CMD_ARGS)
    env:NAME=VALUE    one more variable, e.g. env:MALLOC_ARENA_MAX=2 or env:OPENBLAS_NUM_THREADS=1

gunicorn reads GUNICORN_CMD_ARGS after its config file and before its command line (sources/
gunicorn_config), so a flag written in the Procfile command still wins over a variant's: the run then
shows no difference, and the variant says what the command fixes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from slugprof.errors import UsageError

_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_COUNT: Final = 64  # workers or threads: more is no variant a dyno runs


@dataclass(frozen=True)
class Variant:
    name: str  # as the user wrote it: "preload", "workers=3", "env:MALLOC_ARENA_MAX=2"
    variables: tuple[tuple[str, str], ...] = ()  # set for the process
    gunicorn_arguments: str = ""  # appended to GUNICORN_CMD_ARGS

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` with the variant applied."""
        changed = dict(env)
        changed.update(self.variables)
        if self.gunicorn_arguments:
            given = changed.get("GUNICORN_CMD_ARGS", "").strip()
            changed["GUNICORN_CMD_ARGS"] = f"{given} {self.gunicorn_arguments}".strip()
        return changed

    @property
    def variable(self) -> str | None:
        """The variable an `env:` variant sets."""
        return self.variables[0][0] if self.name.startswith("env:") and self.variables else None


def parse_variant(text: str) -> Variant:
    """A `--try` value as a Variant; a UsageError saying what is accepted."""
    if text == "preload":
        return Variant(text, gunicorn_arguments="--preload")
    key, equals, value = text.partition("=")
    if key in ("workers", "threads") and equals:
        count = _count(text, value)
        if key == "workers":
            return Variant(text, (("WEB_CONCURRENCY", str(count)),), f"--workers {count}")
        return Variant(text, gunicorn_arguments=f"--threads {count}")
    if text.startswith("env:"):
        name, equals, value = text.removeprefix("env:").partition("=")
        if equals and _NAME.match(name):
            return Variant(text, ((name, value),))
    raise UsageError(
        f"--try {text}: give preload, workers=N, threads=N or env:NAME=VALUE "
        "(e.g. --try env:MALLOC_ARENA_MAX=2)"
    )


def _count(text: str, value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
        raise UsageError(f"--try {text}: give a count from 1 to {MAX_COUNT}")
    return int(value)
