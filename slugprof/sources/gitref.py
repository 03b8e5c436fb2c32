"""The app as it was at a git commit: `git archive` of the ref into a folder of slugprof's own, so that a
baseline is measured from git itself. The user's work tree, index and checked-out branch are never
touched (archive reads the object store only)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from slugprof.errors import UsageError
from slugprof.processes import run_command

ARCHIVE_TIMEOUT_SECONDS = 120.0


def _git(arguments: list[str], cwd: Path) -> bytes:
    # LC_ALL=C keeps git's messages in English, the one line shown when it refuses.
    result = run_command(
        ["git", "-c", "core.quotepath=off", *arguments],
        cwd=str(cwd),
        env={**os.environ, "LC_ALL": "C"},
        timeout=ARCHIVE_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {arguments[0]}: {lines[-1] if lines else f'exit status {result.returncode}'}")
    return result.stdout


def app_at_ref(app_root: Path, ref: str, into: Path) -> Path:
    """The app folder as committed at `ref`, extracted under `into`; a UsageError when the folder is not
    in a git work tree or git does not know the ref."""
    if not (app_root / ".git").exists() and not _inside_work_tree(app_root):
        raise UsageError(f"--baseline-ref {ref}: {app_root} is not in a git work tree")
    prefix = _git(["rev-parse", "--show-prefix"], app_root).decode("utf-8", "replace").strip()
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], app_root).decode().strip()
    except UsageError:
        raise UsageError(f"--baseline-ref {ref}: git knows no commit by that name here") from None
    top = Path(_git(["rev-parse", "--show-toplevel"], app_root).decode("utf-8", "replace").strip())
    arguments = ["archive", "--format=tar", commit]
    if prefix:
        arguments += ["--", prefix.rstrip("/")]
    archive = _git(arguments, top)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12+, and the 3.10/3.11 security releases
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - older patch releases: git's own archive of this repository
            tar.extractall(into)
    folder = into / prefix
    folder.mkdir(parents=True, exist_ok=True)  # the app folder did not exist at that commit: empty
    return folder


def _inside_work_tree(folder: Path) -> bool:
    try:
        return _git(["rev-parse", "--is-inside-work-tree"], folder).strip() == b"true"
    except UsageError:
        return False
