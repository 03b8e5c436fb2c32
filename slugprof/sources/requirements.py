"""Read requirements.txt as pip reads it, keeping only what decides which packages get installed.

Versions, hashes and index options do not matter here: the packages are measured where they are
installed. What matters is which names the app asks for, with which extras, and whether their
environment markers apply.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from slugprof.markers import decide
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.requirement_reasons import Reason, explain

REQUIREMENTS_TXT = "requirements.txt"

# pip's own rule: a comment starts a line or follows whitespace ("pkg#egg" is not a comment).
_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_VCS_PREFIX = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
_TRAILING_EXTRAS = re.compile(r"^(?P<target>.*?)(?P<extras>\[[^\]]*\])?$")

# Options that change where or how pip installs, never which packages: ignored for the closure.
_OPTIONS_WITH_VALUE = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--no-binary",
    "--only-binary",
    "--trusted-host",
    "--use-feature",
    "--hash",
    "--config-settings",
    "--global-option",
    "--install-option",
}
_FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes", "-Z", "--always-unzip"}


@dataclass(frozen=True)
class RequirementLine:
    name: str | None  # canonical name; None when unknown (e.g. "-e ." or a bare URL)
    text: str  # as written (continuations joined, comment removed)
    extras: tuple[str, ...]
    source: str  # "requirements.txt:3" (file relative to app root, line)
    applies: bool  # markers evaluated against the environment
    editable: bool = False  # an `-e` line
    location: str | None = None  # the URL or path of a direct reference without `name @`, as written

    @property
    def file(self) -> str:
        return self.source.rpartition(":")[0]

    @property
    def line(self) -> int:
        return int(self.source.rpartition(":")[2])


@dataclass(frozen=True)
class RequirementProblem:
    """A line pip refuses: `pip install -r requirements.txt` stops there, and the build with it."""

    file: str  # relative to the app root
    line: int  # 1-based, the first physical line of a continued line
    text: str  # the line as written (continuations joined, comment removed)
    reason: str  # in words: what is wrong and what to write
    replacement: str | None = None  # the line it most likely meant, when there is an obvious one


@dataclass(frozen=True)
class RequirementsFile:
    files: tuple[str, ...]  # every file read, relative to app root (includes -r files)
    requirements: tuple[RequirementLine, ...]
    notes: tuple[str, ...]  # e.g. "-c constraints.txt: constraints do not add packages"
    problems: tuple[RequirementProblem, ...] = ()  # lines pip refuses


# The bytes of a file, None when it is not there (raises OSError when it cannot be read).
Loader = Callable[[Path], bytes | None]


def _disk_loader(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _not_found(_path: Path) -> str:
    return "file not found"


@dataclass
class _Reader:
    app_root: Path
    marker_environment: Mapping[str, str]
    load: Loader = _disk_loader
    missing: Callable[[Path], str] = _not_found
    files: list[str] = field(default_factory=list)
    requirements: list[RequirementLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[RequirementProblem] = field(default_factory=list)
    read: set[Path] = field(default_factory=set)

    def relative(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.app_root)).as_posix()

    def problem(self, source: str, text: str, reason: str, replacement: str | None = None) -> None:
        file, _, line = source.rpartition(":")
        self.problems.append(RequirementProblem(file, int(line), text, reason, replacement))

    def read_file(self, path: Path, stack: tuple[Path, ...]) -> None:
        real = path.resolve()
        if real in stack:
            self.notes.append(f"{self.relative(path)}: included again by itself (-r cycle); read once")
            return
        if real in self.read:
            return  # included twice: pip would read the same requirements again
        self.read.add(real)
        shown = self.relative(path)
        try:
            data = self.load(path)
        except OSError as error:
            self.notes.append(f"{shown}: cannot read ({error.strerror or error})")
            return
        if data is None:
            return
        self.files.append(shown)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
            self.notes.append(f"{shown}: not UTF-8; undecodable bytes replaced")
        for line_number, line in _logical_lines(text):
            self.read_line(path, f"{shown}:{line_number}", line, (*stack, real))

    def read_line(self, path: Path, source: str, line: str, stack: tuple[Path, ...]) -> None:
        if line.startswith("-"):
            self.read_option_line(path, source, line, stack)
            return
        requirement_part, _ = _split_options(line)
        self.add_requirement(source, requirement_part, editable=False)

    def read_option_line(self, path: Path, source: str, line: str, stack: tuple[Path, ...]) -> None:
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        option, value = _take_option(tokens)
        if option in ("-r", "--requirement", "-c", "--constraint"):
            self.read_included_file(path, source, option, value, stack)
        elif option in ("-e", "--editable"):
            if not value:
                self.problem(source, line, f"`{option}` names no project: give a folder or a VCS URL")
                return
            # From the raw line, not shlex's tokens: a marker keeps its quotes; trailing options go.
            editable = re.sub(r"^(-e|--editable)(=|\s*)", "", line, count=1)
            self.add_requirement(source, _split_options(editable)[0], editable=True)
        elif option in _OPTIONS_WITH_VALUE or option in _FLAG_OPTIONS:
            return
        else:
            self.problem(source, line, f"pip has no option `{option}` in a requirements file")

    def read_included_file(
        self, path: Path, source: str, option: str, value: str | None, stack: tuple[Path, ...]
    ) -> None:
        """`-r FILE` reads FILE's requirements; `-c FILE` only records that FILE was read."""
        if not value:
            self.problem(source, option, f"`{option}` names no file")
            return
        target = path.parent / value
        if _URL_SCHEME.match(value):
            self.notes.append(f"{source}: {option} {value}: remote requirement files are not read")
            return
        if os.path.isabs(value) or not _inside(target, self.app_root):
            self.notes.append(
                f"{source}: {option} {value} is outside the app: Heroku's build will not find it"
            )
        try:
            found = self.load(target)
        except OSError:
            found = b""  # there but unreadable: read_file says so
        if found is None:
            self.problem(source, f"{option} {value}", f"`{value}` cannot be opened: {self.missing(target)}")
            return
        if option in ("-c", "--constraint"):
            if target.resolve() not in self.read:
                self.read.add(target.resolve())
                self.files.append(self.relative(target))
            self.notes.append(f"-c {value}: constraints do not add packages")
            return
        self.read_file(target, stack)

    def add_requirement(self, source: str, text: str, *, editable: bool) -> None:
        text = text.strip()
        try:
            parsed = _parse_requirement(text, editable=editable)
        except (InvalidRequirement, InvalidMarker) as error:
            reason = _MARKER_REASON if editable else explain(text, str(error))
            self.problem(source, text, reason.text, reason.replacement)
            return
        name, extras, marker = parsed
        if name is None:
            hint = " (add #egg=name)" if _URL_SCHEME.match(text) or _VCS_PREFIX.match(text) else ""
            self.notes.append(
                f"{source}: {text}: package name unknown{hint}; its dependencies are not followed"
            )
        decision = decide(marker, self.marker_environment, where=f"{source} {name or text}")
        if decision.note:
            self.notes.append(decision.note)
        applies = decision.applies
        self.requirements.append(
            RequirementLine(
                name=name,
                text=text,
                extras=extras,
                source=source,
                applies=applies,
                editable=editable,
                location=_location_of(text) if editable or _looks_like_location(text) else None,
            )
        )


def read_requirements_txt(
    app_root: Path, marker_environment: Mapping[str, str], edited: Mapping[str, str] | None = None
) -> RequirementsFile:
    """Read `requirements.txt` at the app root and the files it includes, from the disk, or from
    `edited` (relative path -> text) for the files a fix would change. Never raises for bad content."""
    if not edited:
        return _read(_Reader(app_root=app_root, marker_environment=marker_environment))
    texts = {(app_root / relative).resolve(): text.encode("utf-8") for relative, text in edited.items()}

    def load(path: Path) -> bytes | None:
        real = path.resolve()
        return texts[real] if real in texts else _disk_loader(path)

    return _read(_Reader(app_root=app_root, marker_environment=marker_environment, load=load))


def read_build_requirements(files: BuildFiles, marker_environment: Mapping[str, str]) -> RequirementsFile:
    """The same, as the build reads it: only the files it sees (committed, after .slugignore)."""
    root = files.root

    def relative(path: Path) -> str | None:
        shown = Path(os.path.relpath(path, root)).as_posix()
        return None if shown.startswith("../") or os.path.isabs(shown) else shown

    def load(path: Path) -> bytes | None:
        shown = relative(path)
        return files.read_bytes(shown) if shown is not None else None

    def missing(path: Path) -> str:
        shown = relative(path)
        if shown is None:
            return "it is outside the app, which is all the build has"
        absence = files.absence(shown)
        return f"{shown} is {absence.value}" if absence is not None else f"there is no {shown}"

    return _read(_Reader(root, marker_environment, load=load, missing=missing))


def _read(reader: _Reader) -> RequirementsFile:
    path = reader.app_root / REQUIREMENTS_TXT
    try:
        present = reader.load(path) is not None
    except OSError:
        present = True  # there but unreadable: read_file says so
    if not present:
        return RequirementsFile(files=(), requirements=(), notes=(f"no {REQUIREMENTS_TXT} in the app",))
    reader.read_file(path, ())
    return RequirementsFile(
        files=tuple(reader.files),
        requirements=tuple(reader.requirements),
        notes=tuple(reader.notes),
        problems=tuple(reader.problems),
    )


_MARKER_REASON = Reason("the environment marker after `;` is not valid PEP 508")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line number, line): continuations joined, comments and blank lines dropped."""
    for first, _, line in _spans(text):
        line = _COMMENT.sub("", line).strip()
        if line:
            yield first, line


def _spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(first, last physical line number, joined line) of every logical line, comments included."""
    pending: list[str] = []
    first = 0
    number = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        # As pip does: a comment line ends a continuation even when it ends with a backslash.
        if physical.endswith("\\") and not _COMMENT.match(physical):
            if not pending:
                first = number
            pending.append(physical[:-1])
            continue
        if pending:
            pending.append(" " + physical if _COMMENT.match(physical) else physical)
            joined, pending = "".join(pending), []
            yield first, number, joined
        else:
            yield number, number, physical
    if pending:
        yield first, number, "".join(pending)


def rewrite_lines(text: str, replacements: Mapping[int, str]) -> str:
    """`text` with each logical line starting at a key replaced by its value ("" removes it); the other
    lines, and the line count, kept (a removed or shortened line leaves blank lines)."""
    physical = text.splitlines()
    out: list[str] = []
    for first, last, _ in _spans(text):
        if first in replacements:
            out.append(replacements[first])
            out.extend("" for _ in range(last - first))
        else:
            out.extend(physical[first - 1 : last])
    return "\n".join(out) + "\n"


def _split_options(line: str) -> tuple[str, str]:
    """pip's split of a requirement line: words up to the first one starting with '-' are the requirement."""
    words = line.split(" ")
    for index, word in enumerate(words):
        if word.startswith("-"):
            return " ".join(words[:index]), " ".join(words[index:])
    return line, ""


def _take_option(tokens: list[str]) -> tuple[str, str | None]:
    """The first option of an option line and its value, if it takes one."""
    first = tokens[0]
    if first.startswith("--"):
        option, equals, value = first.partition("=")
        if equals:
            return option, value
    else:
        option, value = first[:2], first[2:]
        if value:
            return option, value.removeprefix("=")
    if option in _FLAG_OPTIONS:
        return option, None
    return option, (tokens[1] if len(tokens) > 1 else None)


def _parse_requirement(text: str, *, editable: bool) -> tuple[str | None, tuple[str, ...], Marker | None]:
    """(canonical name or None, extras, marker) of a requirement, a URL or a path."""
    if not editable and not _looks_like_location(text):
        requirement = Requirement(text)
        return canonicalize_name(requirement.name), _canonical_extras(requirement.extras), requirement.marker

    # A URL or a path. pip separates a marker from a URL with "; " (a bare ";" may be part of it).
    location, marker = text, None
    separator = "; " if _URL_SCHEME.match(text) else ";"
    if separator in text:
        location, _, marker_text = text.partition(separator)
        marker = Marker(marker_text.strip())
    location = location.strip()

    url = urlsplit(location) if _URL_SCHEME.match(location) or _VCS_PREFIX.match(location) else None
    fragment_name = None
    if url is not None and url.fragment:
        for part in url.fragment.split("&"):
            key, _, value = part.partition("=")
            if key == "egg" and value:
                fragment_name = value
    target = unquote(url.path) if url is not None else location
    match = _TRAILING_EXTRAS.match(target)
    extras: tuple[str, ...] = ()
    if match is not None and match.group("extras"):
        target = match.group("target")
        extras = _canonical_extras(e.strip() for e in match.group("extras")[1:-1].split(","))

    if fragment_name is not None:
        named = _TRAILING_EXTRAS.match(fragment_name)
        if named is not None and named.group("extras"):
            extras = _canonical_extras(e.strip() for e in named.group("extras")[1:-1].split(","))
            fragment_name = named.group("target")
        return canonicalize_name(fragment_name), extras, marker
    return name_from_filename(target.rstrip("/").rsplit("/", 1)[-1]), extras, marker


def _location_of(text: str) -> str:
    """The URL or path of a direct reference, without its marker."""
    separator = "; " if _URL_SCHEME.match(text) else ";"
    return text.partition(separator)[0].strip()


def _looks_like_location(text: str) -> bool:
    if _URL_SCHEME.match(text) or _VCS_PREFIX.match(text):
        return True
    head = re.split(r"[\s;\[]", text, maxsplit=1)[0]
    if head in (".", "..") or head.startswith(("./", "../", "/", "~")) or os.sep in head or "/" in head:
        return " @ " not in text and not re.match(r"^[A-Za-z0-9._-]+\s*@", text)
    return head.endswith((".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar"))


def name_from_filename(filename: str) -> str | None:
    """The canonical project name in a wheel's or sdist's file name; None when it is neither."""
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _canonical_extras(extras: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({canonicalize_name(extra) for extra in extras if extra}))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
