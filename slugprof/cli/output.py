"""Where a subcommand's report goes: stdout or `-o FILE`, in the format asked for or implied."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from slugprof.errors import UsageError

FORMATS = ("terminal", "json")
EXTENSIONS = {".json": "json", ".txt": "terminal"}


def format_from_extension(output: str | None) -> str | None:
    """The format `-o FILE` implies, or None without `-o`; a UsageError for an unknown extension."""
    if output is None:
        return None
    suffix = Path(output).suffix.lower()
    if suffix not in EXTENSIONS:
        raise UsageError(
            f"-o {output}: cannot tell the format from {suffix or 'no extension'!r}; "
            "use .json or .txt, or pass --format"
        )
    return EXTENSIONS[suffix]


def terminal_style(to_terminal: bool) -> tuple[bool, int]:
    """(color, width) for terminal text: colours only on a real terminal, and never with NO_COLOR."""
    color = to_terminal and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    return color, os.get_terminal_size().columns if color else 100


def emit(output: str | None, render: Callable[[bool], str]) -> None:
    """Write the rendered report to `output`, or to stdout; `render(to_terminal)` makes the text."""
    text = render(output is None)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror}") from error
    print(f"wrote {output}", file=sys.stderr)
