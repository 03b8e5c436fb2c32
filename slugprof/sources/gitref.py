"""git, read without touching the user's repository: a commit's files through `git archive`, which reads
the object store only (never the work tree, the index or the checked-out branch).

- `app_at_ref`: the app as committed at a ref, extracted into a folder of slugprof's own, so that a
  baseline is measured from git itself;
- `archive` and `archive_files`: a commit's files as a tar stream and its members, for any reader
  (a package installed from a git repository is sized from them).
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from slugprof.errors import UsageError
from slugprof.processes import run_command

ARCHIVE_TIMEOUT_SECONDS = 120.0


class GitFailure(Exception):
    """git refused or failed; the text is its last line of output."""


def run_git(
    arguments: Sequence[str],
    cwd: Path | str,
    *,
    environment: Mapping[str, str] | None = None,
    timeout: float = ARCHIVE_TIMEOUT_SECONDS,
) -> bytes:
    """git's output; GitFailure naming the subcommand and git's last line when it exits non-zero."""
    # LC_ALL=C keeps git's messages in English, the one line shown when it refuses.
    result = run_command(
        ["git", "-c", "core.quotepath=off", *arguments],
        cwd=str(cwd),
        env={**(environment if environment is not None else os.environ), "LC_ALL": "C"},
        timeout=timeout,
    )
    if result.returncode != 0:
        raise GitFailure(
            f"git {arguments[0]}: {_reason(result.stderr) or f'exit status {result.returncode}'}"
        )
    return result.stdout


def _reason(stderr: bytes) -> str:
    """git's own reason: its first `fatal:` or `error:` line (advice follows it), else its last line."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return said[0] if said else lines[-1] if lines else ""


def archive(
    repository: Path | str,
    revision: str,
    paths: Sequence[str] = (),
    *,
    environment: Mapping[str, str] | None = None,
    timeout: float = ARCHIVE_TIMEOUT_SECONDS,
) -> bytes:
    """The tar stream of `revision`'s files (under `paths` when given), as `git archive` writes it."""
    arguments = ["archive", "--format=tar", revision]
    if paths:
        arguments += ["--", *paths]
    return run_git(arguments, repository, environment=environment, timeout=timeout)


def archive_files(tar: bytes) -> Iterator[tuple[str, bytes]]:
    """Each regular file of an archive, its path and its bytes."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as members:
        for info in members:
            if info.isfile():
                handle = members.extractfile(info)
                yield info.name, handle.read() if handle is not None else b""


def app_at_ref(app_root: Path, ref: str, into: Path) -> Path:
    """The app folder as committed at `ref`, extracted under `into`; a UsageError when the folder is not
    in a git work tree or git does not know the ref."""
    try:
        return _extracted(app_root, ref, into)
    except GitFailure as error:
        raise UsageError(f"--baseline-ref {ref}: {error}") from None


def _extracted(app_root: Path, ref: str, into: Path) -> Path:
    if not (app_root / ".git").exists() and not _inside_work_tree(app_root):
        raise UsageError(f"--baseline-ref {ref}: {app_root} is not in a git work tree")
    prefix = run_git(["rev-parse", "--show-prefix"], app_root).decode("utf-8", "replace").strip()
    try:
        commit = run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], app_root).decode().strip()
    except GitFailure:
        raise UsageError(f"--baseline-ref {ref}: git knows no commit by that name here") from None
    top = Path(run_git(["rev-parse", "--show-toplevel"], app_root).decode("utf-8", "replace").strip())
    tar = archive(top, commit, [prefix.rstrip("/")] if prefix else ())
    with tarfile.open(fileobj=io.BytesIO(tar)) as members:
        if hasattr(tarfile, "data_filter"):  # 3.12+, and the 3.10/3.11 security releases
            members.extractall(into, filter="data")
        else:  # pragma: no cover - older patch releases: git's own archive of this repository
            members.extractall(into)
    folder = into / prefix
    folder.mkdir(parents=True, exist_ok=True)  # the app folder did not exist at that commit: empty
    return folder


def _inside_work_tree(folder: Path) -> bool:
    try:
        return run_git(["rev-parse", "--is-inside-work-tree"], folder).strip() == b"true"
    except GitFailure:
        return False
