"""Command line: one module per subcommand, each with `prepare_parser` and `run`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from slugprof import __version__
from slugprof.cli import analyze, profile
from slugprof.errors import EXIT_USAGE, SlugprofError, UsageError

EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Know your Heroku Python app's slug size and dyno memory before you push.

exit codes:
  0  measured (analyze) / within limits
  1  a limit breached
  2  usage error or bad input you must fix
  3  slugprof or the app failed
  130 interrupted (Ctrl-C)
"""


class Command(Protocol):
    NAME: str
    HELP: str
    DESCRIPTION: str

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: list[Command] = [analyze.AnalyzeCommand(), profile.ProfileCommand()]


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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        subparser = subparsers.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.prepare_parser(subparser)
        subparser.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SlugprofError as error:
            _print_error(str(error))
            return EXIT_USAGE
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


def _print_error(message: str) -> None:
    print(f"slugprof: error: {message}", file=sys.stderr)


def entry_point() -> None:
    sys.exit(main())
