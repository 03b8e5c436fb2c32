"""Pieces every renderer shares."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from slugprof.model import AnalyzeReport, Finding, dependency_group


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


def findings_to_list(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [
        {
            "id": finding.id,
            "severity": finding.severity,
            "title": finding.title,
            "detail": finding.detail,
            "saving_bytes": finding.saving_bytes,
        }
        for finding in findings
    ]


def compressed_by_package(report: AnalyzeReport) -> dict[str, int]:
    """Each dependency's share of the compressed slug: its own prediction when it was resolved,
    else the compressor's estimate for its files."""
    groups = {estimate.group: estimate.compressed_bytes for estimate in report.compression.groups}
    return {
        package.name: (
            package.compressed_bytes
            if package.compressed_bytes is not None
            else groups.get(dependency_group(package.name), 0)
        )
        for package in report.dependencies.packages
    }
