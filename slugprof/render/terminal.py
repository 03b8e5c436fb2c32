"""The terminal report: a summary first, then who is responsible for each megabyte."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table
from rich.text import Text

from slugprof.gate import image_verdict
from slugprof.model import AnalyzeReport, BuildOutcome, DependencySource, Severity, SlugignoreRule
from slugprof.render.common import (
    SLUG_STATUS_WORD,
    print_findings,
    printable,
    runtime_words,
    text_console,
    where,
)
from slugprof.units import PRINTED_UNIT_NOTE, format_bytes

_STATUS_STYLE = {"ok": "bold green", "warn": "bold yellow", "over": "bold red", "incomplete": "bold yellow"}
TOP = 10


def render_terminal(
    report: AnalyzeReport, *, color: bool = False, width: int = 100, brief: bool = False
) -> str:
    """The whole report; `brief` (-q): only the verdicts and the errors."""
    console, buffer = text_console(color=color, width=width)
    if brief:
        _build_failure(console, report)
        _verdict(console, report)
        print_findings(console, report.findings, report.rules, only=Severity.ERROR)
        return buffer.getvalue()
    _build_failure(console, report)
    _summary(console, report)
    _components(console, report)
    _requirements(console, report)
    _packages(console, report)
    _app_files(console, report)
    _slugignore(console, report)
    print_findings(console, report.findings, report.rules)
    _notes(console, report)
    return buffer.getvalue()


def _build_failure(console: Console, report: AnalyzeReport) -> None:
    """First, when Heroku would refuse the build: it matters more than any size."""
    build = report.build
    if build is None or build.outcome != BuildOutcome.FAILS:
        return
    console.print(Text("THE BUILD WOULD FAIL:", style="bold red"))
    for entry in build.errors:
        line = Text("  ")
        line.append(entry.id, style="bold red")
        line.append(f"  {printable(entry.message)}")
        if entry.location is not None:
            line.append(f"  ({where(entry.location)})", style="dim")
        console.print(line)
    console.print()


def _verdict(console: Console, report: AnalyzeReport) -> None:
    """The slug against its limit (on Fir, the image, which has none), and the build's verdict, one line
    each."""
    if report.image is not None:
        console.print(f"Fir: {image_verdict(report.image)}")
    else:
        slug = report.slug
        share = slug.compressed_bytes / slug.limit_bytes if slug.limit_bytes else 0.0
        line = Text()
        line.append("Slug ")
        line.append(format_bytes(slug.compressed_bytes), style="bold")
        line.append(f" ± {format_bytes(slug.compressed_error)} compressed")
        line.append(f" of the {format_bytes(slug.limit_bytes)} limit ({share:.0%})  ")
        line.append(SLUG_STATUS_WORD[slug.status], style=_STATUS_STYLE[slug.status])
        console.print(line)
    if report.build is not None and report.build.outcome == BuildOutcome.BUILDS:
        warnings = len(report.build.warnings)
        console.print(f"Build: Heroku would build it ({_count(warnings, 'warning')} in the build log)")


def _summary(console: Console, report: AnalyzeReport) -> None:
    slug = report.slug
    _verdict(console, report)
    limits = (
        f"soft limit {format_bytes(slug.soft_limit_bytes)} (boot time)" if report.image is None else "Fir"
    )
    console.print(f"{format_bytes(slug.bytes)} uncompressed · {limits} · {report.app.root}")
    console.print(
        f"Python {report.python.version} ({report.python.source}) · package manager: {report.package_manager}"
    )
    dependencies = report.dependencies
    if dependencies.target is not None:
        target = dependencies.target
        console.print(
            f"Dependencies resolved for {target.stack} {target.arch}, Python {target.python} "
            f"(glibc {target.glibc}) by {dependencies.resolver}, not installed here"
        )
    elif dependencies.source == DependencySource.ENVIRONMENT:
        console.print(f"Dependencies from the environment {dependencies.environment}")
    else:
        console.print("Dependencies: none measured")
    console.print()


def _components(console: Console, report: AnalyzeReport) -> None:
    table = _table("What is in the slug", "component", "compressed>", "size>", "share>", "how")
    total = report.slug.compressed_bytes or 1
    for component in report.slug.components:
        table.add_row(
            component.name,
            format_bytes(component.compressed_bytes),
            format_bytes(component.bytes),
            f"{component.compressed_bytes / total:.0%}",
            "measured" if component.measured else "estimated",
        )
    console.print(table)


def _requirements(console: Console, report: AnalyzeReport) -> None:
    tops = [p for p in report.dependencies.packages if p.top_level]
    if not tops:
        return
    rows = sorted(tops, key=lambda p: -(p.exclusive_compressed_bytes or 0))
    table = _table(
        "Requirements: what removing each one would save",
        "requirement",
        "version",
        "compressed>",
        "size>",
        "brings in",
    )
    requirement_files = set(report.dependencies.requirements_files)
    for package in rows[:TOP]:
        others = [name for name in package.exclusive_packages if name != package.name]
        keepers = [name for name in package.requested_by if name not in requirement_files]
        brings_in = _short_list(others)
        if package.name not in package.exclusive_packages and keepers:
            brings_in = f"(stays: also required by {_short_list(keepers)})"
        table.add_row(
            package.name,
            package.version,
            format_bytes(package.exclusive_compressed_bytes or 0),
            format_bytes(package.exclusive_bytes or 0),
            brings_in,
        )
    if len(rows) > TOP:
        table.caption = f"… and {len(rows) - TOP} more"
    console.print(table)


def _packages(console: Console, report: AnalyzeReport) -> None:
    packages = sorted(report.dependencies.packages, key=lambda p: -p.compressed_bytes)
    if not packages:
        return
    table = _table("Largest packages", "package", "compressed>", "size>", "files>", "required by")
    for package in packages[:TOP]:
        table.add_row(
            f"{package.name} {package.version}" + ("" if package.measured else " (estimated)"),
            format_bytes(package.compressed_bytes),
            format_bytes(package.bytes),
            str(package.file_count),
            _short_list(list(package.requested_by)),
        )
    console.print(table)


def _app_files(console: Console, report: AnalyzeReport) -> None:
    included = report.app.included
    if not included:
        return
    folders: dict[str, int] = defaultdict(int)
    for file in included:
        head = file.path.split("/", 1)[0] + "/" if "/" in file.path else "(top-level files)"
        folders[head] += file.bytes
    table = _table("Largest app folders and files", "folder", "size>", "file", "size>")
    top_folders = sorted(folders.items(), key=lambda item: -item[1])[:TOP]
    top_files = sorted(included, key=lambda f: -f.bytes)[:TOP]
    for index in range(max(len(top_folders), len(top_files))):
        folder = top_folders[index] if index < len(top_folders) else None
        largest = top_files[index] if index < len(top_files) else None
        table.add_row(
            printable(folder[0]) if folder else "",
            format_bytes(folder[1]) if folder else "",
            printable(largest.path) if largest else "",
            format_bytes(largest.bytes) if largest else "",
        )
    console.print(table)


def _slugignore(console: Console, report: AnalyzeReport) -> None:
    app = report.app
    if not app.slugignore and not app.untracked:
        return
    if app.slugignore:
        excluded = sum(1 for f in app.files if not f.included)
        console.print(f".slugignore removes {_count(excluded, 'file')}, {format_bytes(app.excluded_bytes)}:")
        by_line: dict[int, list[SlugignoreRule]] = defaultdict(list)
        for rule in app.slugignore:
            by_line[rule.line].append(rule)
        for line, rules in by_line.items():
            patterns = printable(" ".join(rule.pattern for rule in rules))
            matched = sum(rule.matched_paths for rule in rules)
            console.print(f"  line {line}: {patterns:<28} {_count(matched, 'file')}")
            comment_words = [rule.pattern for rule in rules if rule.from_comment]
            if comment_words:
                words = ", ".join(repr(word) for word in comment_words)
                verb = "is read as a file name" if len(comment_words) == 1 else "are read as file names"
                console.print(
                    f"    ! words after '#' become patterns: Heroku's published slug compiler splits the "
                    f"file at spaces before it drops comments, so {words} {verb}",
                    style="yellow",
                )
            for rule in rules:
                if rule.note and not rule.from_comment:
                    console.print(f"    ! {printable(rule.note)}", style="yellow")
    if app.untracked:
        shown = ", ".join(printable(path) for path in app.untracked[:5]) + (
            " …" if len(app.untracked) > 5 else ""
        )
        console.print(
            f"{len(app.untracked)} files are not committed and will not deploy until they are: {shown}"
        )
    console.print()


def _notes(console: Console, report: AnalyzeReport) -> None:
    notes = [*report.notes, *report.dependencies.notes]
    if report.dependencies.missing:
        notes.append("required but not installed: " + ", ".join(report.dependencies.missing))
    for problem in report.app.problems:
        notes.append(f"{problem.path}: {problem.reason}")
    for note in notes:
        console.print(f"note: {printable(note)}", style="yellow")
    if report.slug.compressed_method != "exact":
        how = f"estimated from {format_bytes(report.slug.sampled_bytes)} compressed samples"
    elif report.dependencies.source == DependencySource.RESOLVED:
        how = (
            "exact for the app's files (a real tar streamed through gzip -6), and from the wheel model for "
            "the resolved dependencies"
        )
    else:
        how = "exact (a real tar streamed through gzip -6)"
    console.print(
        f"Compressed size {how}; {runtime_words(report)}; buildpack tools from settings; {PRINTED_UNIT_NOTE}."
    )


def _table(title: str, *columns: str) -> Table:
    """A table titled on the left; a column name ending in '>' is right-aligned (numbers)."""
    table = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        if column.endswith(">"):
            table.add_column(column[:-1], justify="right")
        else:
            table.add_column(column)
    return table


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _short_list(names: list[str], limit: int = 4) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" +{len(names) - limit}"
