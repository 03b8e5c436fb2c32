"""The app's own files as Heroku would build them: after checkout, after `.slugignore`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

FileKind = Literal["file", "symlink"]


class AppSource(str, Enum):
    """Where the list of the app's files came from."""

    GIT = "git"  # the committed files of a git work tree: what `git push heroku` sends
    FILESYSTEM = "filesystem"  # every file in the folder (not a git work tree)


@dataclass(frozen=True)
class AppFile:
    """One file of the app as it would be pushed to Heroku."""

    path: str  # POSIX path relative to the app root
    bytes: int  # size on disk; for a symlink, the length of its target (links are never followed)
    included: bool  # False when .slugignore removes it
    excluded_by: str | None = None  # the rule that removed it, e.g. ".slugignore: tests/"
    kind: FileKind = "file"
    # The build step that wrote it into the slug ("collectstatic"); None: a file of the push.
    built_by: str | None = None


@dataclass(frozen=True)
class BuildStepRun:
    """A step of the build that writes files into the slug, run as the buildpack runs it, in slugprof's
    copy of the slug."""

    name: str  # "collectstatic"
    command: str  # "python manage.py collectstatic --noinput"
    added_files: int = 0  # the files it wrote, counted as app files with `built_by` set
    added_bytes: int = 0
    failure: str | None = None  # its last line of output when it failed: the build fails there
    exit_status: int | None = None  # when it failed


@dataclass(frozen=True)
class PathProblem:
    """Something in the tree worth telling: a FIFO skipped, a file unreadable, a name not UTF-8..."""

    path: str  # POSIX, relative to the app root; bytes that are not UTF-8 shown as \xNN escapes
    reason: str
    counted: bool  # True when the path is still counted in the app's files (at its stat size)


@dataclass(frozen=True)
class SlugignoreRule:
    """One pattern of .slugignore as Heroku reads it, with what it removed."""

    line: int
    pattern: str
    matched_paths: int  # files removed by this pattern (the first matching pattern wins)
    note: str | None = None  # a mistake worth telling, e.g. a '!' negation Heroku does not support
    from_comment: bool = False  # a word after '#' that Heroku's published rule still reads as a pattern


@dataclass(frozen=True, kw_only=True)
class AppInventory:
    root: str  # the app folder, absolute (the home folder written as ~)
    source: AppSource
    bytes: int = field(init=False, default=0)  # of the included files; derived from `files`
    excluded_bytes: int = field(init=False, default=0)  # of the files .slugignore removes
    compressed_bytes: int = 0  # the included files' share of the compressed slug
    files: tuple[AppFile, ...]  # sorted by path; included and excluded
    untracked: tuple[str, ...] = ()  # in a git tree: not committed, not ignored: will not deploy yet
    problems: tuple[PathProblem, ...] = ()
    slugignore: tuple[SlugignoreRule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "bytes", sum(f.bytes for f in self.files if f.included))
        object.__setattr__(self, "excluded_bytes", sum(f.bytes for f in self.files if not f.included))

    @property
    def included(self) -> tuple[AppFile, ...]:
        return tuple(f for f in self.files if f.included)
