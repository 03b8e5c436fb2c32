"""The verdict stage: an analysis and a profile of one app (either may be missing) judged against the
limits, one verdict per limit, and the exit code they make.

Pure: the reports and the limits in, verdicts out. What could not be measured is said, and is not a
pass: a slug whose dependencies were not measured (offline with an empty cache, a resolution that
failed) cannot be under a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from slugprof.compare import Comparison
from slugprof.errors import EXIT_FAILURE, EXIT_LIMIT, EXIT_OK
from slugprof.heroku import DEFAULT_FIR_MEMORY_UNIT, DYNO_PLANS, FIR_MEMORY_UNITS
from slugprof.model import AnalyzeReport, Finding, Image, MemoryMeasure, ProfileReport, Severity
from slugprof.model.report import findings_of
from slugprof.units import format_binary, format_bytes

MIB = 1024 * 1024


class Outcome(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_MEASURED = "not measured"  # asked for, and the reports cannot say: not a pass
    NOT_CHECKED = "not checked"  # nothing to check it on (no profile for the memory limit)


@dataclass(frozen=True)
class GateLimits:
    max_slug_bytes: int  # compressed
    max_memory_bytes: int | None  # peak dyno memory; None: the dyno's quota
    dyno: str  # whose quota is the default memory limit
    fail_on: Severity | None  # findings of this severity or worse fail; None: findings never fail
    growth_bytes: int | None = None  # how much the compressed slug may grow against the baseline
    growth_share: float | None = None  # the same as a share of the baseline ("5%": 0.05)
    fir_memory_unit: str = DEFAULT_FIR_MEMORY_UNIT  # what a Fir size's "gb" is: "GiB" or "GB"


@dataclass(frozen=True)
class LimitVerdict:
    limit: str  # "max-slug", "max-memory", "fail-on": the setting's name
    outcome: Outcome
    detail: str  # one line, for people: the figure against the limit

    def line(self) -> str:
        return f"{self.limit}: {self.outcome.value.upper()}: {self.detail}"


def fail_on(value: str) -> Severity | None:
    """`fail-on`'s value as a severity; "never" is None (the value was checked where it was read)."""
    return None if value == "never" else Severity(value)


def judge(
    analysis: AnalyzeReport | None,
    profile: ProfileReport | None,
    limits: GateLimits,
    comparison: Comparison | None = None,
) -> tuple[LimitVerdict, ...]:
    """One verdict per limit; `comparison` against the baseline, when one was given."""
    verdicts = [
        _slug_verdict(analysis, limits),
        _memory_verdict(profile, limits),
        _findings_verdict(findings_of(analysis, profile), limits),
    ]
    if limits.growth_bytes is not None or limits.growth_share is not None:
        verdicts.insert(1, _growth_verdict(comparison, limits))
    return tuple(verdicts)


def _growth_verdict(comparison: Comparison | None, limits: GateLimits) -> LimitVerdict:
    name = "max-slug-growth"
    if comparison is None:
        return LimitVerdict(name, Outcome.NOT_CHECKED, "no baseline (--baseline FILE)")
    delta, before = comparison.compressed_delta, comparison.compressed_before
    if delta is None or before is None:
        return LimitVerdict(name, Outcome.NOT_CHECKED, "the baseline or today's results hold no analysis")
    allowed = limits.growth_bytes
    if allowed is None:
        allowed = round((limits.growth_share or 0.0) * before)
    share = delta / before if before else 0.0
    figure = (
        f"{format_bytes(delta, signed=True)} ({share:+.1%}) against the baseline's {format_bytes(before)}, "
        f"allowed {format_bytes(allowed)}"
    )
    if delta <= allowed:
        return LimitVerdict(name, Outcome.PASS, figure)
    grown = [change for change in (*comparison.packages, *comparison.files) if change.delta > 0]
    top = sorted(grown, key=lambda change: -change.delta)[:3]
    named = ", ".join(f"{change.name} {format_bytes(change.delta, signed=True)}" for change in top)
    return LimitVerdict(name, Outcome.FAIL, f"{figure}; grew most: {named}" if named else figure)


def exit_code(verdicts: Sequence[LimitVerdict], *, warn_only: bool = False) -> int:
    """1 when a limit is breached, else 3 when one could not be measured, else 0; 0 with `warn_only`."""
    if warn_only:
        return EXIT_OK
    if any(verdict.outcome == Outcome.FAIL for verdict in verdicts):
        return EXIT_LIMIT
    if any(verdict.outcome == Outcome.NOT_MEASURED for verdict in verdicts):
        return EXIT_FAILURE
    return EXIT_OK


def _slug_verdict(analysis: AnalyzeReport | None, limits: GateLimits) -> LimitVerdict:
    limit = limits.max_slug_bytes
    if analysis is None:
        return LimitVerdict("max-slug", Outcome.NOT_CHECKED, "no analysis of the slug was given")
    if analysis.image is not None:
        return LimitVerdict("max-slug", Outcome.NOT_CHECKED, image_verdict(analysis.image))
    slug = analysis.slug
    share = slug.compressed_bytes / limit if limit else 0.0
    figure = (
        f"slug {format_bytes(slug.compressed_bytes)} ± {format_bytes(slug.compressed_error)} compressed, "
        f"limit {format_bytes(limit)} ({share:.0%})"
    )
    if slug.compressed_bytes > limit:
        over = format_bytes(slug.compressed_bytes - limit)
        return LimitVerdict("max-slug", Outcome.FAIL, f"{figure}: {over} over")
    if slug.status == "incomplete":
        return LimitVerdict(
            "max-slug",
            Outcome.NOT_MEASURED,
            f"{figure} without the dependencies, which were not measured (see the report's notes)",
        )
    return LimitVerdict("max-slug", Outcome.PASS, figure)


def image_verdict(image: Image) -> str:
    """A Fir image's one line: its estimate, and that no limit is documented for it."""
    return (
        f"image {format_bytes(image.compressed_bytes)} ± {format_bytes(image.compressed_error)} compressed "
        f"(layers at gzip -{image.compression_level}): Fir builds an image, not a slug, and no image size "
        "limit is documented"
    )


def _memory_limit(limits: GateLimits) -> tuple[int, str] | None:
    if limits.max_memory_bytes is not None:
        return limits.max_memory_bytes, "max-memory"
    plan = next((plan for plan in DYNO_PLANS if plan.name == limits.dyno), None)
    if plan is None:
        return None
    return plan.memory_bytes(FIR_MEMORY_UNITS[limits.fir_memory_unit]), f"the {plan.name} quota"


def _memory_verdict(profile: ProfileReport | None, limits: GateLimits) -> LimitVerdict:
    if profile is None:
        return LimitVerdict(
            "max-memory", Outcome.NOT_CHECKED, "no profile: --profile runs one, or pass a saved profile"
        )
    limit = _memory_limit(limits)
    if limit is None:
        return LimitVerdict("max-memory", Outcome.NOT_CHECKED, f"no quota known for {limits.dyno}")
    limit_bytes, named = limit
    peak = profile.judged_bytes
    fit = profile.fit_on_dyno
    counted = (
        f", predicted at the {fit.workers} workers it runs (the run had {profile.workers_ran})"
        if fit is not None and profile.dyno_runs_another_count
        else ""
    )
    figure = (
        f"peak {format_binary(peak)} ({_measure_name(profile)}, {profile.dyno}, WEB_CONCURRENCY="
        f"{profile.web_concurrency or 'unset'}{counted}), {named} {format_binary(limit_bytes)} "
        f"({peak / limit_bytes:.0%})"
    )
    if peak > limit_bytes:
        return LimitVerdict("max-memory", Outcome.FAIL, f"{figure}: {format_binary(peak - limit_bytes)} over")
    return LimitVerdict("max-memory", Outcome.PASS, figure)


def _measure_name(profile: ProfileReport) -> str:
    return "anonymous memory" if profile.memory.measure == MemoryMeasure.ANONYMOUS else "summed PSS"


def _findings_verdict(findings: Sequence[Finding], limits: GateLimits) -> LimitVerdict:
    threshold = limits.fail_on
    if threshold is None:
        return LimitVerdict("fail-on", Outcome.NOT_CHECKED, "never: findings do not fail the check")
    failing = [f for f in findings if f.severity.rank >= threshold.rank]
    worse = "" if threshold == Severity.ERROR else " or worse"
    if not failing:
        return LimitVerdict("fail-on", Outcome.PASS, f"no {threshold.value}{worse} finding")
    ids = ", ".join(dict.fromkeys(f.id for f in failing))
    noun = "finding" if len(failing) == 1 else "findings"
    return LimitVerdict("fail-on", Outcome.FAIL, f"{len(failing)} {threshold.value}{worse} {noun}: {ids}")
