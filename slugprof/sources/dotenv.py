"""The app's `.env` file, read as `heroku local` reads it: KEY=VALUE lines, comments, quotes."""

from __future__ import annotations

import re
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def read_dotenv(app_root: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """Config vars from `app_root/.env`, and notes about lines that could not be read.

    A missing file is no vars and no notes. Lines that are not KEY=VALUE are skipped with a note.
    """
    path = app_root / ".env"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}, ()
    except OSError as error:
        return {}, (f".env: cannot read it ({error.strerror})",)
    return parse_dotenv(text)


def parse_dotenv(text: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """The config vars of a `.env` file's text, and notes about the lines that are not KEY=VALUE."""
    values: dict[str, str] = {}
    notes: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            notes.append(f".env:{number}: not a KEY=VALUE line, skipped")
            continue
        values[match.group(1)] = _unquote(match.group(2))
    return values, tuple(notes)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw[1:-1])
    # Unquoted: an inline comment starts at " #".
    return re.split(r"\s+#", raw, maxsplit=1)[0]
