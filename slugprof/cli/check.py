"""`slugprof check [APP | RESULTS.json ...]`: the limits applied, one verdict line each, and an exit code
for CI."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from slugprof.cli.analyze import add_measure_options, analyze_options, measure_settings
from slugprof.cli.output import FORMATS, emit, format_from_extension, progress_display, render_pair
from slugprof.config import FAIL_ON
from slugprof.errors import UsageError
from slugprof.heroku import DEFAULT_DYNO, DYNO_PLANS

if TYPE_CHECKING:
    from slugprof.compare import Comparison
    from slugprof.config import Settings
    from slugprof.gate import GateLimits, LimitVerdict
    from slugprof.model import AnalyzeReport, ProfileReport
    from slugprof.progress import Progress


# The version of `check --format json`'s document: raised when a field changes meaning or goes away (a
# field added keeps it).
CHECK_SCHEMA = 1
_MEMORY_NEEDS_A_PROFILE = "--max-memory needs a profile: add --profile to run one, or pass a saved profile"


class CheckCommand:
    NAME = "check"
    HELP = "apply the limits (slug size, dyno memory, findings) and exit 1 when one is breached"
    DESCRIPTION = f"""\
Measure the app in APP (default: the current folder) as `analyze` does, or read the saved
results given (an analysis, a profile, or one of each, as `analyze -o` / `profile -o` wrote
them), and apply every limit:

  max-slug     the compressed slug (default: the slug limit, 500 MB)
  max-memory   the dyno's peak memory; needs a profile: --profile runs one (without memray),
               or pass a saved one (default: the --dyno quota; the flag without a profile
               is a usage error)
  fail-on      findings of this severity or worse fail the check: error (the default, so a
               build Heroku would refuse fails), warning, info or never

One line per limit goes to stderr (PASS, FAIL, NOT MEASURED or NOT CHECKED), then the details
to stdout: the verdicts and the errors (--format and -o for the whole report).

The same limits in [tool.slugprof] of the app's pyproject.toml (max-slug = "300 MB",
max-memory = "400 MiB", dyno = "standard-2x", fail-on = "warning"; snake_case works too),
the flags over them.

Exits 0 within every limit (or with --warn-only), 1 when one is breached, 2 for bad usage or
input, 3 when the tool or the app failed, or a limit could not be measured (offline with
nothing cached: said, and not a pass).

dyno sizes: {", ".join(plan.name for plan in DYNO_PLANS)}
"""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "targets",
            nargs="*",
            metavar="APP | RESULTS.json",
            help="the app's folder (default: .), or saved analyze/profile JSON",
        )
        parser.add_argument("--max-slug", metavar="SIZE", help="compressed slug limit (default: slug-limit)")
        parser.add_argument("--max-memory", metavar="SIZE", help="peak dyno memory (default: the quota)")
        parser.add_argument("--dyno", metavar="NAME", help=f"the dyno size (default {DEFAULT_DYNO})")
        parser.add_argument(
            "--fail-on", choices=FAIL_ON, help="findings of this severity or worse fail (default: error)"
        )
        parser.add_argument("--warn-only", action="store_true", help="report every verdict, and exit 0")
        parser.add_argument(
            "--baseline",
            metavar="FILE",
            action="append",
            default=[],
            help="saved results to compare with (an analysis and/or a profile): the change is shown",
        )
        parser.add_argument(
            "--max-slug-growth",
            "--max-growth",
            dest="max_slug_growth",
            metavar="SIZE|PCT%",
            help="how much the compressed slug may grow against the baseline ('2 MB', '5%%')",
        )
        parser.add_argument(
            "--write-baseline",
            metavar="FILE",
            help="save today's results as a baseline: the analysis in FILE, the profile beside it "
            "(FILE.profile.json), which --baseline FILE reads too",
        )
        parser.add_argument(
            "--baseline-ref",
            metavar="REF",
            help="measure the app as committed at REF (e.g. origin/main) as the baseline; both sides are "
            "resolved for the dyno",
        )
        parser.add_argument("--profile", action="store_true", help="profile the web process too (memory)")
        parser.add_argument(
            "--github-comment",
            action="store_true",
            help="on a GitHub pull request, keep one comment with the report up to date (GITHUB_TOKEN "
            "with pull-requests: write; skipped, and said, on forks and other events)",
        )
        add_measure_options(parser)
        parser.add_argument("--format", choices=FORMATS, help="the details' format (default: terminal)")
        parser.add_argument("-o", "--output", metavar="FILE", help="write the details to FILE")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from slugprof.compare import compare
        from slugprof.gate import exit_code, judge

        saved, root = _targets(args)
        settings = _settings(args, root)
        limits = _limits(settings)
        baseline = _baseline(args.baseline) if not args.baseline_ref else _at_ref(args, root, settings)
        analysis, profile = _results(args, saved, root, settings)
        if baseline is not None and not args.baseline_ref:
            _say_if_another_app(baseline, (analysis, profile))
        comparison = compare(baseline, (analysis, profile)) if baseline is not None else None
        verdicts = judge(analysis, profile, limits, comparison)
        for verdict in verdicts:
            print(f"slugprof check: {verdict.line()}", file=sys.stderr)
        lines = [verdict.line() for verdict in verdicts]
        _ci_surfaces(analysis, profile, lines, comparison, comment=args.github_comment)
        if args.write_baseline:
            _write_baseline(Path(args.write_baseline), analysis, profile)
        output_format = args.format or format_from_extension(args.output) or "terminal"
        brief = output_format == "terminal" and args.output is None

        code = exit_code(verdicts, warn_only=args.warn_only)

        def details(to_terminal: bool) -> str:
            if output_format == "json":
                return _verdicts_json(verdicts, code, analysis, comparison)
            return render_pair(
                analysis, profile, output_format, to_terminal=to_terminal, brief=brief, comparison=comparison
            )

        emit(args.output, details)
        return code


def _targets(args: argparse.Namespace) -> tuple[list[str], Path]:
    """The saved results given, and the app's folder (the current one with saved results)."""
    targets = args.targets or ["."]
    saved = [target for target in targets if target.endswith(".json")]
    if saved and len(saved) != len(targets):
        raise UsageError("give an app's folder or saved results (.json), not both")
    if len(targets) > 1 and not saved:
        raise UsageError("give one app's folder")
    if args.baseline_ref and (saved or args.baseline):
        raise UsageError("--baseline-ref measures the baseline from the app's folder: give the folder")
    if args.baseline_ref:
        args.resolve = True  # the same method on both sides: resolved for the dyno
    if args.max_memory and not saved and not args.profile:
        raise UsageError(_MEMORY_NEEDS_A_PROFILE)
    return saved, Path(".") if saved else Path(targets[0])


def _results(
    args: argparse.Namespace, saved: list[str], root: Path, settings: Settings
) -> tuple[AnalyzeReport | None, ProfileReport | None]:
    analysis, profile = _saved(saved) if saved else _measured(args, root, settings)
    if args.max_memory and profile is None:
        raise UsageError(_MEMORY_NEEDS_A_PROFILE)
    return analysis, profile


def _verdicts_json(
    verdicts: Sequence[LimitVerdict], code: int, analysis: AnalyzeReport | None, comparison: Comparison | None
) -> str:
    """`--format json`: each limit's verdict, the exit code and the two figures a CI step reports, for a
    script (the measurements are the analyze and profile JSON, saved with --write-baseline)."""
    document = {
        "kind": "check",
        "schema": CHECK_SCHEMA,
        "exit_code": code,
        "slug_compressed_bytes": analysis.slug.compressed_bytes if analysis is not None else None,
        "slug_growth_bytes": comparison.compressed_delta if comparison is not None else None,
        "verdicts": [
            {"limit": verdict.limit, "outcome": verdict.outcome.value, "detail": verdict.detail}
            for verdict in verdicts
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _ci_surfaces(
    analysis: AnalyzeReport | None,
    profile: ProfileReport | None,
    verdicts: list[str],
    comparison: Comparison | None,
    *,
    comment: bool,
) -> None:
    """On GitHub Actions: the findings as annotations (on stdout, where the runner reads workflow
    commands), the verdicts and the Markdown report appended to the job's step summary, and with
    `comment`, the pull request's comment."""
    from slugprof.model.report import findings_of
    from slugprof.render.ci import github_annotations
    from slugprof.render.markdown import render_markdown

    if os.environ.get("GITHUB_ACTIONS") == "true":
        sys.stdout.write(github_annotations(findings_of(analysis, profile)))
        sys.stdout.flush()
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    markdown = render_markdown(analysis, profile, comparison) if summary or comment else ""
    if comment:
        _pull_request_comment(markdown, verdicts)
    if summary:
        lines = "".join(f"- `{line}`\n" for line in verdicts)
        text = lines + "\n" + markdown
        try:
            with open(summary, "a", encoding="utf-8") as handle:  # GitHub's limit is 1 MiB a step
                handle.write(text + "\n")
        except OSError as error:
            problem = f"cannot write the step summary {summary}: {error.strerror}"
            print(f"slugprof check: {problem}", file=sys.stderr)


def _pull_request_comment(markdown: str, verdicts: list[str]) -> None:
    """The pull request's one slugprof comment, created or edited; whatever happens is one line, and
    never changes the exit code."""
    from slugprof.github import PullRequest, comment_body, keep_comment, pull_request_of, run_url_of
    from slugprof.net import Client

    pull = pull_request_of(os.environ)
    if isinstance(pull, PullRequest):
        with Client() as client:
            outcome = keep_comment(client, pull, comment_body(markdown, verdicts, run_url_of(os.environ)))
    else:
        outcome = pull
    print(f"slugprof check: {outcome.line()}", file=sys.stderr)


def _settings(args: argparse.Namespace, root: Path) -> Settings:
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (give the app's folder, or saved results ending in .json)")
    from slugprof.sources.dyno import default_dyno, generation_of

    dyno = args.dyno or (default_dyno(args.generation) if args.generation else None)
    settings = measure_settings(
        args,
        root,
        max_slug=args.max_slug,
        max_memory=args.max_memory,
        max_slug_growth=args.max_slug_growth,
        dyno=dyno,
        fail_on=args.fail_on,
    )
    generation_of(settings.dyno, args.generation)  # a dyno of the other generation is a usage error
    return settings


def _limits(settings: Settings) -> GateLimits:
    from slugprof.gate import GateLimits, fail_on
    from slugprof.units import parse_growth

    growth_bytes, growth_share = (None, None)
    if settings.max_slug_growth is not None:
        growth_bytes, growth_share = parse_growth(settings.max_slug_growth, what="max-slug-growth")
    return GateLimits(
        max_slug_bytes=settings.max_slug if settings.max_slug is not None else settings.slug_limit,
        max_memory_bytes=settings.max_memory,
        dyno=settings.dyno,
        fail_on=fail_on(settings.fail_on),
        growth_bytes=growth_bytes,
        growth_share=growth_share,
        fir_memory_unit=settings.fir_memory_unit,
    )


def profile_beside(path: Path) -> Path:
    """Where a baseline's profile is kept beside its analysis: `base.json` -> `base.profile.json`."""
    return path.with_name(f"{path.stem}.profile.json")


def _write_baseline(path: Path, analysis: AnalyzeReport | None, profile: ProfileReport | None) -> None:
    """Today's results as the next run's baseline: the analysis in FILE and the profile beside it
    (`FILE.profile.json`), or the profile alone in FILE when there is no analysis."""
    from slugprof.model.saved import write_report

    written: list[tuple[Path, AnalyzeReport | ProfileReport]] = []
    if analysis is not None:
        written.append((path, analysis))
        if profile is not None:
            written.append((profile_beside(path), profile))
    elif profile is not None:
        written.append((path, profile))
    for target, report in written:
        try:
            target.write_text(write_report(report), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--write-baseline {target}: cannot write it ({error.strerror})") from error
        print(f"wrote the baseline {target}", file=sys.stderr)


def _baseline(paths: list[str]) -> tuple[AnalyzeReport | None, ProfileReport | None] | None:
    """The baseline's reports, with a profile kept beside an analysis (as --write-baseline writes it);
    None when none was given, or the files given do not exist yet (the first run of a pipeline that
    keeps its last results): "no baseline", never a growth from zero."""
    present = [path for path in paths if Path(path).exists()]
    for path in paths:
        if path not in present:
            print(f"slugprof check: no baseline at {path}: nothing to compare with", file=sys.stderr)
    if len(present) == 1 and profile_beside(Path(present[0])).is_file():
        present.append(str(profile_beside(Path(present[0]))))
    return _saved(present) if present else None


def _say_if_another_app(
    baseline: tuple[AnalyzeReport | None, ProfileReport | None],
    today: tuple[AnalyzeReport | None, ProfileReport | None],
) -> None:
    """A baseline of another app compares two apps: said, as the comparison cannot tell."""
    from slugprof.render.common import app_name

    names = [app_name(*reports) for reports in (baseline, today)]
    if all(names) and names[0] != names[1]:
        print(
            f"slugprof check: note: the baseline is of the app {names[0]!r} and these results of "
            f"{names[1]!r}: the comparison is between two apps",
            file=sys.stderr,
        )


def _at_ref(
    args: argparse.Namespace, root: Path, settings: Settings
) -> tuple[AnalyzeReport | None, ProfileReport | None]:
    """The app as committed at --baseline-ref, analyzed the same way (in a folder of its own)."""
    import tempfile

    from slugprof.analysis import analyze
    from slugprof.sources.gitref import app_at_ref

    with tempfile.TemporaryDirectory(prefix="slugprof-baseline-") as scratch:
        folder = app_at_ref(root.resolve(), args.baseline_ref, Path(scratch))
        options = analyze_options(args, folder, settings)
        with progress_display(quiet=args.quiet) as progress:
            return analyze(options, os.environ, progress), None


def _saved(paths: list[str]) -> tuple[AnalyzeReport | None, ProfileReport | None]:
    from slugprof.cli.report import one_of_each
    from slugprof.model.saved import load_report

    return one_of_each([load_report(Path(path)) for path in paths], paths)


def _measured(
    args: argparse.Namespace, root: Path, settings: Settings
) -> tuple[AnalyzeReport, ProfileReport | None]:
    from slugprof.analysis import analyze

    options = analyze_options(args, root, settings)
    with progress_display(quiet=args.quiet) as progress:
        analysis = analyze(options, os.environ, progress)
        profile = _profiled(args, root, settings, progress) if args.profile else None
    return analysis, profile


def _profiled(args: argparse.Namespace, root: Path, settings: Settings, progress: Progress) -> ProfileReport:
    from slugprof.cli.analyze import ignored_ids
    from slugprof.profiling import ProfileOptions, profile

    options = ProfileOptions(
        app_root=root,
        dyno=settings.dyno,
        environment=args.env,
        memray=False,  # the memory figures come from the sampler's run; memray's would only add time
        settings=settings,
        ignore=ignored_ids(args.ignore),
    )
    return profile(options, os.environ, progress)
