"""The one place that starts processes."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slugprof.errors import ToolFailure


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_command(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> CommandResult:
    """Run a short command to completion and capture its output.

    Raises ToolFailure when the program does not exist or does not finish in `timeout` seconds.
    A non-zero exit status is returned, not raised: callers decide what it means.
    """
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise ToolFailure(f"cannot run {argv[0]!r}: program not found") from error
    except PermissionError as error:
        raise ToolFailure(f"cannot run {argv[0]!r}: permission denied") from error
    except subprocess.TimeoutExpired as error:
        raise ToolFailure(f"{argv[0]!r} did not finish within {timeout:.0f} s") from error
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)
