"""What changed since the baseline, as text for the terminal: the slug and the memory, then the packages,
files and findings that changed most, each with its band."""

from __future__ import annotations

from collections.abc import Sequence

from slugprof.compare import SHOWN, Band, Change, Comparison
from slugprof.model import Finding
from slugprof.render.common import printable
from slugprof.units import format_binary, format_bytes


def render_comparison(comparison: Comparison) -> str:
    lines = ["Since the baseline"]
    lines += _totals(comparison)
    lines += _changes("packages", comparison.packages)
    lines += _changes("files and folders", comparison.files)
    lines += _findings("new findings", comparison.new_findings)
    lines += _findings("fixed findings", comparison.fixed_findings)
    if len(lines) == 1:
        lines.append("  nothing the reports compare")
    return "\n".join(lines) + "\n"


def _totals(comparison: Comparison) -> list[str]:
    lines = []
    before, after = comparison.compressed_before, comparison.compressed_after
    delta = comparison.compressed_delta
    if before is not None and after is not None and delta is not None:
        share = f", {delta / before:+.1%}" if before else ""
        lines.append(
            f"  slug {format_bytes(before)} -> {format_bytes(after)} compressed "
            f"({format_bytes(delta, signed=True)}{share})"
        )
    memory = comparison.memory_delta
    if comparison.memory_before is not None and comparison.memory_after is not None and memory is not None:
        sign = "+" if memory > 0 else "-" if memory < 0 else ""
        lines.append(
            f"  peak memory {format_binary(comparison.memory_before)} -> "
            f"{format_binary(comparison.memory_after)} ({sign}{format_binary(abs(memory))})"
        )
    return lines


def _change(change: Change) -> str:
    detail = f", {change.detail}" if change.detail else ""
    if change.band == Band.NEW:
        return f"    + {printable(change.name)} (new, {format_bytes(change.after)}{detail})"
    if change.band == Band.REMOVED:
        return f"    - {printable(change.name)} (removed, {format_bytes(change.before)}{detail})"
    return (
        f"    ~ {printable(change.name)} ({format_bytes(change.delta, signed=True)}, {change.band.value}"
        f"{detail})"
    )


def _changes(heading: str, changes: Sequence[Change]) -> list[str]:
    if not changes:
        return []
    lines = [f"  {heading} ({len(changes)} changed)"]
    lines += [_change(change) for change in changes[:SHOWN]]
    if len(changes) > SHOWN:
        lines.append(f"    and {len(changes) - SHOWN} more")
    return lines


def _findings(heading: str, findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return []
    shown = [f"    {finding.id}  {printable(finding.title)}" for finding in findings[:SHOWN]]
    return [f"  {heading} ({len(findings)})", *shown]
