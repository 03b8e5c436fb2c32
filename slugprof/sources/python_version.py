"""The Python version the buildpack reads from the app, exactly as it reads it, and what is wrong with it.

Precedence (heroku-facts 3.3, lib/python_version.sh): runtime.txt (deprecated), .python-version,
Pipfile.lock's `python_full_version` then `python_version` (Pipenv apps), else the buildpack's
default. A file that is present but unreadable as a version stops the build: the buildpack does not
fall through to the next source.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum

from slugprof.heroku import LATEST_PYTHON_PATCH
from slugprof.sources.buildfiles import BuildFiles

RUNTIME_TXT = "runtime.txt"
PYTHON_VERSION_FILE = ".python-version"
PIPFILE_LOCK = "Pipfile.lock"

# N.N or N.N.N, integers without redundant leading zeros (lib/python_version.sh's own regex).
_INT = r"(0|[1-9][0-9]*)"
_VERSION = re.compile(rf"^{_INT}\.{_INT}(?:\.{_INT})?$")
_RUNTIME_TXT_LINE = re.compile(rf"^\s*python-({_INT}\.{_INT}(?:\.{_INT})?)\s*$")


class VersionProblem(str, Enum):
    """Why the buildpack refuses the requested version."""

    INVALID = "invalid"  # not a version the file's syntax allows
    SEVERAL = "several"  # .python-version names more than one version
    EMPTY = "empty"  # the file names no version
    END_OF_LIFE = "end-of-life"  # a minor older than the oldest supported
    UNKNOWN_MINOR = "unknown-minor"  # a minor newer than the newest the buildpack knows
    UNKNOWN_PATCH = "unknown-patch"  # a patch newer than the latest the buildpack knows


@dataclass(frozen=True)
class VersionRequest:
    """What the app asks for, and where."""

    origin: str | None  # "runtime.txt", ".python-version", "Pipfile.lock"; None: no version named
    requested: str | None  # "3.12" or "3.12.4" as written; None when unreadable or not named
    line: int | None = None  # 1-based line of the version in its file
    text: str = ""  # the offending text, for evidence (never a whole file)
    problem: VersionProblem | None = None

    @property
    def minor(self) -> str | None:
        if self.requested is None:
            return None
        return ".".join(self.requested.split(".")[:2])


def read_version_request(files: BuildFiles, manager: str) -> VersionRequest:
    """The version request the buildpack reads, with the syntax and support problems it refuses."""
    if files.exists(RUNTIME_TXT):
        return _checked(_read_runtime_txt(files.read_text(RUNTIME_TXT) or ""))
    if files.exists(PYTHON_VERSION_FILE):
        return _checked(_read_python_version_file(files.read_text(PYTHON_VERSION_FILE) or ""))
    if manager == "pipenv" and files.exists(PIPFILE_LOCK):
        request = _read_pipfile_lock(files.read_text(PIPFILE_LOCK) or "")
        if request is not None:
            return _checked(request)
    return VersionRequest(origin=None, requested=None)


def _read_runtime_txt(text: str) -> VersionRequest:
    # Comment and blank lines are skipped; the one remaining line must be `python-N.N[.N]`.
    lines = [
        (number, line)
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if len(lines) != 1:
        problem = VersionProblem.EMPTY if not lines else VersionProblem.SEVERAL
        return VersionRequest(RUNTIME_TXT, None, lines[0][0] if lines else None, "", problem)
    number, line = lines[0]
    match = _RUNTIME_TXT_LINE.match(line)
    if match is None:
        return VersionRequest(RUNTIME_TXT, None, number, line.strip(), VersionProblem.INVALID)
    return VersionRequest(RUNTIME_TXT, match.group(1), number, line.strip())


def _read_python_version_file(text: str) -> VersionRequest:
    # Comments only on their own line; exactly one version of form N.N or N.N.N.
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines:
        return VersionRequest(PYTHON_VERSION_FILE, None, None, "", VersionProblem.EMPTY)
    if len(lines) > 1:
        shown = ", ".join(line for _, line in lines)
        return VersionRequest(PYTHON_VERSION_FILE, None, lines[1][0], shown, VersionProblem.SEVERAL)
    number, line = lines[0]
    if not _VERSION.match(line):
        return VersionRequest(PYTHON_VERSION_FILE, None, number, line, VersionProblem.INVALID)
    return VersionRequest(PYTHON_VERSION_FILE, line, number, line)


def _read_pipfile_lock(text: str) -> VersionRequest | None:
    """Pipfile.lock's version fields (both optional); None when it names none."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return VersionRequest(PIPFILE_LOCK, None, None, "not valid JSON", VersionProblem.INVALID)
    meta = document.get("_meta") if isinstance(document, dict) else None
    requires = meta.get("requires") if isinstance(meta, dict) else None
    if not isinstance(requires, dict):
        return None
    value = requires.get("python_full_version") or requires.get("python_version")
    if value is None:
        return None
    line = _json_line(
        text, "python_full_version" if requires.get("python_full_version") else "python_version"
    )
    version = str(value)
    if not _VERSION.match(version):
        return VersionRequest(PIPFILE_LOCK, None, line, version, VersionProblem.INVALID)
    return VersionRequest(PIPFILE_LOCK, version, line, version)


def _json_line(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if f'"{key}"' in line:
            return number
    return None


def _checked(request: VersionRequest) -> VersionRequest:
    """The request with the support problem the buildpack refuses it for, if any."""
    if request.problem is not None or request.requested is None:
        return request
    parts = [int(part) for part in request.requested.split(".")]
    minor = f"{parts[0]}.{parts[1]}"
    supported = sorted((tuple(int(p) for p in m.split(".")) for m in LATEST_PYTHON_PATCH), reverse=True)
    if minor not in LATEST_PYTHON_PATCH:
        newest = supported[0]
        too_new = (parts[0], parts[1]) > newest
        problem = VersionProblem.UNKNOWN_MINOR if too_new else VersionProblem.END_OF_LIFE
        return _with(request, problem)
    if len(parts) == 3:
        latest = int(LATEST_PYTHON_PATCH[minor].split(".")[2])
        if parts[2] > latest:
            return _with(request, VersionProblem.UNKNOWN_PATCH)
    return request


def _with(request: VersionRequest, problem: VersionProblem) -> VersionRequest:
    return VersionRequest(request.origin, request.requested, request.line, request.text, problem)


def full_version(requested: str) -> str:
    """N.N resolved as the buildpack resolves it: its latest patch of that minor."""
    minor = ".".join(requested.split(".")[:2])
    return requested if requested.count(".") == 2 else LATEST_PYTHON_PATCH.get(minor, requested)
