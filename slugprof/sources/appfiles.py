"""The app's own files as a push would send them, and what .slugignore then removes.

In a git work tree a push sends what git tracks, so the list comes from `git ls-files`; outside git it
is a walk of the folder less what its .gitignore files exclude. Paths are only lstat-ed: symlinks are
never followed (a loop cannot trap the walk) and only regular files are ever opened (opening a FIFO
blocks forever). Anything odd in the tree becomes a PathProblem instead of an exception.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from slugprof.errors import ToolFailure, UsageError
from slugprof.model import AppFile, AppInventory, AppSource, FileKind, PathProblem, SlugignoreRule
from slugprof.processes import run_command
from slugprof.progress import NoProgress, Progress
from slugprof.sources.approot import saved_path
from slugprof.sources.slugignore import SlugignorePattern, parse_slugignore, pattern_matches

SLUGIGNORE = ".slugignore"
_GIT_FOLDER = ".git"
_GITLINK_MODE = "160000"  # how git records a submodule in its index

# Open for a readability check only: never block on a FIFO swapped in, never follow a symlink.
_CHECK_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


@dataclass(frozen=True)
class _Entry:
    """A file or symlink that would be pushed."""

    path: str  # relative POSIX path as the OS gives it (bytes that are not UTF-8 as surrogate escapes)
    kind: FileKind
    size: int
    points_to_folder: bool = False  # symlinks only


@dataclass
class _Listing:
    entries: list[_Entry]
    pushed_paths: set[str]  # every path the push would send, including those skipped with a problem
    untracked: tuple[str, ...] = ()


def collect_app_files(
    root: Path,
    progress: Progress = NoProgress(),  # noqa: B008 (stateless)
) -> AppInventory:
    """List the files a push of `root` would send, with what .slugignore removes from them.

    Raises UsageError when `root` is not an existing folder; anything found inside it is reported
    in `AppInventory.problems` instead.
    """
    app_root = _checked_root(root)
    progress.stage("Listing app files", None)
    problems: list[PathProblem] = []
    listing = _list_tracked_files(app_root, problems, progress)
    source = AppSource.GIT
    if listing is None:
        source = AppSource.FILESYSTEM
        listing = _walk_folder(app_root, problems, progress)
    patterns = _read_slugignore(app_root, listing, source, problems)
    files, rules = _apply_slugignore(listing.entries, patterns)
    problems.extend(_undecodable_name_problems(entry.path for entry in listing.entries))
    return AppInventory(
        root=saved_path(app_root),
        source=source,
        files=files,
        untracked=listing.untracked,
        problems=tuple(sorted(problems, key=lambda problem: (problem.path, problem.reason))),
        slugignore=rules,
    )


def _checked_root(root: Path) -> Path:
    try:
        status = os.stat(root)
    except FileNotFoundError:
        raise UsageError(
            f"{root}: no such folder; give the path of your app (the folder with the Procfile)"
        ) from None
    except OSError as error:
        raise UsageError(f"{root}: cannot open it ({error.strerror}); give a folder you can read") from error
    if not stat.S_ISDIR(status.st_mode):
        raise UsageError(f"{root}: is a file; give the folder of your app, not a file in it")
    return Path(os.path.abspath(root))


def _display(path: str) -> str:
    """A path as text: bytes that are not UTF-8 shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


# --- git mode --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GitAnswer:
    output: bytes
    error: str | None  # the first line of git's complaint, or why git could not run


def _ask_git(arguments: Sequence[str], root: Path) -> _GitAnswer:
    # LC_ALL=C keeps git's messages in English, so "not a git repository" can be recognised.
    environment = {**os.environ, "LC_ALL": "C"}
    try:
        result = run_command(["git", "-c", "core.quotepath=off", *arguments], cwd=str(root), env=environment)
    except ToolFailure as failure:
        return _GitAnswer(b"", str(failure))
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        return _GitAnswer(b"", lines[0] if lines else f"exit status {result.returncode}")
    return _GitAnswer(result.stdout, None)


def _list_tracked_files(root: Path, problems: list[PathProblem], progress: Progress) -> _Listing | None:
    """The files git tracks under `root`, or None when `root` is not in a git work tree."""
    fallback = "listed every file in the folder instead of the files git would push"
    probe = _ask_git(["-C", str(root), "rev-parse", "--show-toplevel"], root)
    if probe.error is not None:
        if "not a git repository" not in probe.error:
            problems.append(PathProblem(".", f"git could not be used ({probe.error}): {fallback}", False))
        return None
    tracked = _ask_git(["ls-files", "-z", "--stage"], root)
    if tracked.error is not None:
        problems.append(PathProblem(".", f"git ls-files failed ({tracked.error}): {fallback}", False))
        return None

    listing = _Listing(entries=[], pushed_paths=set())
    for mode, path in _parse_stage_listing(tracked.output):
        listing.pushed_paths.add(path)
        entry = _tracked_entry(root, mode, path, problems)
        if entry is not None:
            listing.entries.append(entry)
            progress.advance()
    if not listing.pushed_paths:
        problems.append(
            PathProblem(".", "git tracks no file in this folder: a push sends nothing from it", counted=False)
        )

    untracked = _ask_git(["ls-files", "-z", "--others", "--exclude-standard"], root)
    if untracked.error is None:
        paths = (os.fsdecode(raw) for raw in untracked.output.split(b"\0") if raw)
        listing.untracked = tuple(sorted(_display(path) for path in paths if not _inside_git_folder(path)))
    else:
        problems.append(
            PathProblem(".", f"untracked files not listed: git failed ({untracked.error})", False)
        )
    return listing


def _parse_stage_listing(output: bytes) -> list[tuple[str, str]]:
    """(mode, path) pairs from `git ls-files -z --stage`; one per path even during a merge conflict."""
    seen: dict[str, str] = {}
    for record in output.split(b"\0"):
        if not record:
            continue
        metadata, _, raw_path = record.partition(b"\t")
        path = os.fsdecode(raw_path)
        if _inside_git_folder(path):
            continue
        seen.setdefault(path, metadata.split(b" ", 1)[0].decode("ascii", "replace"))
    return [(mode, path) for path, mode in seen.items()]


def _inside_git_folder(path: str) -> bool:
    return _GIT_FOLDER in path.rstrip("/").split("/")


def _tracked_entry(root: Path, mode: str, path: str, problems: list[PathProblem]) -> _Entry | None:
    shown = _display(path)
    if mode == _GITLINK_MODE:
        problems.append(
            PathProblem(
                shown,
                "a git submodule: Heroku checks it out at build time, but slugprof does not measure it",
                counted=False,
            )
        )
        return None
    location = os.path.join(root, path)
    try:
        status = os.lstat(location)
    except (FileNotFoundError, NotADirectoryError):
        problems.append(
            PathProblem(
                shown,
                "tracked by git but deleted from the work tree: the last commit still has it, so a push"
                " still sends it; not counted",
                counted=False,
            )
        )
        return None
    except OSError as error:
        problems.append(PathProblem(shown, f"cannot be examined ({error.strerror}): not counted", False))
        return None
    if stat.S_ISDIR(status.st_mode):
        problems.append(
            PathProblem(shown, "tracked by git as a file, but a folder is there now: not counted", False)
        )
        return None
    return _entry_for(location, path, status, problems)


# --- filesystem mode -------------------------------------------------------------------------


@dataclass(frozen=True)
class _IgnoreFile:
    folder: str  # relative path of the folder holding the .gitignore ("" for the root)
    spec: GitIgnoreSpec

    def verdict(self, path: str, is_folder: bool) -> bool | None:
        """True: ignored, False: re-included by a '!' pattern, None: no pattern of this file matches."""
        relative = path[len(self.folder) + 1 :] if self.folder else path
        return self.spec.check_file(f"{relative}/" if is_folder else relative).include


def _is_ignored(path: str, is_folder: bool, ignore_files: Sequence[_IgnoreFile]) -> bool:
    # As in git, the deepest .gitignore with a matching pattern decides.
    for ignore_file in reversed(ignore_files):
        verdict = ignore_file.verdict(path, is_folder)
        if verdict is not None:
            return verdict
    return False


def _walk_folder(root: Path, problems: list[PathProblem], progress: Progress) -> _Listing:
    """Every file under `root` that git would add, without recursion (trees can be very deep)."""
    listing = _Listing(entries=[], pushed_paths=set())
    pending: list[tuple[str, tuple[_IgnoreFile, ...]]] = [("", ())]
    while pending:
        folder, ignore_files = pending.pop()
        location = os.path.join(root, folder) if folder else str(root)
        try:
            with os.scandir(location) as scan:
                children = list(scan)
        except OSError as error:
            problems.append(
                PathProblem(
                    _display(folder) or ".",
                    f"folder cannot be read ({error.strerror}): the files in it are not counted",
                    counted=False,
                )
            )
            continue
        own_ignore_file = _read_gitignore(folder, children, problems)
        if own_ignore_file is not None:
            ignore_files = (*ignore_files, own_ignore_file)
        for child in children:
            if child.name == _GIT_FOLDER:
                continue
            path = f"{folder}/{child.name}" if folder else child.name
            try:
                status = child.stat(follow_symlinks=False)
            except OSError as error:
                problems.append(PathProblem(_display(path), f"cannot be examined ({error.strerror})", False))
                continue
            is_folder = stat.S_ISDIR(status.st_mode)
            if _is_ignored(path, is_folder, ignore_files):
                continue
            if is_folder:
                pending.append((path, ignore_files))
                continue
            listing.pushed_paths.add(path)
            entry = _entry_for(child.path, path, status, problems)
            if entry is not None:
                listing.entries.append(entry)
                progress.advance()
    return listing


def _read_gitignore(
    folder: str, children: Iterable[os.DirEntry[str]], problems: list[PathProblem]
) -> _IgnoreFile | None:
    for child in children:
        # git does not follow a symlinked .gitignore in the work tree, so neither does this.
        if child.name == ".gitignore" and child.is_file(follow_symlinks=False):
            path = f"{folder}/.gitignore" if folder else ".gitignore"
            text = _read_text(child.path, path, "its patterns are not applied", problems, follow=False)
            return None if text is None else _IgnoreFile(folder, _gitignore_spec(text, path, problems))
    return None


def _gitignore_spec(text: str, path: str, problems: list[PathProblem]) -> GitIgnoreSpec:
    lines = text.splitlines()
    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError:
        pass
    # git skips a line it cannot parse and keeps the rest; do the same.
    valid_lines = []
    for number, line in enumerate(lines, start=1):
        try:
            GitIgnoreSpec.from_lines([line])
        except ValueError:
            problems.append(
                PathProblem(_display(path), f"line {number} is not a valid pattern: ignored", True)
            )
        else:
            valid_lines.append(line)
    return GitIgnoreSpec.from_lines(valid_lines)


# --- one path --------------------------------------------------------------------------------


def _entry_for(
    location: str, path: str, status: os.stat_result, problems: list[PathProblem]
) -> _Entry | None:
    """The entry for a path that is not a folder, or None (with a problem) for what cannot be pushed."""
    mode = status.st_mode
    if stat.S_ISREG(mode):
        error = _open_error(location)
        if error is not None:
            problems.append(
                PathProblem(
                    _display(path),
                    f"cannot be read ({error}): counted at its size on disk, but its contents cannot be"
                    " compressed, so the compressed estimate has to guess for it",
                    counted=True,
                )
            )
        return _Entry(path, "file", status.st_size)
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(os.fsencode(location))
        except OSError as error:
            problems.append(PathProblem(_display(path), f"symlink cannot be read ({error.strerror})", False))
            return None
        # isdir follows the link only to stat it; a loop just answers False.
        return _Entry(path, "symlink", len(target), points_to_folder=os.path.isdir(location))
    problems.append(
        PathProblem(
            _display(path),
            f"{_special_kind(mode)}, not a regular file: skipped (git cannot store one, so a push never"
            " sends it)",
            counted=False,
        )
    )
    return None


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "an unknown kind of file"


def _open_error(location: str) -> str | None:
    try:
        descriptor = os.open(location, _CHECK_OPEN_FLAGS)
    except OSError as error:
        return error.strerror or type(error).__name__
    os.close(descriptor)
    return None


def _read_text(
    location: str, path: str, consequence: str, problems: list[PathProblem], *, follow: bool
) -> str | None:
    """A small text file the user wrote, or None (with a problem) when it cannot be read.

    Bytes that are not UTF-8 are replaced, with a problem saying so.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(location, flags)
        with os.fdopen(descriptor, "rb") as stream:
            content = stream.read()
    except OSError as error:
        problems.append(
            PathProblem(_display(path), f"cannot be read ({error.strerror}): {consequence}", True)
        )
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    what = "binary, not text" if b"\0" in content else "not valid UTF-8 text"
    problems.append(
        PathProblem(
            _display(path),
            f"{what}: read with the bad bytes replaced, so patterns holding them match nothing",
            counted=True,
        )
    )
    return content.decode("utf-8", "replace")


# --- .slugignore -----------------------------------------------------------------------------


def _read_slugignore(
    root: Path, listing: _Listing, source: AppSource, problems: list[PathProblem]
) -> tuple[SlugignorePattern, ...]:
    location = os.path.join(root, SLUGIGNORE)
    if SLUGIGNORE not in listing.pushed_paths:
        if os.path.lexists(location):
            reason = (
                "not committed, so Heroku never sees it: its patterns are not applied (commit it)"
                if source == AppSource.GIT
                else "excluded by .gitignore, so it is never pushed: its patterns are not applied"
            )
            problems.append(PathProblem(SLUGIGNORE, reason, counted=False))
        return ()
    if not any(entry.path == SLUGIGNORE for entry in listing.entries):
        return ()  # a FIFO or a deleted file: already reported
    # Heroku reads it with File.read, which follows a symlink; only open what is a regular file then.
    try:
        is_regular_file = stat.S_ISREG(os.stat(location).st_mode)
    except OSError:
        is_regular_file = False
    if not is_regular_file:
        problems.append(
            PathProblem(
                SLUGIGNORE,
                "a symlink that does not lead to a file: Heroku cannot read it, its patterns are not applied",
                counted=True,
            )
        )
        return ()
    text = _read_text(location, SLUGIGNORE, "its patterns are not applied", problems, follow=True)
    if text is None:
        return ()
    return parse_slugignore(text)


def _apply_slugignore(
    entries: Sequence[_Entry], patterns: Sequence[SlugignorePattern]
) -> tuple[tuple[AppFile, ...], tuple[SlugignoreRule, ...]]:
    """Mark each entry removed by the first pattern, in file order, that matches it or a folder above it.

    Heroku runs the patterns one after the other and `rm -rf`s every match, so the first pattern
    that reaches a file is the one that removes it.
    """
    removed_by = _first_removing_pattern(entries, patterns)

    removed_counts = [0] * len(patterns)
    for index in removed_by.values():
        removed_counts[index] += 1
    files = tuple(
        sorted(
            (
                AppFile(
                    path=_display(entry.path),
                    bytes=entry.size,
                    included=entry.path not in removed_by,
                    excluded_by=(
                        f"{SLUGIGNORE}: {patterns[removed_by[entry.path]].token}"
                        if entry.path in removed_by
                        else None
                    ),
                    kind=entry.kind,
                )
                for entry in entries
            ),
            key=lambda app_file: app_file.path,
        )
    )
    rules = tuple(
        SlugignoreRule(
            line=pattern.line,
            pattern=pattern.token,
            matched_paths=count,
            note=pattern.note,
            from_comment=pattern.from_comment,
        )
        for pattern, count in zip(patterns, removed_counts, strict=True)
    )
    return files, rules


def _first_removing_pattern(
    entries: Sequence[_Entry], patterns: Sequence[SlugignorePattern]
) -> dict[str, int]:
    """Each removed entry's path -> the index of the first pattern that removes it (or a folder above)."""
    folders_above = {entry.path: _folders_above(entry.path) for entry in entries}
    all_folders = {folder for folders in folders_above.values() for folder in folders}
    removed_by: dict[str, int] = {}
    for index, pattern in enumerate(patterns):
        if pattern_matches(pattern.token, "", is_dir=True):  # the app folder itself: everything goes
            removes_everything, matched_folders = True, set()
        else:
            removes_everything = False
            matched_folders = {
                folder for folder in all_folders if pattern_matches(pattern.token, folder, True)
            }
        for entry in entries:
            if entry.path in removed_by:
                continue
            if (
                removes_everything
                or not matched_folders.isdisjoint(folders_above[entry.path])
                or _pattern_matches_entry(pattern, entry)
            ):
                removed_by[entry.path] = index
    return removed_by


def removed_by_slugignore(text: str, files: Iterable[AppFile]) -> dict[str, int]:
    """Which of `files` a .slugignore with this text would remove, each with its pattern's index in the
    text: Heroku's rule, the one `collect_app_files` applies (a symlink counts as a file here)."""
    entries = [_Entry(path=f.path, kind=f.kind, size=f.bytes) for f in files]
    return _first_removing_pattern(entries, parse_slugignore(text))


def _folders_above(path: str) -> list[str]:
    """'a/b/c.py' -> ['a', 'a/b']."""
    parts = path.split("/")
    return ["/".join(parts[:length]) for length in range(1, len(parts))]


def _pattern_matches_entry(pattern: SlugignorePattern, entry: _Entry) -> bool:
    if entry.kind == "symlink":
        return pattern_matches(pattern.token, entry.path, entry.points_to_folder, is_symlink=True)
    return pattern_matches(pattern.token, entry.path, False)


def _undecodable_name_problems(paths: Iterable[str]) -> list[PathProblem]:
    """One problem per shallowest name that is not UTF-8 (a folder's covers the files inside it)."""
    reported: set[str] = set()
    for path in paths:
        if _display(path) == path:
            continue
        parts = path.split("/")
        for length in range(1, len(parts) + 1):
            prefix = "/".join(parts[:length])
            if _display(parts[length - 1]) != parts[length - 1]:
                reported.add(prefix)
                break
    return [
        PathProblem(
            _display(prefix),
            "name is not valid UTF-8: counted, shown with \\x escapes for its bytes that are not;"
            " Heroku keeps the bytes as they are",
            counted=True,
        )
        for prefix in sorted(reported)
    ]
