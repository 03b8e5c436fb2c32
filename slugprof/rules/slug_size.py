"""SLUG20x: the compressed slug against the user's budget, Heroku's soft limit and its hard limit."""

from __future__ import annotations

from collections.abc import Iterator

from slugprof.model import AnalyzeReport, Evidence, Fix, Severity
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.units import format_bytes


def _largest(report: AnalyzeReport) -> tuple[str, ...]:
    """Where the bytes are: the components, then the requirements that free the most when removed."""
    lines = [
        f"{component.name}: {format_bytes(component.compressed_bytes)} compressed"
        for component in sorted(report.slug.components, key=lambda c: -c.compressed_bytes)
    ]
    tops = sorted(
        (p for p in report.dependencies.packages if p.top_level),
        key=lambda p: -(p.exclusive_compressed_bytes or 0),
    )[:3]
    lines += [
        f"removing {p.name} alone frees {format_bytes(p.exclusive_compressed_bytes or 0)} compressed"
        for p in tops
        if p.exclusive_compressed_bytes
    ]
    if report.slug.status == "incomplete":
        lines.append("dependencies were not measured: the slug is at least this large")
    return tuple(lines)


def _over(report: AnalyzeReport, limit: int, what: str) -> str:
    compressed = report.slug.compressed_bytes
    return (
        f"the compressed slug is {format_bytes(compressed)}, over {what} of {format_bytes(limit)}: "
        f"{format_bytes(compressed - limit)} must go"
    )


_SEE_FINDINGS = Fix(summary="apply the findings with the largest savings first (see their measured savings)")


@rule(
    "SLUG200",
    "over-slug-hard-limit",
    Severity.ERROR,
    summary="The compressed slug is over Heroku's hard limit (1000 MB by default: `slug-hard-limit`).",
    why='The build is refused: "Compiled slug size: 3.1G is too large (max is 1000M)".',
    fix="Remove what the other findings name (CUDA wheels, data, dev tools) until the slug is under it.",
    source="heroku-facts 1.1, 9.1",
)
def over_hard_limit(inputs: RuleInputs) -> Iterator[Hit]:
    report, limit = inputs.report, inputs.settings.slug_hard_limit
    if report.slug.compressed_bytes > limit:
        yield Hit(
            title=_over(report, limit, "Heroku's hard limit") + ": the build is refused",
            evidence=_largest(report),
            evidence_class=Evidence.MEASURED,
            fix=_SEE_FINDINGS,
        )


@rule(
    "SLUG201",
    "over-slug-budget",
    Severity.WARNING,
    summary="The compressed slug is over the configured limit (`slug-limit`, 500 MB by default).",
    why="The budget the app builds against: the limit many teams and older Heroku accounts use.",
    fix="Remove what the other findings name, or raise `slug-limit` in [tool.slugprof] if it is on purpose.",
    source="heroku-facts 1.1 (500 MB, now the budget; 1000 MB the platform's limit)",
)
def over_budget(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    limit = report.slug.limit_bytes
    if limit < report.slug.compressed_bytes <= inputs.settings.slug_hard_limit:
        yield Hit(
            title=_over(report, limit, "the configured limit"),
            evidence=_largest(report),
            evidence_class=Evidence.MEASURED,
            fix=_SEE_FINDINGS,
        )


@rule(
    "SLUG202",
    "over-soft-limit",
    Severity.WARNING,
    summary="The compressed slug is over the 300 MB soft limit (`soft-limit`).",
    why="Heroku's build warns that a slug this large may affect boot time: every dyno start unpacks it.",
    fix="Trim the slug with the other findings; boot time falls with its size.",
    source="heroku-facts 1.1 (the 300 MB warning)",
)
def over_soft_limit(inputs: RuleInputs) -> Iterator[Hit]:
    report = inputs.report
    soft = report.slug.soft_limit_bytes
    if soft < report.slug.compressed_bytes <= report.slug.limit_bytes:
        yield Hit(
            title=_over(report, soft, "the soft limit") + " to stay clear of the boot-time warning",
            evidence=_largest(report),
            evidence_class=Evidence.MEASURED,
            fix=_SEE_FINDINGS,
        )
