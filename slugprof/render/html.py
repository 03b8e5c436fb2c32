"""The HTML report: one self-contained page (inline CSS, inline SVG, one small inline script) for an
app's analyze report, its profile report, or both.

The page asks nothing of any other host: it works offline and as a CI artifact. Every name that comes
from the user's tree (files, packages, evidence, notes, commands) goes through Jinja2's autoescape;
the only markup passed through whole is the memory chart, drawn by matplotlib from numbers and labels
made here. Figures are the saved report's own; the page only sums them for presentation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from slugprof.compare import Comparison
from slugprof.gate import image_verdict
from slugprof.heroku import DYNO_PLANS
from slugprof.model import (
    AnalyzeReport,
    BuildOutcome,
    DynoFit,
    Edit,
    Finding,
    Image,
    Location,
    ProfileReport,
    Severity,
)
from slugprof.model.report import findings_of
from slugprof.render.charts import Threshold, memory_chart_svg
from slugprof.render.common import (
    FIT_WORD,
    SLUG_STATUS_WORD,
    boot_words,
    config_vars_words,
    dyno_count_words,
    fit_basis_words,
    fit_title,
    growth_words,
    measure_words,
    other_totals,
    process_cells,
    routes_words,
    runtime_words,
    saving_words,
    total_saving,
    variant_cells,
)
from slugprof.render.comparison import render_comparison
from slugprof.render.treemap import CANVAS_HEIGHT, CANVAS_WIDTH, Treemap, build_treemap, removable_paths
from slugprof.units import PRINTED_UNIT_NOTE, format_binary, format_bytes

TOP_PACKAGES = 25
REMOVED_FILES_SHOWN = 8  # per .slugignore rule

_SLUG_STATUS_CSS = {"ok": "good", "warn": "warn", "over": "bad", "incomplete": "warn"}
_FIT_CSS = {"ok": "good", "r14": "warn", "r15": "bad"}


@dataclass(frozen=True)
class Fragment:
    """A piece of the verdict sentence, with the class that colours it ("" for plain text)."""

    text: str
    css: str = ""


@dataclass(frozen=True)
class EditView:
    what: str  # "append to .gitignore" or "in app.py, replace"
    old: str | None
    new: str


@dataclass(frozen=True)
class FindingView:
    id: str
    severity: str
    title: str
    evidence: tuple[str, ...]
    location: str
    saving: str
    fix_summary: str
    command: str
    edits: tuple[EditView, ...]


@dataclass(frozen=True)
class Row:
    """One table row: its cells as text, and a class for the row ("" for none)."""

    cells: tuple[str, ...]
    css: str = ""


@dataclass(frozen=True)
class Column:
    """A table's column: its heading, and the class of its cells ("n" for figures)."""

    name: str
    css: str = ""


# The dyno-fit table: with workers, and for an app without a worker model, one process.
_FIT_COLUMNS = (
    Column("dyno"),
    Column("quota", "n"),
    Column("workers", "n"),
    Column("predicted", "n"),
    Column("", "status"),
    Column("max workers", "n"),
)
_ONE_PROCESS_FIT_COLUMNS = (
    Column("dyno"),
    Column("quota", "n"),
    Column("predicted", "n"),
    Column("", "status"),
)


@dataclass(frozen=True)
class SlugignoreView:
    line: int
    pattern: str
    matched: str
    note: str
    removed: tuple[str, ...]  # the first files it removed
    more: int  # how many more it removed


@dataclass(frozen=True)
class AnalyzeView:
    built: str  # what the build makes: "slug", or on Fir "image"
    facts: tuple[str, ...]
    components: tuple[Row, ...]
    treemap: Treemap
    marked: int
    requirements: tuple[Row, ...]
    packages: tuple[Row, ...]
    packages_more: int
    slugignore: tuple[SlugignoreView, ...]
    slugignore_summary: str
    untracked: tuple[str, ...]


@dataclass(frozen=True)
class ProfileView:
    facts: tuple[str, ...]
    chart: Markup
    thresholds: tuple[str, ...]
    measure: str  # what the dyno total is
    variants: tuple[Row, ...]  # --try runs, against the first
    fit_title: str
    fit_columns: tuple[Column, ...]
    fits: tuple[Row, ...]
    imports: tuple[Row, ...]
    memray: str
    processes: tuple[Row, ...]
    fit_basis: str  # what one more worker costs, or that the app is one process
    sites_title: str
    sites: tuple[Row, ...]


@dataclass(frozen=True)
class Page:
    title: str
    root: str
    created: str
    version: str
    verdict: tuple[Fragment, ...]
    counts: tuple[Fragment, ...]
    savings: str
    findings: tuple[FindingView, ...]
    silenced: str
    analyze: AnalyzeView | None
    profile: ProfileView | None
    notes: tuple[str, ...]
    since_baseline: str  # what changed since the baseline, as text; "" without one
    units: str
    canvas: tuple[str, str]


def render_html(
    analyze: AnalyzeReport | None, profile: ProfileReport | None, comparison: Comparison | None = None
) -> str:
    """The page for one app's analyze report, its profile report, or both; with `comparison`, what
    changed since the baseline."""
    if analyze is None and profile is None:
        raise ValueError("render_html needs an analyze report, a profile report, or both")
    page = _page(analyze, profile, comparison)
    if comparison is not None:
        page = replace(page, since_baseline=render_comparison(comparison))
    return _environment().get_template("page.html.j2").render(page=page)


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("slugprof.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _page(
    analyze: AnalyzeReport | None, profile: ProfileReport | None, comparison: Comparison | None
) -> Page:
    first = analyze if analyze is not None else profile
    assert first is not None
    findings = findings_of(analyze, profile)
    return Page(
        title=f"slugprof report: {first.app.root}",
        root=first.app.root,
        created=first.created,
        version=first.tool.version,
        verdict=tuple(_verdict(analyze, profile)),
        counts=tuple(_counts(findings)),
        savings=_savings(findings),
        findings=tuple(_finding(finding) for finding in _ordered(findings)),
        silenced=_silenced(analyze, profile),
        analyze=_analyze(analyze, comparison) if analyze is not None else None,
        profile=_profile(profile) if profile is not None else None,
        notes=tuple(_notes(analyze, profile)),
        since_baseline="",
        units=PRINTED_UNIT_NOTE + "; memory in binary units (1 MiB = 1,048,576 bytes), as dyno quotas are",
        canvas=(f"{CANVAS_WIDTH:.0f}", f"{CANVAS_HEIGHT:.0f}"),
    )


# --- the first screen -------------------------------------------------------------------------------------


def _verdict(analyze: AnalyzeReport | None, profile: ProfileReport | None) -> list[Fragment]:
    """One sentence: the slug against its limit, the peak against the quota, the build verdict."""
    clauses: list[list[Fragment]] = []
    if analyze is not None:
        clauses.append(_slug_clause(analyze))
    if profile is not None:
        clauses.append(_memory_clause(profile))
    if analyze is not None:
        clauses.append(_build_clause(analyze))
    sentence: list[Fragment] = []
    for index, clause in enumerate(clauses):
        if index:
            sentence.append(Fragment("; "))
        sentence.extend(clause)
    sentence.append(Fragment("."))
    first = sentence[0]
    sentence[0] = Fragment(first.text[:1].upper() + first.text[1:], first.css)
    return sentence


def _slug_clause(report: AnalyzeReport) -> list[Fragment]:
    if report.image is not None:
        return _image_clause(report.image)
    slug = report.slug
    share = f", {slug.compressed_bytes / slug.limit_bytes:.0%}" if slug.limit_bytes else ""
    word, css = SLUG_STATUS_WORD[slug.status], _SLUG_STATUS_CSS[slug.status]
    return [
        Fragment("the slug is "),
        Fragment(f"{format_bytes(slug.compressed_bytes)} ± {format_bytes(slug.compressed_error)}", "figure"),
        Fragment(f" compressed{share} of the {format_bytes(slug.limit_bytes)} limit: "),
        Fragment(word, css),
    ]


def _image_clause(image: Image) -> list[Fragment]:
    """On Fir, the image estimate, which no documented limit judges: the terminal's and Markdown's words."""
    words = image_verdict(image)
    figure = f"{format_bytes(image.compressed_bytes)} ± {format_bytes(image.compressed_error)}"
    before, found, after = words.partition(figure)
    if not found:
        return [Fragment(f"Fir: {words}")]
    return [Fragment(f"Fir: {before}"), Fragment(figure, "figure"), Fragment(after)]


def _memory_clause(report: ProfileReport) -> list[Fragment]:
    peak = report.judged_bytes
    fragments = [
        Fragment("the dyno's peak memory is "),
        Fragment(format_binary(report.memory.peak_total_bytes), "figure"),
        Fragment(f" ({measure_words(report.memory)})"),
    ]
    counts = dyno_count_words(report)
    if counts is not None:
        fragments.append(Fragment(f"; {counts}: predicted "))
        fragments.append(Fragment(format_binary(peak), "figure"))
    quota = quota_bytes(report)
    if quota is None:
        return fragments
    restart = r15_bytes(report)
    if peak <= quota:
        word, css = "WITHIN THE QUOTA", "good"
    elif restart is None or peak <= restart:
        word, css = "ABOVE THE QUOTA (R14: the dyno swaps)", "warn"
    else:
        word, css = "ABOVE THE R15 THRESHOLD (the dyno restarts)", "bad"
    fragments.append(Fragment(f", {peak / quota:.0%} of the {report.dyno} quota of {format_binary(quota)}: "))
    fragments.append(Fragment(word, css))
    return fragments


def _build_clause(report: AnalyzeReport) -> list[Fragment]:
    build = report.build
    if build is None:
        return [Fragment("the build was not checked (a report saved before the build rules)")]
    if build.outcome == BuildOutcome.BUILDS:
        return [Fragment("the app "), Fragment("BUILDS", "good")]
    fragments = [Fragment("THE BUILD WOULD FAIL", "bad"), Fragment(": ")]
    for index, entry in enumerate(build.errors):
        if index:
            fragments.append(Fragment(", "))
        fragments.append(Fragment(entry.id, "bad"))
        fragments.append(Fragment(f" {entry.message}"))
    return fragments


def quota_bytes(report: ProfileReport) -> int | None:
    """The quota of the dyno size the app ran as: its dyno-fit entry's, else the platform's."""
    fit = _fit_for(report)
    if fit is not None:
        return fit.quota_bytes
    plan = next((plan for plan in DYNO_PLANS if plan.name == report.dyno), None)
    return plan.memory_mib * 1024 * 1024 if plan is not None else None


def r15_bytes(report: ProfileReport) -> int | None:
    """Where R15 restarts that dyno, as the profile computed it (its dyno-fit entry), or for a profile
    saved before it did, the quota times the platform's multiplier for the size."""
    fit = _fit_for(report)
    if fit is not None and fit.r15_bytes is not None:
        return fit.r15_bytes
    quota = quota_bytes(report)
    plan = next((plan for plan in DYNO_PLANS if plan.name == report.dyno), None)
    if quota is None or plan is None:
        return None
    return round(quota * plan.r15_multiplier)


def _fit_for(report: ProfileReport) -> DynoFit | None:
    return next((fit for fit in report.dyno_fit if fit.dyno == report.dyno), None)


def _counts(findings: Sequence[Finding]) -> list[Fragment]:
    if not findings:
        return [Fragment("no findings")]
    counted = Counter(finding.severity for finding in findings)
    css = {Severity.ERROR: "bad", Severity.WARNING: "warn", Severity.INFO: "info"}
    parts: list[Fragment] = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        number = counted.get(severity, 0)
        noun = severity.value if number == 1 else f"{severity.value}s"
        if severity == Severity.INFO:
            noun = "info"
        parts.append(Fragment(f"{number} {noun}", css[severity] if number else ""))
    return parts


def _savings(findings: Sequence[Finding]) -> str:
    total = total_saving(findings)
    if total is None:
        return "no measured savings yet"
    return f"the findings' fixes would save {format_bytes(total)} of the compressed slug"


def _silenced(analyze: AnalyzeReport | None, profile: ProfileReport | None) -> str:
    runs = [report.rules for report in (analyze, profile) if report is not None and report.rules.silenced]
    if not runs:
        return ""
    number = sum(run.silenced for run in runs)
    ignored = dict.fromkeys(rule_id for run in runs for rule_id in run.ignored_rules)
    return f"{number} {'finding' if number == 1 else 'findings'} silenced ({', '.join(ignored)})"


# --- findings ---------------------------------------------------------------------------------------------


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    """The largest measured saving first, then the worst severity."""
    return sorted(
        findings,
        key=lambda f: (
            f.savings_compressed_bytes is None,
            -(f.savings_compressed_bytes or 0),
            -f.severity.rank,
            f.id,
        ),
    )


def _finding(finding: Finding) -> FindingView:
    fix = finding.fix
    saving = saving_words(finding) or ""
    return FindingView(
        id=finding.id,
        severity=finding.severity.value,
        title=finding.title,
        evidence=finding.evidence,
        location=_where(finding.location),
        saving=saving,
        fix_summary=fix.summary if fix is not None else "",
        command=(fix.command or "") if fix is not None else "",
        edits=tuple(_edit(edit) for edit in fix.edits) if fix is not None else (),
    )


def _edit(edit: Edit) -> EditView:
    what = f"append to {edit.path}" if edit.old is None else f"in {edit.path}, replace"
    return EditView(what, edit.old, edit.new)


def _where(location: Location | None) -> str:
    if location is None:
        return ""
    return f"{location.path}:{location.line}" if location.line is not None else location.path


# --- the slug ---------------------------------------------------------------------------------------------


def _analyze(report: AnalyzeReport, comparison: Comparison | None) -> AnalyzeView:
    """The slug's section; with `comparison`, its treemap coloured by what changed since the baseline."""
    return AnalyzeView(
        built="slug" if report.image is None else "image",
        facts=tuple(_analyze_facts(report)),
        components=tuple(_components(report)),
        treemap=build_treemap(report, comparison),
        marked=len(removable_paths(report)),
        requirements=tuple(_requirements(report)),
        packages=tuple(_packages(report)),
        packages_more=max(0, len(report.dependencies.packages) - TOP_PACKAGES),
        slugignore=tuple(_slugignore(report)),
        slugignore_summary=_slugignore_summary(report),
        untracked=report.app.untracked,
    )


def _analyze_facts(report: AnalyzeReport) -> list[str]:
    slug = report.slug
    dependencies = report.dependencies
    size = f"{format_bytes(slug.bytes)} uncompressed; " + (
        f"the build log warns about boot time above {format_bytes(slug.soft_limit_bytes)}"
        if report.image is None
        else "Fir builds an image, not a slug: no slug limit applies"
    )
    facts = [
        size,
        f"Python {report.python.version} ({report.python.source}); package manager: {report.package_manager}",
    ]
    if dependencies.target is not None:
        target = dependencies.target
        facts.append(
            f"dependencies resolved for {target.stack} {target.arch}, Python {target.python} "
            f"(glibc {target.glibc}) by {dependencies.resolver}, not installed here"
        )
    elif dependencies.environment is not None:
        facts.append(f"dependencies measured from the environment {dependencies.environment}")
    else:
        facts.append("no dependencies measured")
    how = (
        "exact (a real tar streamed through gzip -6)"
        if slug.compressed_method == "exact"
        else f"estimated from {format_bytes(slug.sampled_bytes)} compressed samples"
    )
    facts.append(f"compressed size {how}; {runtime_words(report)}; buildpack tools from settings")
    return facts


def _components(report: AnalyzeReport) -> list[Row]:
    total = report.slug.compressed_bytes or 1
    return [
        Row(
            (
                component.name,
                format_bytes(component.compressed_bytes),
                format_bytes(component.bytes),
                f"{component.compressed_bytes / total:.0%}",
                "measured" if component.measured else "estimated",
            )
        )
        for component in report.slug.components
    ]


def _requirements(report: AnalyzeReport) -> list[Row]:
    tops = sorted(
        (p for p in report.dependencies.packages if p.top_level),
        key=lambda p: (-(p.exclusive_compressed_bytes or 0), p.name),
    )
    files = set(report.dependencies.requirements_files)
    rows = []
    for package in tops:
        others = [name for name in package.exclusive_packages if name != package.name]
        keepers = [name for name in package.requested_by if name not in files]
        brings = ", ".join(others)
        if package.name not in package.exclusive_packages and keepers:
            brings = f"(stays: also required by {', '.join(keepers)})"
        rows.append(
            Row(
                (
                    package.name,
                    package.version,
                    format_bytes(package.exclusive_compressed_bytes or 0),
                    format_bytes(package.exclusive_bytes or 0),
                    str(len(package.exclusive_packages)),
                    brings,
                )
            )
        )
    return rows


def _packages(report: AnalyzeReport) -> list[Row]:
    largest = sorted(report.dependencies.packages, key=lambda p: (-p.compressed_bytes, p.name))
    return [
        Row(
            (
                package.name,
                package.version,
                format_bytes(package.compressed_bytes),
                format_bytes(package.bytes),
                str(package.file_count),
                package.size_method.value + ("" if package.measured else " (estimated)"),
                ", ".join(package.requested_by),
            ),
            "" if package.measured else "estimated",
        )
        for package in largest[:TOP_PACKAGES]
    ]


def _slugignore(report: AnalyzeReport) -> list[SlugignoreView]:
    removed: dict[str, list[str]] = {}
    for file in report.app.files:
        if file.excluded_by is not None:
            removed.setdefault(file.excluded_by.partition(": ")[2], []).append(file.path)
    views = []
    for rule in report.app.slugignore:
        paths = removed.get(rule.pattern, []) if rule.matched_paths else []
        views.append(
            SlugignoreView(
                line=rule.line,
                pattern=rule.pattern,
                matched=f"{rule.matched_paths} {'file' if rule.matched_paths == 1 else 'files'}",
                note=rule.note or "",
                removed=tuple(paths[:REMOVED_FILES_SHOWN]),
                more=max(0, len(paths) - REMOVED_FILES_SHOWN),
            )
        )
    return views


def _slugignore_summary(report: AnalyzeReport) -> str:
    excluded = sum(1 for file in report.app.files if not file.included)
    noun = "file" if excluded == 1 else "files"
    return f".slugignore removes {excluded} {noun}, {format_bytes(report.app.excluded_bytes)}"


# --- the dyno's memory ------------------------------------------------------------------------------------


def _profile(report: ProfileReport) -> ProfileView:
    thresholds = _thresholds(report)
    heaviest = max(report.processes, key=lambda p: p.heap_peak_bytes or 0, default=None)
    memory = report.memory
    return ProfileView(
        facts=tuple(_profile_facts(report)),
        chart=Markup(memory_chart_svg(report, thresholds)) if memory.samples else Markup(""),
        thresholds=tuple(f"{t.label}: {format_binary(t.bytes)}" for t in thresholds),
        measure=measure_words(memory),
        variants=tuple(Row(variant_cells(report, variant)) for variant in report.variants),
        fit_title=fit_title(report),
        fit_columns=_FIT_COLUMNS if report.worker_model else _ONE_PROCESS_FIT_COLUMNS,
        fits=tuple(_fits(report)),
        imports=tuple(
            Row(
                (
                    cost.module,
                    format_binary(cost.bytes),
                    "the master (shared by the workers)" if cost.role == "master" else f"each {cost.role}",
                )
            )
            for cost in report.imports
        ),
        memray=report.memray.mode.value + (f": {report.memray.reason}" if report.memray.reason else ""),
        processes=tuple(_processes(report)),
        fit_basis=fit_basis_words(report),
        sites_title=(
            f"Where the {heaviest.role} {heaviest.pid}'s heap was at its peak "
            f"({format_binary(heaviest.heap_peak_bytes or 0)})"
            if heaviest is not None and heaviest.top_sites
            else ""
        ),
        sites=tuple(
            Row((site.location, format_binary(site.bytes), str(site.count)))
            for site in (heaviest.top_sites if heaviest is not None else ())
        ),
    )


def _thresholds(report: ProfileReport) -> list[Threshold]:
    quota = quota_bytes(report)
    if quota is None:
        return []
    restart = r15_bytes(report)
    if restart is None or restart == quota:
        label = f"{report.dyno} quota" + (" and R15 restart" if restart == quota else "")
        return [Threshold(label, quota, "#c0392b")]
    return [
        Threshold(f"{report.dyno} quota (R14 above)", quota, "#d68910"),
        Threshold("R15 restart", restart, "#c0392b"),
    ]


def _profile_facts(report: ProfileReport) -> list[str]:
    memory = report.memory
    facts = [
        f"{report.app.process_type}: {report.app.command}",
        f"ran as {report.dyno} with WEB_CONCURRENCY={report.web_concurrency or 'unset'}; "
        f"memray: {report.memray.mode.value}"
        + (f" ({report.memray.reason})" if report.memray.reason else ""),
        f"at the peak: {other_totals(memory)}",
        f"{boot_words(report)}; shutdown {report.shutdown_seconds:.1f} s"
        + ("" if report.graceful_shutdown else " (killed)"),
    ]
    config = config_vars_words(report)
    if config is not None:
        facts.append(config)
    requests = report.requests
    if requests is not None:
        codes = ", ".join(f"{status or 'error'}: {count}" for status, count in requests.status_codes.items())
        latency = requests.latency_seconds
        routes = routes_words(requests)
        facts.append(
            f"{requests.count} requests ({codes}){' ' + routes if routes else ''}; latency p50 "
            f"{latency.p50 * 1000:.0f} ms, p95 {latency.p95 * 1000:.0f} ms, max {latency.max * 1000:.0f} ms"
        )
    growth = growth_words(report)
    if growth is not None:
        facts.append(growth)
    return facts


def _fits(report: ProfileReport) -> list[Row]:
    rows = []
    for fit in report.dyno_fit:
        word, css = FIT_WORD[fit.status], _FIT_CSS[fit.status]
        quota, predicted = format_binary(fit.quota_bytes), format_binary(fit.predicted_bytes)
        cells = (
            (fit.dyno, quota, str(fit.workers), predicted, word, str(fit.max_workers))
            if report.worker_model
            else (fit.dyno, quota, predicted, word)
        )
        rows.append(Row(cells, f"{css} current" if fit.dyno == report.dyno else css))
    return rows


def _processes(report: ProfileReport) -> list[Row]:
    return [
        Row(
            (
                *process_cells(process),
                _growth(process.growth_bytes_per_second),
                f"{process.first_seen:.1f}-{process.last_seen:.1f} s",
                process.command,
            )
        )
        for process in report.processes
    ]


def _growth(slope: float | None) -> str:
    if slope is None:
        return ""
    return f"{'-' if slope < 0 else '+'}{format_binary(abs(slope))}/s"


# --- notes ------------------------------------------------------------------------------------------------


def _notes(analyze: AnalyzeReport | None, profile: ProfileReport | None) -> list[str]:
    notes: list[str] = []
    if analyze is not None:
        notes.extend(analyze.notes)
        notes.extend(analyze.dependencies.notes)
        if analyze.dependencies.missing:
            notes.append("required but not installed: " + ", ".join(analyze.dependencies.missing))
        notes.extend(f"{problem.path}: {problem.reason}" for problem in analyze.app.problems)
    if profile is not None:
        notes.extend(profile.notes)
    return notes
