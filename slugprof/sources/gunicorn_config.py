"""What a gunicorn command asks for: workers, threads, worker class, preload, from its flags,
GUNICORN_CMD_ARGS and its config file.

The command is read as a Launch: gunicorn's console script or `python -m gunicorn`, behind `exec` and
the exec wrappers (`ddtrace-run`), in the folder a `cd sub &&` moves to. gunicorn reads its config file
(`-c FILE`, else `./gunicorn.conf.py`), then `GUNICORN_CMD_ARGS`, then the command line, each overriding
the one before (gunicorn's "Configuration Overview"; gunicorn 27.0.1 gunicorn/app/base.py
`Application.load_config`). The config file is Python: only module-level assignments of literals are
read (`threads = 5`); a value computed at run time
(`workers = int(os.environ.get("WEB_CONCURRENCY", 2))`) is not known here and stays None.
"""

from __future__ import annotations

import ast
import posixpath
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from slugprof.sources.launch import Launch, flag_indexes, last_option, launch_of_command

DEFAULT_CONFIG = "gunicorn.conf.py"  # read from the working folder when no -c is given (gunicorn 20+)
CMD_ARGS = "GUNICORN_CMD_ARGS"  # more command-line arguments, from the environment
# The options with a value this reads, by the setting they set.
_VALUE_OPTIONS = {
    "workers": ("-w", "--workers"),
    "threads": ("--threads",),
    "worker_class": ("-k", "--worker-class"),
}
_CONFIG_OPTION = ("-c", "--config")
_PRELOAD_FLAG = ("--preload",)


@dataclass(frozen=True)
class GunicornConfig:
    """The settings the command, GUNICORN_CMD_ARGS and the config file name; None where none says, or
    one says at run time."""

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


def config_file(launch: Launch, environment: Mapping[str, str] | None = None) -> str | None:
    """The app-relative path of the config file gunicorn reads for `launch`: `-c FILE` on the command
    line, else in GUNICORN_CMD_ARGS, else ./gunicorn.conf.py, in the folder the command runs in
    (gunicorn 27.0.1 gunicorn/app/base.py `Application.load_config`; gunicorn/config.py `ConfigFile`: a
    `-c` replaces the default). None for a `python:` module, or a file named by a variable."""
    written = (
        last_option(launch.values, _CONFIG_OPTION)
        or last_option(cmd_args(launch, environment), _CONFIG_OPTION)
        or DEFAULT_CONFIG
    )
    if written.startswith("python:") or "$" in written:
        return None
    return posixpath.normpath(posixpath.join(launch.folder, written.removeprefix("file:")))


def cmd_args(launch: Launch, environment: Mapping[str, str] | None = None) -> list[str]:
    """GUNICORN_CMD_ARGS as gunicorn splits it (with Python's `shlex.split`: gunicorn 27.0.1
    gunicorn/config.py `Config.get_cmd_args_from_env`), the command's own assignment or `export` over
    the one in `environment`; none when it is not set, or its quotes do not close."""
    value = launch.assigned.get(CMD_ARGS)
    if value is None and environment is not None:
        value = environment.get(CMD_ARGS)
    try:
        return shlex.split(value) if value else []
    except ValueError:
        return []


def read_gunicorn_config(
    command: str, read_text: Callable[[str], str | None], environment: Mapping[str, str] | None = None
) -> GunicornConfig | None:
    """What the gunicorn command asks for: its config file (read with `read_text`, by app-relative
    path), then GUNICORN_CMD_ARGS (from the command, else from `environment`, the process's), then its
    own flags, each over the one before; None when the command does not run gunicorn."""
    launch = launch_of_command(command)
    if launch is None or launch.server != "gunicorn":
        return None
    config_path = config_file(launch, environment)
    text = read_text(config_path) if config_path is not None else None
    settings = _from_config_file(text) if text is not None else {}
    settings.update(_from_arguments(cmd_args(launch, environment)))
    settings.update(_from_arguments(launch.values))
    return GunicornConfig(
        workers=_integer(settings.get("workers")),
        threads=_integer(settings.get("threads")),
        worker_class=_text(settings.get("worker_class")),
        preload=_boolean(settings.get("preload_app")),
        config_path=config_path if text is not None else None,
    )


def _from_arguments(arguments: Sequence[str]) -> dict[str, object]:
    """The settings gunicorn's command-line arguments set (the last occurrence of each wins)."""
    found: dict[str, object] = {}
    for setting, names in _VALUE_OPTIONS.items():
        value = last_option(arguments, names)
        if value is not None:
            found[setting] = value
    if flag_indexes(arguments, _PRELOAD_FLAG):
        found["preload_app"] = True
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
