"""The slug's app files, copied into a folder of slugprof's own, for the web process to run from.

A dyno runs the slug, not the work tree: a file `.slugignore` removes, one that is not committed, or one
git ignores is not there. The copy holds exactly the files the push sends after `.slugignore` (the app
inventory's included files, as `analyze` counts them), symlinks as links, with their modes. The app runs
and writes there (its `__pycache__`, a SQLite file, collectstatic's output, memray's captures), never in
the user's tree. `HOME` is the copy too, as `/app` is on a dyno.

When the app then fails for want of a file, `absent_from_slug` names the file and why the slug lacks it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from slugprof.model import AppInventory
from slugprof.progress import NoProgress, Progress

# What a Python traceback or a server's error says about a file it could not find: FileNotFoundError's
# `[Errno 2] No such file or directory: 'data/model.pkl'`, and ModuleNotFoundError's `No module named 'x'`.
_NO_SUCH_FILE = re.compile(r"No such file or directory: '([^']+)'")
_NO_MODULE = re.compile(r"No module named '([A-Za-z0-9_.]+)'")


@dataclass(frozen=True)
class SlugCopy:
    folder: Path  # where the app runs: the slug's files, as on the dyno's /app
    source: Path  # the user's app folder, never written to
    inventory: AppInventory

    @property
    def scratch(self) -> Path:
        """The temporary folder that holds the copy (`slugprof-slug-...`)."""
        return self.folder.parent

    def absent_from_slug(self, failure: str) -> str | None:
        """Why the file or module the failure text names is on disk here but not in the slug; None when
        it names none, or none of that kind."""
        for path in _paths_named(failure, self.source, self.folder):
            reason = self._why_absent(path)
            if reason is not None:
                return f"{path} is on disk here but not in the slug ({reason}): a dyno does not have it"
        return None

    def _why_absent(self, path: str) -> str | None:
        if (self.folder / path).exists() or not (self.source / path).exists():
            return None
        for file in self.inventory.files:
            if not file.included and (file.path == path or file.path.startswith(path.rstrip("/") + "/")):
                return f"{file.excluded_by or '.slugignore'} removes it"
        if any(name == path or name.startswith(path.rstrip("/") + "/") for name in self.inventory.untracked):
            return "it is not committed"
        return "git ignores it, or it is not committed"


@contextmanager
def slug_copy(source: Path, inventory: AppInventory, progress: Progress | None = None) -> Iterator[SlugCopy]:
    """The slug's app files in a temporary folder, removed when the block ends."""
    progress = progress or NoProgress()
    with tempfile.TemporaryDirectory(prefix="slugprof-slug-") as scratch:
        folder = Path(scratch) / "app"
        folder.mkdir()
        included = inventory.included
        progress.stage("Copying the slug's files", len(included))
        for file in included:
            _copy(source / file.path, folder / file.path, symlink=file.kind == "symlink")
            progress.advance(1)
        yield SlugCopy(folder, source, inventory)


def _copy(origin: Path, target: Path, *, symlink: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if symlink:
            os.symlink(os.readlink(origin), target)
        else:
            shutil.copy2(origin, target, follow_symlinks=False)
    except OSError:
        pass  # gone or unreadable since it was listed: the inventory already reports it, and the app will


def _paths_named(failure: str, source: Path, folder: Path) -> Iterator[str]:
    """App-relative paths the failure names: files it could not open (relative to the app, or absolute
    in the copy), modules it could not import."""
    for match in _NO_SUCH_FILE.finditer(failure):
        path = Path(match.group(1))
        if path.is_absolute():
            try:
                path = path.relative_to(folder)
            except ValueError:
                continue  # outside the app: says nothing about the slug
        yield path.as_posix().removeprefix("./")
    for match in _NO_MODULE.finditer(failure):
        parts = match.group(1).split(".")
        for depth in range(len(parts), 0, -1):
            module = "/".join(parts[:depth])
            for candidate in (f"{module}.py", f"{module}/"):
                if (source / candidate).exists():
                    yield candidate
