"""Running `slugprof analyze --resolve` as a user does, on a small app written for the test.

    app = write_app(tmp_path / "app", {"requirements.txt": "..."})
    report = report_of(analyze_resolved(app, tmp_path / "cache"))
    packages_of(report)["web-lib"]["bytes"]

The command runs in its own interpreter, with the JSON report on stdout, its cache in `cache`, and
none of the caller's virtualenv, uv or pip settings: only what the app and the test give it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filetree import write_files

RUNTIME_STORE_VARIABLE = "SLUGPROF_PYTHON_RUNTIME_URL"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"  # the Python the apps ask for
CP = f"cp{sys.version_info.major}{sys.version_info.minor}"  # its wheel tag


# The smallest WSGI app: gunicorn serves it, and it answers every request.
HELLO_WSGI = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


def write_app(root: Path, files: Mapping[str, str]) -> Path:
    """A web app for this Python (.python-version, Procfile, app.py), with `files` added or replacing."""
    defaults = {".python-version": PY + "\n", "Procfile": "web: gunicorn app:app\n", "app.py": "app = None\n"}
    return write_files(root, {**defaults, **files})


def analyze_resolved(
    app: Path, cache: Path, *extra: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    """`slugprof analyze APP --resolve --format json -q [extra...]`, with `environment` added; with
    `--format` in `extra`, that format and no -q (which would shorten the terminal report)."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key != "VIRTUAL_ENV" and not key.startswith(("UV_", "PIP_"))
    }
    env = {
        **inherited,
        "XDG_CACHE_HOME": str(cache),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **environment,
    }
    command = [sys.executable, "-m", "slugprof", "analyze", str(app), "--resolve"]
    if "--format" not in extra:
        command += ["--format", "json", "-q"]
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, env=env, check=False, timeout=300
    )


def report_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON report of a run that must have succeeded."""
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def packages_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's resolved packages by name."""
    return {package["name"]: package for package in report["dependencies"]["packages"]}


def run_slugprof(
    *argv: str | Path,
    cwd: Path | None = None,
    timeout: float = 180,
    variables: Mapping[str, str] | None = None,
    **environment: str,
) -> subprocess.CompletedProcess[str]:
    """`slugprof ARGV...` in its own interpreter, as a user runs it: without the caller's virtualenv,
    WEB_CONCURRENCY or SLUGPROF_ settings (the caller's XDG_CACHE_HOME is kept, and the runtime store
    the test session points every run at: see conftest), `variables` and `environment` added."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "WEB_CONCURRENCY")
        and (not key.startswith("SLUGPROF_") or key == RUNTIME_STORE_VARIABLE)
    }
    env.update(variables or {})
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "slugprof", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=timeout,
    )
