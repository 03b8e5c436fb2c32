"""`slugprof rules [ID]`: the rules and what each one means."""

from __future__ import annotations

import argparse
import textwrap

from slugprof.errors import EXIT_OK


class RulesCommand:
    NAME = "rules"
    HELP = "list the rules findings come from, or explain one"
    DESCRIPTION = """\
Without ID: every rule, one line each (id, severity, name, what it detects).
With ID (like BUILD121, or its name): what it detects, why Heroku cares, the fix and the source.

Silence a rule with --ignore ID on analyze, or `ignore = ["ID"]` in [tool.slugprof] of the
app's pyproject.toml; the report counts what was silenced.
"""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("id", nargs="?", metavar="ID", help="a rule id or name")

    def run(self, args: argparse.Namespace) -> int:
        from slugprof.rules import find_rule, registered
        from slugprof.rules.registry import Needs

        runs_with = {
            Needs.FILES: "with `analyze` and `profile` (it reads the committed files)",
            Needs.ANALYSIS: "with `analyze`",
            Needs.PROFILE: "with `profile`",
        }
        from slugprof.rules.registry import FAMILIES

        if args.id:
            rule = find_rule(args.id)
            width = 88
            blocks = [
                f"{rule.id}  {rule.name}  ({rule.severity.value})",
                textwrap.fill(rule.summary, width),
                textwrap.fill(f"Why: {rule.why}", width, subsequent_indent="     "),
                textwrap.fill(f"Fix: {rule.fix}", width, subsequent_indent="     "),
                textwrap.fill(f"Source: {rule.source}", width, subsequent_indent="        "),
                f"Runs: {runs_with[rule.needs]}",
            ]
            print("\n\n".join(blocks))
            return EXIT_OK
        family = ""
        for rule in registered():
            if rule.family != family:
                family = rule.family
                print(f"{family}: {FAMILIES[family]}")
            print(f"  {rule.id}  {rule.severity.value:<7}  {rule.name:<34}  {rule.summary}")
        return EXIT_OK
