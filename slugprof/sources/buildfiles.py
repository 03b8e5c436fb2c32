"""The app as the buildpack sees it: the pushed files after `.slugignore`, and why a file on disk is not
among them.

In a git work tree a push sends what git tracks; Heroku then removes what `.slugignore` names "after you
push code to Heroku and before the buildpack runs" (heroku-facts 2.1). So a `.python-version` that is
not committed, is git-ignored or is listed in `.slugignore` does not choose the Python version, and a
`requirements.txt` in the same state leaves the build with no package manager. Outside git, the files
on disk less `.gitignore` stand for the push. Contents are read from the work tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TypeVar, cast

from slugprof.errors import ToolFailure
from slugprof.model import AppFile, AppInventory, AppSource, Edit
from slugprof.sources.project_toml import PROJECT_TOML

T = TypeVar("T")

_KEPT_BYTES = 64 * 1024  # files up to this size are kept once read: version, lock and config files, most code


class Absence(str, Enum):
    """Why a file on disk is not in what the buildpack sees."""

    NOT_COMMITTED = "not committed"
    IGNORED = "ignored by git"
    SLUGIGNORED = "removed by .slugignore"
    PROJECT_EXCLUDED = "excluded by project.toml"  # Fir: [io.buildpacks] exclude/include, not .slugignore


@dataclass(frozen=True)
class BuildFiles:
    root: Path
    source: AppSource
    visible: frozenset[str]  # POSIX paths relative to the root
    untracked: frozenset[str] = frozenset()  # git: on disk, not committed, not ignored
    slugignored: frozenset[str] = frozenset()  # pushed, then removed by .slugignore
    project_excluded: frozenset[str] = frozenset()  # Fir: left out by project.toml's [io.buildpacks]
    _folders: frozenset[str] = field(default=frozenset(), repr=False)
    # Each file is read from disk once, however many rules look at it (small files only: they are the
    # ones read again).
    _read: dict[str, bytes | None] = field(default_factory=dict, repr=False, compare=False)
    # What a scan made of the files, for the rules that share it (one read of every file, not one each).
    _derived: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, root: Path, app: AppInventory) -> BuildFiles:
        visible = frozenset(f.path for f in app.files if f.included)
        folders = {parent for path in visible for parent in _parents(path)}
        return cls(
            root=root,
            source=app.source,
            visible=visible,
            untracked=frozenset(app.untracked),
            slugignored=frozenset(f.path for f in app.files if not f.included and not _by_project(f)),
            project_excluded=frozenset(f.path for f in app.files if not f.included and _by_project(f)),
            _folders=frozenset(folders),
        )

    def exists(self, path: str) -> bool:
        return path in self.visible

    def is_folder(self, path: str) -> bool:
        """A folder holding at least one visible file (git has no empty folders)."""
        return path.rstrip("/") in self._folders

    def read_bytes(self, path: str, *, keep: bool = True) -> bytes | None:
        """The file's bytes when the buildpack sees it, else None. `keep=False` for a file read once
        (a scan of every file), so that what is kept stays the files rules read again."""
        if path not in self.visible:
            return None
        if path in self._read:
            return self._read[path]
        try:
            with open(self.root / path, "rb") as handle:
                data: bytes | None = handle.read()
        except OSError:
            data = None
        if keep and (data is None or len(data) <= _KEPT_BYTES):
            self._read[path] = data
        return data

    def edited_texts(self, edits: Iterable[Edit]) -> dict[str, str]:
        """The files as these edits would leave them (path -> text), each edit applied in turn: `old`
        replaced once by `new`, or `new` appended when `old` is None. ToolFailure when an `old` is not
        in its file (the edit was made for other contents)."""
        texts: dict[str, str] = {}
        for edit in edits:
            text = texts[edit.path] if edit.path in texts else (self.read_text(edit.path) or "")
            if edit.old is None:
                text = text + ("\n" if text and not text.endswith("\n") else "") + edit.new
            elif edit.old in text:
                text = text.replace(edit.old, edit.new, 1)
            else:
                raise ToolFailure(f"{edit.path} does not hold the text the fix changes")
            texts[edit.path] = text
        return texts

    def derived(self, key: str, compute: Callable[[], T]) -> T:
        """What `compute` makes of the files, computed the first time `key` is asked for and kept: a
        scan of every file that several rules read."""
        if key not in self._derived:
            self._derived[key] = compute()
        return cast(T, self._derived[key])

    def read_text(self, path: str) -> str | None:
        """The file as text (undecodable bytes replaced) when the buildpack sees it, else None."""
        data = self.read_bytes(path)
        return None if data is None else data.decode("utf-8", "replace")

    def read_local_text(self, path: str) -> str | None:
        """The file on disk, pushed or not (for what the platform takes from elsewhere, like `.env`'s
        config vars, which are a hint of the app's own), else None."""
        try:
            return (self.root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def absence(self, path: str) -> Absence | None:
        """Why `path`, a file on disk, is not seen by the buildpack; None when it is seen or not on disk."""
        if path in self.visible:
            return None
        if path in self.slugignored:
            return Absence.SLUGIGNORED
        if path in self.project_excluded:
            return Absence.PROJECT_EXCLUDED
        if not os.path.lexists(self.root / path):
            return None
        if self.source == AppSource.GIT and path in self.untracked:
            return Absence.NOT_COMMITTED
        return Absence.IGNORED

    def paths_named(self, name: str) -> tuple[str, ...]:
        """Visible files called `name` in any folder, shallowest first."""
        found = [path for path in self.visible if path.rsplit("/", 1)[-1] == name]
        return tuple(sorted(found, key=lambda path: (path.count("/"), path)))


def _by_project(file: AppFile) -> bool:
    """Whether project.toml left the file out (Fir), not .slugignore."""
    return (file.excluded_by or "").startswith(PROJECT_TOML)


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]
