"""The Python version the buildpack reads from the app, exactly as it reads it, and what is wrong with it.

Precedence (heroku-facts 3.3; lib/python_version.sh): runtime.txt (deprecated), then a refused
misspelling of .python-version, then .python-version, then Pipfile.lock's `python_full_version` or
`python_version` (Pipenv apps only), else the buildpack's default. A file that is present but not
readable as a version stops the build: the buildpack does not fall through to the next source.

How lines are read: each line is trimmed of surrounding whitespace (so a CRLF's CR goes), and lines
that are then empty or start with `#` are dropped. runtime.txt's one remaining line must be
`python-N.N` or `python-N.N.N`; every remaining line of .python-version must be `N.N` or `N.N.N`
(integers without leading zeros), and there must be exactly one. A .python-version in an encoding
other than ASCII or UTF-8 without a byte-order mark is refused as unreadable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from enum import Enum

from slugprof.heroku import LATEST_PYTHON_PATCH, MISSPELLED_VERSION_FILES
from slugprof.sources.buildfiles import BuildFiles

RUNTIME_TXT = "runtime.txt"
PYTHON_VERSION_FILE = ".python-version"
PIPFILE_LOCK = "Pipfile.lock"

_INT = r"(?:0|[1-9][0-9]*)"
_VERSION = re.compile(rf"^{_INT}\.{_INT}(?:\.{_INT})?$")
_RUNTIME_TXT = re.compile(rf"^python-({_INT}\.{_INT}(?:\.{_INT})?)$")
_BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# The buildpack trims [[:space:]] (ASCII whitespace); invisible Unicode spaces stay, and are refused.
_TRIMMED = " \t\r\n\v\f"


class VersionProblem(str, Enum):
    """Why the buildpack refuses the requested version."""

    INVALID = "invalid"  # not a version the file's syntax allows
    SEVERAL = "several"  # .python-version names more than one version
    EMPTY = "empty"  # .python-version names no version
    ENCODING = "encoding"  # .python-version is not ASCII or UTF-8 without a byte-order mark
    MISSPELLED = "misspelled"  # a refused misspelling of .python-version is present
    END_OF_LIFE = "end-of-life"  # a minor older than the oldest supported
    UNKNOWN_MINOR = "unknown-minor"  # a minor newer than the newest the buildpack knows
    UNKNOWN_PATCH = "unknown-patch"  # a patch newer than the latest the buildpack knows


@dataclass(frozen=True)
class VersionRequest:
    """What the app asks for, and where."""

    origin: str | None  # "runtime.txt", ".python-version", "Pipfile.lock", a misspelled name; None: none
    requested: str | None  # "3.12" or "3.12.4" as written; None when unreadable or not named
    line: int | None = None  # 1-based line of the version (or of the first offending line)
    text: str = ""  # the offending or requested text, for evidence (never a whole file)
    problem: VersionProblem | None = None

    @property
    def minor(self) -> str | None:
        if self.requested is None:
            return None
        return ".".join(self.requested.split(".")[:2])


def read_version_request(files: BuildFiles, manager: str) -> VersionRequest:
    """The version request the buildpack reads, with the syntax and support problems it refuses."""
    if files.exists(RUNTIME_TXT):
        return _checked(_read_runtime_txt(files.read_bytes(RUNTIME_TXT) or b""))
    misspelled = [name for name in MISSPELLED_VERSION_FILES if files.exists(name)]
    if misspelled:
        return VersionRequest(misspelled[0], None, None, misspelled[0], VersionProblem.MISSPELLED)
    if files.exists(PYTHON_VERSION_FILE):
        return _checked(_read_python_version_file(files.read_bytes(PYTHON_VERSION_FILE) or b""))
    if manager == "pipenv" and files.exists(PIPFILE_LOCK):
        request = _read_pipfile_lock(files.read_text(PIPFILE_LOCK) or "")
        if request is not None:
            return _checked(request)
    return VersionRequest(origin=None, requested=None)


def _version_lines(text: str) -> list[tuple[int, str]]:
    """(line number, trimmed line) of the lines the buildpack keeps: not blank, not a comment."""
    kept = []
    for number, line in enumerate(text.replace("\0", "").split("\n"), start=1):
        trimmed = line.strip(_TRIMMED)
        if trimmed and not trimmed.startswith("#"):
            kept.append((number, trimmed))
    return kept


def _read_runtime_txt(data: bytes) -> VersionRequest:
    lines = _version_lines(data.decode("utf-8", "replace"))
    if len(lines) != 1:
        number = lines[1][0] if len(lines) > 1 else None
        return VersionRequest(RUNTIME_TXT, None, number, "", VersionProblem.INVALID)
    number, line = lines[0]
    match = _RUNTIME_TXT.match(line)
    if match is None:
        return VersionRequest(RUNTIME_TXT, None, number, line, VersionProblem.INVALID)
    return VersionRequest(RUNTIME_TXT, match.group(1), number, line)


def _read_python_version_file(data: bytes) -> VersionRequest:
    if data.startswith(_BYTE_ORDER_MARKS):
        return VersionRequest(PYTHON_VERSION_FILE, None, 1, "", VersionProblem.ENCODING)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return VersionRequest(PYTHON_VERSION_FILE, None, 1, "", VersionProblem.ENCODING)
    lines = _version_lines(text)
    # Every kept line is validated before they are counted: an invalid line wins over "several".
    for number, line in lines:
        if not _VERSION.match(line):
            return VersionRequest(PYTHON_VERSION_FILE, None, number, line, VersionProblem.INVALID)
    if not lines:
        return VersionRequest(PYTHON_VERSION_FILE, None, None, "", VersionProblem.EMPTY)
    if len(lines) > 1:
        shown = ", ".join(line for _, line in lines)
        return VersionRequest(PYTHON_VERSION_FILE, None, lines[1][0], shown, VersionProblem.SEVERAL)
    number, line = lines[0]
    return VersionRequest(PYTHON_VERSION_FILE, line, number, line)


def _read_pipfile_lock(text: str) -> VersionRequest | None:
    """Pipfile.lock's version fields (both optional; python_full_version first); None when it names none."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return VersionRequest(PIPFILE_LOCK, None, None, "not valid JSON", VersionProblem.INVALID)
    meta = document.get("_meta") if isinstance(document, dict) else None
    requires = meta.get("requires") if isinstance(meta, dict) else None
    if not isinstance(requires, dict):
        return None
    key = next(
        (k for k in ("python_full_version", "python_version") if requires.get(k) not in (None, False)), None
    )
    if key is None:
        return None
    version = str(requires[key])
    line = next((n for n, row in enumerate(text.splitlines(), start=1) if f'"{key}"' in row), None)
    if not _VERSION.match(version):
        return VersionRequest(PIPFILE_LOCK, None, line, version, VersionProblem.INVALID)
    return VersionRequest(PIPFILE_LOCK, version, line, version)


def _checked(request: VersionRequest) -> VersionRequest:
    """The request with the support problem the buildpack refuses it for, if any."""
    if request.problem is not None or request.requested is None:
        return request
    parts = [int(part) for part in request.requested.split(".")]
    minor = f"{parts[0]}.{parts[1]}"
    if minor not in LATEST_PYTHON_PATCH:
        newest = max(tuple(int(p) for p in known.split(".")) for known in LATEST_PYTHON_PATCH)
        too_new = (parts[0], parts[1]) > newest
        return replace(
            request, problem=VersionProblem.UNKNOWN_MINOR if too_new else VersionProblem.END_OF_LIFE
        )
    if len(parts) == 3 and parts[2] > int(LATEST_PYTHON_PATCH[minor].split(".")[2]):
        return replace(request, problem=VersionProblem.UNKNOWN_PATCH)
    return request


def full_version(requested: str) -> str:
    """N.N resolved as the buildpack resolves it: its latest patch of that minor."""
    minor = ".".join(requested.split(".")[:2])
    return requested if requested.count(".") == 2 else LATEST_PYTHON_PATCH.get(minor, requested)
