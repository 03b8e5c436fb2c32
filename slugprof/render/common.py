"""Pieces every renderer shares."""

from __future__ import annotations

import io

from rich.console import Console


def text_console(*, color: bool, width: int) -> tuple[Console, io.StringIO]:
    """A rich console that writes into a string buffer: renderers return text, the CLI prints it."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        color_system="standard" if color else None,
    )
    return console, buffer
