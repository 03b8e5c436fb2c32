"""Pieces every renderer shares."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from slugprof.heroku import R10_BOOT_TIMEOUT_SECONDS
from slugprof.model import (
    AnalyzeReport,
    Finding,
    Fix,
    Location,
    MemoryMeasure,
    MemorySummary,
    ProcessProfile,
    ProfileReport,
    RequestStats,
    RulesRun,
    Severity,
    VariantRun,
    WorkersFrom,
)
from slugprof.model.profile import GROWTH_MIN_REQUESTS
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


def saving_words(finding: Finding) -> str | None:
    """ "saves 2.1 MB compressed (5.3 MB on disk)", or "adds ..." for a swap that costs bytes; for a
    memory fix a `--try` run measured, "frees 40.0 MiB of the dyno's peak"; None when the fix changes
    nothing measured."""
    compressed = finding.savings_compressed_bytes
    memory = finding.memory_savings_bytes
    if compressed is None and memory is not None:
        verb = "frees" if memory >= 0 else "adds"
        return f"{verb} {format_binary(abs(memory))} of the dyno's peak memory (measured by --try)"
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


def runtime_words(report: AnalyzeReport) -> str:
    """Where the Python runtime's figures come from: "the Python runtime measured from
    python-3.13.5-ubuntu-24.04-amd64.tar.zst", or the setting used and why."""
    part = next((part for part in report.buildpack if part.name == "python"), None)
    if part is None:
        return "no Python runtime counted"
    if part.measured:
        return f"the Python runtime {printable(part.source)}"
    return f"the Python runtime from {printable(part.source)}"


def printable(text: str) -> str:
    """`text` with control characters shown as \\xNN escapes."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def app_name(analyze: AnalyzeReport | None, profile: ProfileReport | None) -> str:
    """The app's folder name, as reports title it; "" without a report."""
    root = analyze.app.root if analyze is not None else profile.app.root if profile is not None else ""
    return root.rstrip("/").rsplit("/", 1)[-1] or root


def measure_words(memory: MemorySummary, *, short: bool = False) -> str:
    """What the headline figure is, for the parenthesis after it; `short` for a terminal's line."""
    if memory.measure == MemoryMeasure.ANONYMOUS:
        return "anonymous" if short else "anonymous memory and swap, each page counted once: what R14 counts"
    return "summed PSS"


def other_totals(memory: MemorySummary, *, explain: bool = False) -> str:
    """The totals beside the headline: summed PSS (with file-backed pages) and the naive summed RSS;
    `explain` first says what the short headline's "anonymous" is."""
    parts = []
    if explain and memory.measure == MemoryMeasure.ANONYMOUS:
        parts.append("anonymous: memory and swap, each page counted once, as R14 counts it")
    if memory.measure == MemoryMeasure.ANONYMOUS and memory.peak_total_pss_bytes is not None:
        parts.append(
            f"summed PSS {format_binary(memory.peak_total_pss_bytes)} (with the file-backed pages a dyno "
            "counts as cache)"
        )
    naive = format_binary(memory.peak_total_rss_bytes)
    parts.append(f"naive sum of RSS {naive} (shared pages counted once per process)")
    return " · ".join(parts)


def worker_cost_words(memory: MemorySummary) -> str:
    """What one more worker costs and what the rest of the dyno holds."""
    what = "the memory only it wrote" if memory.measure == MemoryMeasure.ANONYMOUS else "its unique memory"
    return (
        f"one more worker costs {format_binary(memory.worker_marginal_bytes)} ({what}, at its peak); "
        f"the rest of the dyno {format_binary(memory.base_bytes)}"
    )


def fit_basis_words(report: ProfileReport) -> str:
    """What the dyno fit is built on: a worker's cost and the rest of the dyno, or for an app without a
    worker model, its one process tree's whole peak."""
    if report.worker_model:
        return worker_cost_words(report.memory)
    return (
        f"one process: no master with workers ran, so each dyno size is judged on the whole process "
        f"tree's peak, {format_binary(report.memory.peak_total_bytes)}, with no worker count"
    )


def fit_title(report: ProfileReport) -> str:
    """The dyno-fit table's title: the headroom the worker counts keep, or that the app is one process."""
    if not report.worker_model:
        return "Dyno fit: one process, its whole peak on each size"
    if report.workers_from == WorkersFrom.CORES:
        return f"Dyno fit (headroom {report.headroom:.0%}): Celery's pool, one process per core of each size"
    return f"Dyno fit (headroom {report.headroom:.0%})"


_COUNT_SOURCE = {
    WorkersFrom.CORES: " (Celery's pool, one per core it reports)",
    WorkersFrom.PLATFORM: " (the platform's WEB_CONCURRENCY)",
    WorkersFrom.APP: " (the app's own count)",
}


def dyno_count_words(report: ProfileReport) -> str | None:
    """When the dyno runs another worker count than the run had, and so is judged on the fit's
    prediction: "the run had 2 workers; standard-1x runs 8 (Celery's pool, one per core it reports)";
    else None."""
    fit = report.fit_on_dyno
    if fit is None or not report.dyno_runs_another_count:
        return None
    why = _COUNT_SOURCE[report.workers_from] if report.workers_from else ""
    ran = report.workers_ran
    return f"the run had {ran} worker{'' if ran == 1 else 's'}; {report.dyno} runs {fit.workers}{why}"


def boot_words(report: ProfileReport) -> str:
    """How long the process took to boot, against what Heroku judges it on: R10 for the web process, no
    deadline for the others (they bind no port)."""
    if report.app.serves_http:
        return f"boot {report.boot_seconds:.1f} s (R10 at {R10_BOOT_TIMEOUT_SECONDS:.0f} s)"
    return f"booted in {report.boot_seconds:.1f} s (its process tree settled; no port, no R10)"


def config_vars_words(report: ProfileReport, *, limit: int = 12) -> str | None:
    """The config vars the process ran with, by origin, names only: "config vars from .env: DEBUG,
    SECRET_KEY"; None when it ran with none."""
    if not report.config_vars:
        return None
    by_origin: dict[str, list[str]] = {}
    for var in report.config_vars:
        by_origin.setdefault(var.origin, []).append(var.name)
    parts = []
    for origin, names in by_origin.items():
        shown = ", ".join(printable(name) for name in names[:limit])
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        parts.append(f"from {printable(origin)}: {shown}{more}")
    return "config vars " + "; ".join(parts)


def growth_words(report: ProfileReport) -> str | None:
    """What the dyno's memory grew per thousand requests, or how to measure it; None when no request
    was sent."""
    requests = report.requests
    if requests is None or requests.count == 0:
        return None
    growth = report.memory.growth_per_thousand_requests_bytes
    if growth is None:
        if requests.count >= GROWTH_MIN_REQUESTS:
            return (
                "growth per thousand requests: not measured (the requests were answered too fast to sample: "
                f"send more, --requests {10 * requests.count})"
            )
        return f"growth per thousand requests: not measured (send --requests {GROWTH_MIN_REQUESTS} or more)"
    verb = "grew" if growth >= 0 else "shrank"
    return (
        f"the dyno's memory {verb} {format_binary(abs(growth))} per thousand requests "
        "(over the second half of the requests)"
    )


def routes_words(requests: RequestStats, *, limit: int = 6) -> str | None:
    """ "to GET /, GET /health (from the app's OpenAPI document)"; None for a report without them."""
    if not requests.routes:
        return None
    shown = ", ".join(printable(route) for route in requests.routes[:limit])
    more = f" and {len(requests.routes) - limit} more" if len(requests.routes) > limit else ""
    origin = f" (from {printable(requests.routes_from)})" if requests.routes_from else ""
    return f"to {shown}{more}{origin}"


VARIANT_COLUMNS = ("tried", "peak", "change", "one more worker", "workers", "outcome")


def variant_cells(report: ProfileReport, variant: VariantRun) -> tuple[str, ...]:
    """A `--try` run beside the first run, as every renderer's table shows it (VARIANT_COLUMNS)."""
    if not variant.served or variant.peak_total_bytes is None:
        return (variant.name, "", "", "", str(variant.workers or ""), variant.detail or "did not serve")
    delta = variant.peak_total_bytes - report.memory.peak_total_bytes
    sign = "+" if delta > 0 else "-" if delta < 0 else ""
    share = f" ({delta / report.memory.peak_total_bytes:+.0%})" if report.memory.peak_total_bytes else ""
    marginal = variant.worker_marginal_bytes
    return (
        variant.name,
        format_binary(variant.peak_total_bytes),
        f"{sign}{format_binary(abs(delta))}{share}",
        format_binary(marginal) if marginal is not None else "",
        str(variant.workers),
        "served",
    )


PROCESS_COLUMNS = ("pid", "role", "RSS", "PSS", "anon", "USS", "heap (memray)", "threads")


def process_cells(process: ProcessProfile) -> tuple[str, ...]:
    """A process at its peaks, as every renderer's table shows it (PROCESS_COLUMNS): anon is its share of
    anonymous memory and swap, blank where the system does not say."""
    return (
        str(process.pid),
        process.role,
        format_binary(process.peak_rss_bytes),
        format_binary(process.peak_pss_bytes),
        format_binary(process.peak_anon_bytes) if process.peak_anon_bytes is not None else "",
        format_binary(process.peak_uss_bytes),
        format_binary(process.heap_peak_bytes) if process.heap_peak_bytes is not None else "",
        str(process.threads_max),
    )


SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_SEVERITY_HEADING = {Severity.ERROR: "Errors", Severity.WARNING: "Warnings", Severity.INFO: "Info"}


def print_findings(
    console: Console, findings: tuple[Finding, ...], rules: RulesRun, only: Severity | None = None
) -> None:
    """Every finding with its fix, grouped by severity (worst first); within a group, the largest
    measured saving first; then how many findings `--ignore` silenced. The terminal reports of an
    analysis and of a profile both print their findings so. `only`: that severity's findings alone,
    without headings (-q)."""
    if not findings and not rules.silenced:
        return
    if only is not None:
        for finding in (f for f in findings if f.severity == only):
            _finding(console, finding)
        return
    console.print(Text(f"Findings ({len(findings)})", style="bold"))
    for severity in Severity:
        group = [f for f in findings if f.severity == severity]
        if not group:
            continue
        console.print(Text(f" {_SEVERITY_HEADING[severity]} ({len(group)})", style=SEVERITY_STYLE[severity]))
        for finding in sorted(group, key=lambda f: -(f.savings_compressed_bytes or 0)):
            _finding(console, finding)
    if rules.silenced:
        ignored = ", ".join(rules.ignored_rules)
        noun = "finding" if rules.silenced == 1 else "findings"
        console.print(Text(f"  {rules.silenced} {noun} silenced ({ignored})", style="dim"))
    console.print()


def _finding(console: Console, finding: Finding) -> None:
    line = Text("  ")
    line.append(finding.id, style=SEVERITY_STYLE[finding.severity])
    line.append(f"  {printable(finding.title)}")
    if finding.location is not None:
        line.append(f"  ({where(finding.location)})", style="dim")
    console.print(line)
    for evidence in finding.evidence:
        console.print(Text(f"      {printable(evidence)}", style="dim"))
    saving = saving_words(finding)
    if saving is not None:
        style = "green" if (finding.savings_compressed_bytes or 0) >= 0 else "yellow"
        console.print(Text(f"      {saving}, measured", style=style))
    if finding.fix is not None:
        _fix(console, finding.fix)


def _fix(console: Console, fix: Fix) -> None:
    line = f"      fix: {printable(fix.summary)}"
    if fix.command:
        line += f": {printable(fix.command)}"
    console.print(Text(line))
    for edit in fix.edits:
        if edit.old is None:
            console.print(Text(f"        append to {printable(edit.path)}:", style="dim"))
            for text in edit.new.splitlines():
                console.print(Text(f"          {printable(text)}"))
        elif not edit.new:
            console.print(Text(f"        in {printable(edit.path)}, delete: {printable(edit.old.strip())}"))
        else:
            change = f"{printable(edit.old.strip())} -> {printable(edit.new.strip())}"
            console.print(Text(f"        in {printable(edit.path)}: {change}"))


def where(location: Location) -> str:
    """A location as the terminal prints it: `path:line`, or the path alone."""
    path = printable(location.path)
    return f"{path}:{location.line}" if location.line is not None else path
