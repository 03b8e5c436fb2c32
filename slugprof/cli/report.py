"""`slugprof report RESULTS.json [MORE.json]`: render saved results again, in any format."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from slugprof.cli.output import FORMATS, emit, format_from_extension, render, render_pair
from slugprof.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from slugprof.model import AnalyzeReport, ProfileReport


class ReportCommand:
    NAME = "report"
    HELP = "render saved results (an analysis, a profile, or both) as an HTML page, Markdown, text or JSON"
    DESCRIPTION = """\
Render the JSON that `analyze` or `profile` saved (`-o results.json`), without measuring again:
an analysis and a profile of the same app together, or either alone. The format comes from
--format, else from -o's extension (.html, .md, .txt, .json), else the terminal.

A report saved before the rules existed gets its findings now, when the app's folder is on
this machine; otherwise it is shown as it was saved.

Exits 0 when it rendered, 2 for a file that is not a slugprof report (or two of one kind).
"""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("results", nargs="+", metavar="RESULTS.json", help="saved analyze/profile JSON")
        parser.add_argument("--format", choices=FORMATS, help="output format (default: terminal, or from -o)")
        parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
        parser.add_argument(
            "--baseline",
            metavar="FILE",
            action="append",
            default=[],
            help="saved results of the same app to compare with: the page shows what changed",
        )

    def run(self, args: argparse.Namespace) -> int:
        from slugprof.model.saved import load_report

        output_format = args.format or format_from_extension(args.output) or "terminal"
        analyze, profile = one_of_each([load_report(Path(path)) for path in args.results], args.results)
        if analyze is not None and analyze.build is None:
            analyze = with_rules_if_possible(analyze)
        if output_format == "json":
            if analyze is not None and profile is not None:
                raise UsageError("--format json writes one report: give one RESULTS.json")
            only = analyze if analyze is not None else profile
            assert only is not None
            emit(args.output, lambda to_terminal: render(only, "json", to_terminal=to_terminal))
            return EXIT_OK
        comparison = None
        if args.baseline:
            from slugprof.compare import compare

            baseline = one_of_each([load_report(Path(path)) for path in args.baseline], args.baseline)
            comparison = compare(baseline, (analyze, profile))
        emit(
            args.output,
            lambda tty: render_pair(analyze, profile, output_format, to_terminal=tty, comparison=comparison),
        )
        return EXIT_OK


def one_of_each(
    reports: list[AnalyzeReport | ProfileReport], paths: list[str]
) -> tuple[AnalyzeReport | None, ProfileReport | None]:
    from slugprof.model import AnalyzeReport

    analyses = [(r, p) for r, p in zip(reports, paths, strict=True) if isinstance(r, AnalyzeReport)]
    profiles = [(r, p) for r, p in zip(reports, paths, strict=True) if not isinstance(r, AnalyzeReport)]
    for kind, found in (("analyze", analyses), ("profile", profiles)):
        if len(found) > 1:
            raise UsageError(
                f"{found[0][1]} and {found[1][1]} are both {kind} reports: give one of each kind"
            )
    analyze = analyses[0][0] if analyses else None
    profile = profiles[0][0] if profiles else None
    if analyze is not None and profile is not None and analyze.app.root != profile.app.root:
        raise UsageError(
            f"{analyses[0][1]} is of {analyze.app.root} but {profiles[0][1]} is of {profile.app.root}: "
            "give the reports of one app"
        )
    return analyze, profile


def with_rules_if_possible(report: AnalyzeReport) -> AnalyzeReport:
    """A report saved before the rules, with their findings when its app folder is here to read."""
    import dataclasses
    import sys

    from slugprof.rules import RuleInputs, run_rules
    from slugprof.sources.appfiles import collect_app_files
    from slugprof.sources.approot import real_path
    from slugprof.sources.buildfiles import BuildFiles

    root = real_path(report.app.root)
    if not root.is_dir():
        print(
            f"note: this report predates the rules, and {report.app.root} is not here to read: "
            "shown without findings",
            file=sys.stderr,
        )
        return report
    files = BuildFiles.of(root, collect_app_files(root))
    findings, build, rules_run = run_rules(RuleInputs(files=files, analysis=report))
    return dataclasses.replace(report, findings=findings, build=build, rules=rules_run)
