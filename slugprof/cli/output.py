"""Where a subcommand's report goes: stdout or `-o FILE`, in the format asked for or implied."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from slugprof.errors import UsageError

if TYPE_CHECKING:
    from slugprof.compare import Comparison
    from slugprof.model import AnalyzeReport, ProfileReport
    from slugprof.progress import Progress

FORMATS = ("terminal", "json", "markdown", "html", "codequality")  # codequality: GitLab's report
EXTENSIONS = {".json": "json", ".txt": "terminal", ".md": "markdown", ".html": "html"}


def format_from_extension(output: str | None) -> str | None:
    """The format `-o FILE` implies, or None without `-o`; a UsageError for an unknown extension."""
    if output is None:
        return None
    suffix = Path(output).suffix.lower()
    if suffix not in EXTENSIONS:
        raise UsageError(
            f"-o {output}: cannot tell the format from {suffix or 'no extension'!r}; "
            f"use {', '.join(EXTENSIONS)}, or pass --format"
        )
    return EXTENSIONS[suffix]


def progress_display(*, quiet: bool) -> contextlib.AbstractContextManager[Progress]:
    """The progress bar on stderr, or, with -q, nothing: then its library is not even imported (a
    tenth of a warm run's time)."""
    if quiet:
        from slugprof.progress import NoProgress

        return contextlib.nullcontext(NoProgress())
    from slugprof.cli.progress_bar import ProgressBar

    return ProgressBar(enabled=True)


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


def render(
    report: AnalyzeReport | ProfileReport, output_format: str, *, to_terminal: bool, brief: bool = False
) -> str:
    """The report as text in `output_format`: the saved JSON, the HTML page, or the terminal report of
    its kind (`brief`, for -q: only the verdicts and the errors)."""
    if output_format == "json":
        from slugprof.model.saved import write_report

        return write_report(report)
    from slugprof.model import AnalyzeReport

    if isinstance(report, AnalyzeReport):
        return render_pair(report, None, output_format, to_terminal=to_terminal, brief=brief)
    return render_pair(None, report, output_format, to_terminal=to_terminal, brief=brief)


def render_pair(
    analyze: AnalyzeReport | None,
    profile: ProfileReport | None,
    output_format: str,
    *,
    to_terminal: bool,
    brief: bool = False,
    comparison: Comparison | None = None,
) -> str:
    """An analysis, a profile, or both of one app, in a format that shows them together (not json)."""
    if output_format == "markdown":
        from slugprof.render.markdown import render_markdown

        return render_markdown(analyze, profile, comparison)
    if output_format == "html":
        from slugprof.render.html import render_html

        return render_html(analyze, profile, comparison)
    if output_format == "codequality":
        from slugprof.model.report import findings_of
        from slugprof.render.ci import gitlab_code_quality

        return gitlab_code_quality(findings_of(analyze, profile))
    color, width = terminal_style(to_terminal)
    parts = []
    if analyze is not None:
        from slugprof.render.terminal import render_terminal

        parts.append(render_terminal(analyze, color=color, width=width, brief=brief))
    if profile is not None:
        from slugprof.render.profile_terminal import render_profile_terminal

        parts.append(render_profile_terminal(profile, color=color, width=width, brief=brief))
    if comparison is not None:
        from slugprof.render.comparison import render_comparison

        parts.append(render_comparison(comparison))
    return "\n".join(parts)
