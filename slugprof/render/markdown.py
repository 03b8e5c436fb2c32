"""The Markdown report, for a pull-request comment or a CI step summary.

One verdict line, a table of at most ten findings, the rest folded in `<details>`, and a hidden
marker comment first, so a CI step can find and update the same comment. The text always stays under
GitHub's comment limit of 65,536 characters: what does not fit is cut, and the cut is said.
Everything from the user's tree is escaped: a file name cannot open an HTML tag, break a table or
start a code span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from slugprof.compare import Comparison
from slugprof.gate import image_verdict
from slugprof.model import AnalyzeReport, BuildOutcome, Finding, ProfileReport, Severity
from slugprof.model.report import findings_of
from slugprof.render.common import (
    FIT_WORD,
    SLUG_STATUS_WORD,
    VARIANT_COLUMNS,
    app_name,
    printable,
    variant_cells,
)
from slugprof.render.comparison import render_comparison
from slugprof.units import format_binary, format_bytes

MARKER = "<!-- slugprof-report -->"
# GitHub refuses a comment body over 65,536 characters; keep a margin for the text a CI step adds.
LIMIT_CHARACTERS = 65_000
TABLE_ROWS = 10
# What can start emphasis, a link, a code span, a strike or a table cell; `(` only matters after `]`.
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: str) -> str:
    """Text safe in Markdown and in the HTML GitHub allows in it: no tag, no table break, no code span."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def code(text: str) -> str:
    """A code span that holds `text` whatever backticks it contains (a fence longer than any run)."""
    text = printable(text).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def render_markdown(
    analyze: AnalyzeReport | None, profile: ProfileReport | None = None, comparison: Comparison | None = None
) -> str:
    """The Markdown report of an analysis, a profile, or both of one app; with `comparison`, what changed
    since the baseline, right after the verdict."""
    if analyze is None and profile is None:
        raise ValueError("render_markdown needs a report")
    findings = _findings(analyze, profile)
    head = [
        MARKER,
        f"### slugprof: {escape(app_name(analyze, profile))}",
        "",
        _verdict(analyze, profile, findings),
    ]
    parts = ["\n".join(head)]
    if comparison is not None:
        # a fenced block keeps the changes' columns; names cannot close it (a fence is a line of ~~~)
        parts.append("~~~text\n" + render_comparison(comparison).replace("\n~~~", "\n ~~~") + "~~~")
    parts.extend(_findings_sections(findings))
    if analyze is not None:
        parts.append(_slug_details(analyze))
    if profile is not None:
        parts.append(_memory_details(profile))
    return _within_limit(parts)


def _findings(analyze: AnalyzeReport | None, profile: ProfileReport | None) -> list[Finding]:
    found = findings_of(analyze, profile)
    return sorted(found, key=lambda f: (-f.severity.rank, -(f.savings_compressed_bytes or 0), f.id))


def _size_verdict(analyze: AnalyzeReport) -> str:
    """The slug against its limit; on Fir, the image, for which no limit is documented."""
    if analyze.image is not None:
        return f"**Fir**: {image_verdict(analyze.image)}"
    slug = analyze.slug
    share = slug.compressed_bytes / slug.limit_bytes if slug.limit_bytes else 0.0
    return (
        f"**Slug {format_bytes(slug.compressed_bytes)}** ± {format_bytes(slug.compressed_error)}"
        f" compressed of the {format_bytes(slug.limit_bytes)} limit ({share:.0%}):"
        f" {SLUG_STATUS_WORD[slug.status]}"
    )


def _verdict(analyze: AnalyzeReport | None, profile: ProfileReport | None, findings: list[Finding]) -> str:
    pieces = []
    if analyze is not None:
        pieces.append(_size_verdict(analyze))
        build = analyze.build
        if build is not None:
            pieces.append(
                "**THE BUILD WOULD FAIL**" if build.outcome == BuildOutcome.FAILS else "the build succeeds"
            )
    if profile is not None:
        pieces.append(_memory_verdict(profile))
    counts = {severity: sum(1 for f in findings if f.severity == severity) for severity in Severity}
    shown = [
        f"{count} {severity.value}{'s' if count != 1 else ''}" for severity, count in counts.items() if count
    ]
    pieces.append("findings: " + (", ".join(shown) if shown else "none"))
    return " · ".join(pieces)


def _memory_verdict(profile: ProfileReport) -> str:
    peak = profile.judged_bytes
    fit = profile.fit_on_dyno
    if fit is None:
        return f"**memory {format_binary(peak)}** at its peak"
    word = FIT_WORD[fit.status]
    predicted = (
        f" predicted at its {fit.workers} workers (the run had {profile.workers_ran})"
        if profile.dyno_runs_another_count
        else ""
    )
    return (
        f"**memory {format_binary(peak)}**{predicted} of the {escape(profile.dyno)} quota"
        f" {format_binary(fit.quota_bytes)} ({peak / fit.quota_bytes:.0%}): {word}"
    )


def _findings_sections(findings: list[Finding]) -> list[str]:
    if not findings:
        return []
    sections = [_findings_table(findings[:TABLE_ROWS])]
    rest = findings[TABLE_ROWS:]
    if rest:
        sections.append(_details(f"{len(rest)} more findings", _findings_table(rest)))
    sections.append(_details("Evidence and fixes", "\n".join(_finding_detail(f) for f in findings)))
    return sections


def _saving_cell(compressed: int | None) -> str:
    if not compressed:
        return ""
    return format_bytes(compressed) if compressed > 0 else f"adds {format_bytes(-compressed)}"


def _findings_table(findings: Iterable[Finding]) -> str:
    rows = ["| severity | rule | finding | where | saving |", "|---|---|---|---|---:|"]
    for finding in findings:
        where = ""
        if finding.location is not None:
            line = f":{finding.location.line}" if finding.location.line is not None else ""
            where = escape(finding.location.path + line)
        saving = _saving_cell(finding.savings_compressed_bytes)
        rows.append(
            f"| {finding.severity.value} | {finding.id} | {escape(finding.title)} | {where} | {saving} |"
        )
    return "\n".join(rows)


def _finding_detail(finding: Finding) -> str:
    lines = [f"- **{finding.id}** {escape(finding.title)}"]
    lines.extend(f"  - {escape(evidence)}" for evidence in finding.evidence)
    if finding.fix is not None:
        lines.append(f"  - fix: {escape(finding.fix.summary)}")
        if finding.fix.command:
            lines.append(f"    - run: {code(finding.fix.command)}")
        for edit in finding.fix.edits:
            action = "append to" if edit.old is None else "edit"
            lines.append(f"    - {action} {escape(edit.path)}: {escape(edit.new.strip())}")
    return "\n".join(lines)


def _slug_details(report: AnalyzeReport) -> str:
    rows = ["| component | compressed | size |", "|---|---:|---:|"]
    rows += [
        f"| {escape(c.name)} | {format_bytes(c.compressed_bytes)} | {format_bytes(c.bytes)} |"
        for c in report.slug.components
    ]
    packages = sorted(report.dependencies.packages, key=lambda p: -p.compressed_bytes)[:TABLE_ROWS]
    if packages:
        rows += ["", "| package | compressed | size |", "|---|---:|---:|"]
        rows += [
            f"| {escape(p.name)} {escape(p.version)} | {format_bytes(p.compressed_bytes)}"
            f" | {format_bytes(p.bytes)} |"
            for p in packages
        ]
    built = "the image" if report.generation == "fir" else "the slug"  # Fir builds an image, not a slug
    return _details(f"What is in {built}", "\n".join(rows))


def _memory_details(report: ProfileReport) -> str:
    if not report.worker_model:
        return _details("Dyno fit: one process", _one_process_fits(report))
    rows = [
        "| dyno | quota | workers | predicted | verdict | most workers that fit |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for fit in report.dyno_fit:
        rows.append(
            f"| {escape(fit.dyno)} | {format_binary(fit.quota_bytes)} | {fit.workers} | "
            f"{format_binary(fit.predicted_bytes)} | {fit.status} | {fit.max_workers} |"
        )
    if report.variants:
        rows += ["", "| " + " | ".join(VARIANT_COLUMNS) + " |", "|---|---:|---:|---:|---:|---|"]
        rows += [
            "| " + " | ".join(escape(cell) for cell in variant_cells(report, variant)) + " |"
            for variant in report.variants
        ]
    return _details("Dyno fit", "\n".join(rows))


def _one_process_fits(report: ProfileReport) -> str:
    """An app without a worker model: its whole peak against each size's quota."""
    peak = format_binary(report.memory.peak_total_bytes)
    rows = [
        f"One process (no master with workers): its whole peak, {peak}, on each size.",
        "",
        "| dyno | quota | predicted | verdict |",
        "|---|---:|---:|---|",
    ]
    for fit in report.dyno_fit:
        rows.append(
            f"| {escape(fit.dyno)} | {format_binary(fit.quota_bytes)} | "
            f"{format_binary(fit.predicted_bytes)} | {fit.status} |"
        )
    return "\n".join(rows)


def _details(summary: str, body: str) -> str:
    # Inside HTML, Markdown's backslash escapes would show: the summary is escaped as HTML only.
    shown = printable(summary).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<details><summary>{shown}</summary>\n\n{body}\n\n</details>"


def _within_limit(parts: list[str]) -> str:
    """The parts joined, dropping whole parts from the end (then cutting the last) to stay in the limit."""
    note = "\n\n_(report cut to fit a comment: the full report is in the JSON or HTML)_\n"
    text = "\n\n".join(parts) + "\n"
    if len(text) <= LIMIT_CHARACTERS:
        return text
    kept: list[str] = []
    for part in parts:
        candidate = "\n\n".join([*kept, part])
        if len(candidate) + len(note) > LIMIT_CHARACTERS:
            break
        kept.append(part)
    text = "\n\n".join(kept) if kept else parts[0][: LIMIT_CHARACTERS - len(note)]
    return text + note
