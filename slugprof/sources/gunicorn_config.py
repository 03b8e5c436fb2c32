"""What a gunicorn command asks for: workers, threads, worker class, preload, from its flags and its
config file.

gunicorn reads its config file (`-c FILE`, else `./gunicorn.conf.py`), then `GUNICORN_CMD_ARGS`, then
the command line, each overriding the one before (gunicorn's "Configuration Overview"). The config file
is Python: only module-level assignments of literals are read (`threads = 5`); a value computed at run
time (`workers = int(os.environ.get("WEB_CONCURRENCY", 2))`) is not known here and stays None.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slugprof.shell import ShellSyntaxError, command_list

DEFAULT_CONFIG = "gunicorn.conf.py"  # read from the working folder when no -c is given (gunicorn 20+)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Flags whose value is the next word (or joined by "="), by the setting they set.
_VALUE_FLAGS = {
    "-w": "workers",
    "--workers": "workers",
    "--threads": "threads",
    "-k": "worker_class",
    "--worker-class": "worker_class",
    "-c": "config",
    "--config": "config",
}


@dataclass(frozen=True)
class GunicornConfig:
    """The settings the command and its config file name; None where neither says, or says at run time."""

    workers: int | None = None  # a fixed count: gunicorn's default is $WEB_CONCURRENCY, else 1
    threads: int | None = None
    worker_class: str | None = None  # "sync", "gthread", "uvicorn.workers.UvicornWorker"...
    preload: bool | None = None
    config_path: str | None = None  # the config file read, when it exists

    @property
    def threads_per_worker(self) -> int:
        """Request threads each worker runs: gunicorn runs gthread workers when threads > 1."""
        return self.threads if self.threads is not None and self.threads > 0 else 1

    @property
    def threaded(self) -> bool:
        return self.threads_per_worker > 1

    @property
    def known_worker_threads(self) -> int | None:
        """The OS threads a worker of this class runs for its own sake: the main thread, and gthread's
        pool of request threads; None for the other classes (gevent, uvicorn's), which this does not
        know."""
        worker_class = (self.worker_class or "sync").rsplit(".", 1)[-1].lower()
        if worker_class in ("sync", "syncworker") and not self.threaded:
            return 1
        if worker_class in ("sync", "syncworker", "gthread", "threadworker"):
            return 1 + self.threads_per_worker
        return None


def command_words(command: str) -> list[str]:
    """The words of the program a Procfile command runs last (after `cd app &&`), as the dyno's shell
    splits them with the project's one shell reader; on a quoting error, the command split at spaces."""
    try:
        commands = command_list(command)
    except ShellSyntaxError:
        return command.split()
    return [word.value for word in commands[-1]] if commands else []


def command_env(command: str) -> dict[str, str]:
    """Variables the command sets for itself: `OMP_NUM_THREADS=1 gunicorn app:app`."""
    values = {}
    for word in command_words(command):
        if not _ASSIGNMENT.match(word):
            break
        name, _, value = word.partition("=")
        values[name] = value
    return values


def gunicorn_arguments(command: str) -> list[str] | None:
    """The words after `gunicorn` in the command, or None when it does not run gunicorn."""
    words = command_words(command)
    for index, word in enumerate(words):
        if word.rsplit("/", 1)[-1] == "gunicorn":
            return words[index + 1 :]
    return None


def read_gunicorn_config(command: str, read_text: Callable[[str], str | None]) -> GunicornConfig | None:
    """What the gunicorn command asks for, its config file (read with `read_text`, by app-relative path)
    first and its flags over it; None when the command does not run gunicorn."""
    arguments = gunicorn_arguments(command)
    if arguments is None:
        return None
    flags = _flags(arguments)
    config_path = _text(flags.get("config")) or DEFAULT_CONFIG
    text = read_text(config_path.removeprefix("./"))
    settings = _from_config_file(text) if text is not None else {}
    settings.update(flags)
    return GunicornConfig(
        workers=_integer(settings.get("workers")),
        threads=_integer(settings.get("threads")),
        worker_class=_text(settings.get("worker_class")),
        preload=_boolean(settings.get("preload_app")),
        config_path=config_path if text is not None else None,
    )


def _flags(arguments: Sequence[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    index = 0
    while index < len(arguments):
        word = arguments[index]
        name, equals, joined = word.partition("=")
        if word == "--preload":
            found["preload_app"] = True
        elif name in _VALUE_FLAGS and equals:
            found[_VALUE_FLAGS[name]] = joined
        elif word in _VALUE_FLAGS and index + 1 < len(arguments):
            found[_VALUE_FLAGS[word]] = arguments[index + 1]
            index += 1
        elif word[:2] in ("-w", "-k", "-c") and len(word) > 2 and not word.startswith("--"):
            found[_VALUE_FLAGS[word[:2]]] = word[2:]  # -w4
        index += 1
    return found


def _from_config_file(text: str) -> dict[str, object]:
    """Module-level `name = literal` assignments of a gunicorn config file; none when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    values: dict[str, object] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        try:
            values[target.id] = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError):
            values[target.id] = None  # computed at run time: not known here
    return values


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
