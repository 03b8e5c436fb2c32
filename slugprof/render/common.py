"""Pieces every renderer shares."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

from rich.console import Console

from slugprof.model import AnalyzeReport, Finding, ProcessProfile, ProfileReport
from slugprof.units import format_binary, format_bytes

# The words every renderer prints for a slug's status and a dyno-fit verdict.
SLUG_STATUS_WORD: dict[str, str] = {
    "ok": "OK",
    "warn": "WARNING",
    "over": "OVER THE LIMIT",
    "incomplete": "INCOMPLETE (dependencies not measured)",
}
FIT_WORD: dict[str, str] = {"ok": "fits", "r14": "R14: swaps", "r15": "R15: restarts"}


def text_console(*, color: bool, width: int) -> tuple[Console, io.StringIO]:
    """A rich console that writes into a string buffer: renderers return text, the CLI prints it."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,  # a file name like "[tests]" is text, never a style
        color_system="standard" if color else None,
    )
    return console, buffer


# C0 and C1 control characters and DEL: a file name or line holding an escape sequence must not reach
# the terminal raw (it could move the cursor, retitle the window or hide the text after it).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def findings_of(analyze: AnalyzeReport | None, profile: ProfileReport | None) -> list[Finding]:
    """The findings of both reports, once each: a rule that reads only the files runs with both."""
    both = [*(analyze.findings if analyze else ()), *(profile.findings if profile else ())]
    return list(dict.fromkeys(both))


def saving_words(finding: Finding) -> str | None:
    """ "saves 2.1 MB compressed (5.3 MB on disk)", or "adds ..." for a swap that costs bytes; None when
    the fix changes nothing in the slug or its saving could not be measured."""
    compressed = finding.savings_compressed_bytes
    if compressed is None:
        return None
    verb = "saves" if compressed >= 0 else "adds"
    words = f"{verb} {format_bytes(abs(compressed))} compressed"
    if finding.savings_bytes is not None:
        words += f" ({format_bytes(abs(finding.savings_bytes))} on disk)"
    return words


def total_saving(findings: Iterable[Finding]) -> int | None:
    """What the fixes that save bytes would save together, as a sum of their measured savings (an upper
    bound when two fixes remove the same files); None when none is measured."""
    measured = [f.savings_compressed_bytes for f in findings if f.savings_compressed_bytes is not None]
    return sum(saving for saving in measured if saving > 0) if measured else None


def printable(text: str) -> str:
    """`text` with control characters shown as \\xNN escapes."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def process_cells(process: ProcessProfile) -> tuple[str, ...]:
    """A process at its peaks, as every renderer's table shows it: pid, role, RSS, PSS, USS, heap, threads."""
    return (
        str(process.pid),
        process.role,
        format_binary(process.peak_rss_bytes),
        format_binary(process.peak_pss_bytes),
        format_binary(process.peak_uss_bytes),
        format_binary(process.heap_peak_bytes) if process.heap_peak_bytes is not None else "",
        str(process.threads_max),
    )
