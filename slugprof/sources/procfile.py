"""The app's Procfile, read as Heroku reads it: `<process type>: <command>` lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from slugprof.errors import UsageError

# The slug compiler's own rule: the colon is optional, the name alphanumeric or underscore.
_LINE = re.compile(r"^([a-zA-Z0-9_]+):?\s+(.*)")


@dataclass(frozen=True)
class ProcessType:
    name: str  # "web"
    command: str  # run by a shell on the dyno: "gunicorn app:app"


def read_procfile(app_root: Path) -> dict[str, ProcessType]:
    """The process types declared in `app_root/Procfile`, in file order (a repeated name: the last).

    Lines that do not match Heroku's rule are ignored, as Heroku ignores them. A missing Procfile,
    or one without a single process type, is a UsageError saying what to write.
    """
    path = app_root / "Procfile"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(_missing_message(app_root)) from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder; the Procfile must be a text file") from None
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error

    types = parse_procfile(data)
    if not types:
        raise UsageError(
            f"{path} declares no process type; write one line per type, like `web: gunicorn myapp.wsgi`"
        )
    return types


@dataclass(frozen=True)
class ProcfileLine:
    """A line of the Procfile that declares a process type."""

    number: int  # 1-based
    text: str  # the line as written, without its line break
    process: ProcessType

    @property
    def prefix(self) -> str:
        """What comes before the command: "web: "."""
        return self.text[: self.text.index(self.process.command)]


def procfile_lines(data: bytes) -> list[ProcfileLine]:
    """The lines that declare a process type, in file order (a repeated name appears each time)."""
    lines: list[ProcfileLine] = []
    if b"\0" in data:
        return lines
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        match = _LINE.match(line)
        if match is None:
            continue
        command = match.group(2).strip()
        if command:
            lines.append(ProcfileLine(number, line, ProcessType(match.group(1), command)))
    return lines


def declared_lines(data: bytes) -> dict[str, ProcfileLine]:
    """The line Heroku runs for each process type (a repeated name: the last), in file order."""
    return {line.process.name: line for line in procfile_lines(data)}


def parse_procfile(data: bytes) -> dict[str, ProcessType]:
    """The process types in a Procfile's bytes; lines that do not match Heroku's rule are skipped."""
    return {name: line.process for name, line in declared_lines(data).items()}


def _missing_message(app_root: Path) -> str:
    near_misses = sorted(
        entry.name
        for entry in _entries(app_root)
        if entry.name.lower() in {"procfile", "procfile.txt"} and entry.name != "Procfile"
    )
    if near_misses:
        return f"{app_root / near_misses[0]}: Heroku only reads a file named exactly `Procfile`; rename it"
    return f"no Procfile in {app_root}; create one with the web command, like `web: gunicorn myapp.wsgi`"


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []
