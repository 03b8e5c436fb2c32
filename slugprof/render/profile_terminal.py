"""The profile report for the terminal: the dyno's peak against its quota first, then who holds it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from slugprof.model import ProfileReport, Severity
from slugprof.render.common import (
    FIT_WORD,
    PROCESS_COLUMNS,
    VARIANT_COLUMNS,
    boot_words,
    config_vars_words,
    dyno_count_words,
    fit_basis_words,
    fit_title,
    growth_words,
    measure_words,
    other_totals,
    print_findings,
    process_cells,
    routes_words,
    text_console,
    variant_cells,
)
from slugprof.units import format_binary

_FIT_STYLE = {"ok": "green", "r14": "yellow", "r15": "bold red"}


def render_profile_terminal(
    report: ProfileReport, *, color: bool = False, width: int = 100, brief: bool = False
) -> str:
    """The whole report; `brief` (-q): only the verdict on the dyno's memory and the errors."""
    console, buffer = text_console(color=color, width=width)
    if brief:
        _headline(console, report)
        print_findings(console, report.findings, report.rules, only=Severity.ERROR)
        return buffer.getvalue()
    _summary(console, report)
    _processes(console, report)
    _dyno_fit(console, report)
    _variants(console, report)
    _imports(console, report)
    _heap_sites(console, report)
    _requests(console, report)
    print_findings(console, report.findings, report.rules)
    _notes(console, report)
    return buffer.getvalue()


def _headline(console: Console, report: ProfileReport) -> None:
    fit = next((f for f in report.dyno_fit if f.dyno == report.dyno), None)
    headline = Text("Peak dyno memory ")
    memory = report.memory
    headline.append(format_binary(memory.peak_total_bytes), style="bold")
    headline.append(f" ({measure_words(memory, short=True)})")
    if fit is not None:
        judged = report.judged_bytes
        counts = dyno_count_words(report)
        if counts is not None:
            headline.append(f"; {counts}: predicted ")
            headline.append(format_binary(judged), style="bold")
        share = judged / fit.quota_bytes
        headline.append(f" of the {report.dyno} quota {format_binary(fit.quota_bytes)} ({share:.0%})  ")
        within = judged <= fit.quota_bytes
        headline.append(
            "WITHIN THE QUOTA" if within else "ABOVE THE QUOTA (R14)",
            style=_FIT_STYLE["ok" if within else "r14"],
        )
    console.print(headline)


def _summary(console: Console, report: ProfileReport) -> None:
    _headline(console, report)
    memory = report.memory
    console.print(
        f"{other_totals(memory, explain=True)} · WEB_CONCURRENCY={report.web_concurrency or 'unset'} · "
        f"memray: {report.memray.mode.value}"
    )
    config = config_vars_words(report)
    if config is not None:
        console.print(config)
    console.print(
        f"{report.app.process_type}: {report.app.command}  ·  {boot_words(report)}"
        f" · shutdown {report.shutdown_seconds:.1f} s{'' if report.graceful_shutdown else ' (killed)'}"
    )
    console.print()


def _processes(console: Console, report: ProfileReport) -> None:
    table = Table(title="Processes at their peaks", title_justify="left")
    for column in PROCESS_COLUMNS:
        table.add_column(column, justify="left" if column == "role" else "right")
    for process in report.processes:
        table.add_row(*process_cells(process))
    console.print(table)
    console.print(fit_basis_words(report))
    console.print()


def _dyno_fit(console: Console, report: ProfileReport) -> None:
    columns: tuple[str, ...] = ("dyno", "quota", "workers", "predicted", "", "max workers")
    if not report.worker_model:
        columns = ("dyno", "quota", "predicted", "")
    fits = Table(title=fit_title(report), title_justify="left")
    for column in columns:
        fits.add_column(column, justify="left" if column in ("dyno", "") else "right")
    for row in report.dyno_fit:
        if row.dyno.startswith(("private-", "shield-")) or row.dyno in ("eco", "basic"):
            continue  # same sizes as the rows shown; the JSON has them all
        verdict = Text(FIT_WORD[row.status], style=_FIT_STYLE[row.status])
        quota, predicted = format_binary(row.quota_bytes), format_binary(row.predicted_bytes)
        if report.worker_model:
            fits.add_row(row.dyno, quota, str(row.workers), predicted, verdict, str(row.max_workers))
        else:
            fits.add_row(row.dyno, quota, predicted, verdict)
    console.print(fits)


def _imports(console: Console, report: ProfileReport) -> None:
    if not report.imports:
        return
    imports = Table(title="Imports that cost the most (held at the heap peak)", title_justify="left")
    imports.add_column("module")
    imports.add_column("memory", justify="right")
    imports.add_column("paid by")
    for cost in report.imports[:10]:
        paid = "the master (shared by workers)" if cost.role == "master" else f"each {cost.role}"
        imports.add_row(cost.module, format_binary(cost.bytes), paid)
    console.print(imports)


def _heap_sites(console: Console, report: ProfileReport) -> None:
    heaviest = max(report.processes, key=lambda p: p.heap_peak_bytes or 0, default=None)
    if heaviest is None or not heaviest.top_sites:
        return
    sites = Table(
        title=f"Where the {heaviest.role}'s heap was at its peak "
        f"({format_binary(heaviest.heap_peak_bytes or 0)})",
        title_justify="left",
    )
    sites.add_column("allocated at")
    sites.add_column("held", justify="right")
    sites.add_column("allocations", justify="right")
    for site in heaviest.top_sites[:5]:
        sites.add_row(site.location, format_binary(site.bytes), str(site.count))
    console.print(sites)


def _variants(console: Console, report: ProfileReport) -> None:
    if not report.variants:
        return
    table = Table(title="Tried again with one change (--try), against the run above", title_justify="left")
    for column in VARIANT_COLUMNS:
        table.add_column(column, justify="left" if column in ("tried", "outcome") else "right")
    for variant in report.variants:
        table.add_row(*variant_cells(report, variant))
    console.print(table)
    console.print()


def _requests(console: Console, report: ProfileReport) -> None:
    requests = report.requests
    if requests is None:
        return
    codes = ", ".join(f"{status or 'error'}: {count}" for status, count in requests.status_codes.items())
    latency = requests.latency_seconds
    console.print(
        f"{requests.count} requests ({codes}); latency p50 {latency.p50 * 1000:.0f} ms, "
        f"p95 {latency.p95 * 1000:.0f} ms"
    )
    routes = routes_words(requests)
    if routes is not None:
        clients = f", {requests.concurrency} at a time" if requests.concurrency else ""
        console.print(routes + clients)
    if len(requests.per_route) > 1:
        for route in requests.per_route:
            console.print(
                f"  {route.route}: {route.answered} of {route.count} answered 2xx/3xx, "
                f"p50 {route.p50 * 1000:.0f} ms, p95 {route.p95 * 1000:.0f} ms"
            )
    growth = growth_words(report)
    if growth is not None:
        console.print(growth)


def _notes(console: Console, report: ProfileReport) -> None:
    for note in report.notes:
        console.print(f"note: {note}", style="yellow")
    console.print("Memory in binary units (1 MiB = 1,048,576 bytes), as dyno quotas are.")
