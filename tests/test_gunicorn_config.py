"""What a gunicorn command asks for, read as gunicorn reads it: the config file, then GUNICORN_CMD_ARGS,
then the command line; checked against gunicorn's own --print-config."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from slugprof.sources.gunicorn_config import GunicornConfig, config_file, read_gunicorn_config
from slugprof.sources.launch import launch_of_command

CONFIG = {"gunicorn.conf.py": "workers = 2\n"}
APP = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'']\n"


def read(
    command: str, files: dict[str, str] | None = None, environment: dict[str, str] | None = None
) -> GunicornConfig:
    config = read_gunicorn_config(command, (files if files is not None else CONFIG).get, environment)
    assert config is not None, command
    return config


def test_the_command_line_over_gunicorn_cmd_args_over_the_config_file() -> None:
    assert read('GUNICORN_CMD_ARGS="--workers 3" gunicorn -w 4 app:app').workers == 4
    assert read('GUNICORN_CMD_ARGS="--workers 3" gunicorn app:app').workers == 3
    assert read("gunicorn app:app").workers == 2
    assert read("gunicorn app:app", files={}).workers is None  # gunicorn's default: $WEB_CONCURRENCY


def test_gunicorn_cmd_args_from_the_environment_and_the_commands_own_wins() -> None:
    environment = {"GUNICORN_CMD_ARGS": "--workers 5 --threads 4"}
    config = read("gunicorn app:app", environment=environment)
    assert (config.workers, config.threads) == (5, 4)
    assert read('GUNICORN_CMD_ARGS="--workers 3" gunicorn app:app', environment=environment).threads is None
    assert read("export GUNICORN_CMD_ARGS='-w 6' && gunicorn app:app", environment=environment).workers == 6


def test_preload_from_gunicorn_cmd_args() -> None:
    assert read("GUNICORN_CMD_ARGS='--preload --threads=8' gunicorn app:app").preload is True
    assert read("gunicorn app:app").preload is None
    # The buildpack's own GUNICORN_CMD_ARGS sets nothing read here.
    assert read("gunicorn app:app", environment={"GUNICORN_CMD_ARGS": "--access-logfile -"}).preload is None


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ("gunicorn app:app", "gunicorn.conf.py"),
        ("cd sub && gunicorn app:app", "sub/gunicorn.conf.py"),
        ("cd sub && gunicorn -c ../conf/g.py app:app", "conf/g.py"),
        ("gunicorn -c ./conf/g.py app:app", "conf/g.py"),
        ("gunicorn --config=file:conf/g.py app:app", "conf/g.py"),
        ("GUNICORN_CMD_ARGS='-c conf/env.py' gunicorn app:app", "conf/env.py"),
        ("GUNICORN_CMD_ARGS='-c conf/env.py' gunicorn -c conf/g.py app:app", "conf/g.py"),
        ("gunicorn -c python:mysite.gunicorn app:app", None),
        ("gunicorn -c $CONFIG app:app", None),
    ],
)
def test_which_config_file_gunicorn_reads(command: str, path: str | None) -> None:
    launch = launch_of_command(command)
    assert launch is not None
    assert config_file(launch) == path


def test_gunicorn_behind_a_wrapper_and_in_a_folder() -> None:
    files = {"sub/gunicorn.conf.py": "threads = 3\n", "gunicorn.conf.py": "threads = 9\n"}
    config = read("cd sub && exec ddtrace-run python -m gunicorn app:app", files=files)
    assert (config.threads, config.config_path) == (3, "sub/gunicorn.conf.py")
    assert read_gunicorn_config("ddtrace-run uvicorn main:app", files.get) is None
    assert read_gunicorn_config("echo gunicorn", files.get) is None  # gunicorn is not the program run


# --- against gunicorn itself -----------------------------------------------------------------------------

_PRINTED = re.compile(r"^(\w+)\s+= (.*)$")


def _gunicorn_settings(command: str, folder: Path, environment: dict[str, str]) -> dict[str, str]:
    """The settings gunicorn ends up with for `command` (given `--print-config`), run by the shell."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")
    }
    env["PATH"] = os.pathsep.join((os.path.dirname(sys.executable), env.get("PATH", "")))
    env.update(environment)
    done = subprocess.run(
        ["sh", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return {match[1]: match[2] for match in map(_PRINTED.match, done.stdout.splitlines()) if match}


def _app_files(folder: Path) -> Callable[[str], str | None]:
    files = {
        "app.py": APP,
        "gunicorn.conf.py": "workers = 2\nthreads = 3\n",
        "other.py": "workers = 7\npreload_app = True\n",
        "sub/app.py": APP,
        "sub/gunicorn.conf.py": "threads = 6\nworkers = 5\n",
    }
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return files.get


@pytest.mark.parametrize(
    ("command", "environment"),
    [
        ("gunicorn --print-config app:app", {}),
        ('GUNICORN_CMD_ARGS="--workers 3 --preload" gunicorn --print-config app:app', {}),
        ('GUNICORN_CMD_ARGS="--workers 3" gunicorn --print-config -w 4 --threads=5 app:app', {}),
        ("gunicorn --print-config app:app", {"GUNICORN_CMD_ARGS": "--threads 8 --preload"}),
        ("GUNICORN_CMD_ARGS='-w 9' gunicorn --print-config app:app", {"GUNICORN_CMD_ARGS": "-w 8"}),
        ("GUNICORN_CMD_ARGS='-c other.py --threads 2' gunicorn --print-config app:app", {}),
        ("cd sub && OMP_NUM_THREADS=1 exec python -m gunicorn --print-config -w4 app:app", {}),
    ],
)
def test_what_gunicorn_itself_prints(tmp_path: Path, command: str, environment: dict[str, str]) -> None:
    read_text = _app_files(tmp_path)
    printed = _gunicorn_settings(command, tmp_path, environment)
    config = read_gunicorn_config(command, read_text, environment)
    assert config is not None and config.workers is not None and config.threads is not None
    assert config.workers == int(printed["workers"])
    assert config.threads == int(printed["threads"])
    assert (config.preload or False) == (printed["preload_app"] == "True")  # None: gunicorn's default, off
