"""Command line: one module per subcommand, each with `prepare_parser` and `run`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from slugprof import __version__
from slugprof.cli import analyze, check, profile, report, rules
from slugprof.errors import EXIT_FAILURE, EXIT_USAGE, SlugprofError, UsageError

EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Know your Heroku Python app's slug size and dyno memory before you push.

exit codes:
  0  measured (analyze) / within limits
  1  a limit breached
  2  usage error or bad input you must fix
  3  slugprof or the app failed (an unexpected error is one line: -v adds its traceback)
  130 interrupted (Ctrl-C)
"""

VERBOSE_HELP = "on failure, show more: the traceback of an unexpected error, the app's own output (profile)"


class Command(Protocol):
    NAME: str
    HELP: str
    DESCRIPTION: str

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: list[Command] = [
    analyze.AnalyzeCommand(),
    profile.ProfileCommand(),
    report.ReportCommand(),
    check.CheckCommand(),
    rules.RulesCommand(),
]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors get our one-line format and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="slugprof",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"slugprof {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        subparser = subparsers.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.prepare_parser(subparser)
        # Also after the subcommand; SUPPRESS keeps the subparser from resetting a -v given before it.
        subparser.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
        subparser.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    verbose = False
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SlugprofError as error:
            _print_error(str(error))
            return EXIT_USAGE
        verbose = args.verbose
        if getattr(args, "handler", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        handler: Command = args.handler
        return handler.run(args)
    except SlugprofError as error:
        _print_error(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`slugprof analyze | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as error:
        # A bug, or a case nobody foresaw: one line and exit 3, the traceback only when asked for.
        if verbose:
            import traceback

            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        _print_error(_describe_unexpected(error) + ("" if verbose else " (rerun with -v for the traceback)"))
        return EXIT_FAILURE


def _describe_unexpected(error: Exception) -> str:
    """ "unexpected KeyError: 'name'", on one line whatever the message holds."""
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    kind = type(error).__name__
    return f"unexpected {kind}: {message}" if message else f"unexpected {kind}"


def _print_error(message: str) -> None:
    print(f"slugprof: error: {message}", file=sys.stderr)


def entry_point() -> None:
    sys.exit(main())
