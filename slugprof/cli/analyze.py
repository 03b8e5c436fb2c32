"""`slugprof analyze [APP]`: what will be in the slug, and its compressed size against the limit."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from slugprof.cli.output import FORMATS, emit, format_from_extension, progress_display, render
from slugprof.errors import EXIT_OK, UsageError
from slugprof.heroku import (
    ARCHES,
    DEFAULT_ARCH,
    DEFAULT_GENERATION,
    DEFAULT_STACK,
    FIR_ARCH,
    GENERATIONS,
    SLUG_BUDGET_BYTES,
    SOFT_LIMIT_BYTES,
    STACKS,
)
from slugprof.units import format_bytes

if TYPE_CHECKING:
    from slugprof.analysis import AnalyzeOptions
    from slugprof.config import Settings


class AnalyzeCommand:
    NAME = "analyze"
    HELP = "what will be in the slug, and its compressed size against the limit"
    DESCRIPTION = """\
Measure what Heroku will put in the slug of the app in APP (default: the current folder):
the app's files after .slugignore, the Python runtime, the buildpack's tools and every
installed dependency with its bytecode, compressed as Heroku compresses the slug
(gzip -6 of a tar), against the limit.

Dependencies are measured from an installed environment: --env PATH, else a .venv, venv or
env folder in the app, else $VIRTUAL_ENV. With none (or with --resolve) they are resolved for
the dyno (--stack, --arch, the app's Python version) from requirements.txt, uv.lock,
poetry.lock or Pipfile.lock, and sized from the wheels' contents without installing them.

The report starts with the build verdict: every reason Heroku's Python buildpack would refuse
the build, or warn, decided from what git will push (the committed files after .slugignore).
`slugprof rules` lists the rules; `--ignore ID` or `ignore = ["ID"]` silences one.

Exits 0 when it measured, whatever the size or the verdict (use `slugprof check` to gate CI),
2 for bad input, 3 when it failed.

settings ([tool.slugprof] in the app's pyproject.toml, or SLUGPROF_<NAME> variables):
  slug-limit, soft-limit, python-runtime-url (where the runtime is downloaded to be measured),
  python-runtime-size, python-runtime-compressed-size (when it cannot be),
  pip-size, setuptools-size, pipenv-size (and their -compressed-size), default-python,
  ignore (rule ids)
"""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("app", nargs="?", default=".", help="the app's folder (default: .)")
        add_measure_options(parser)
        parser.add_argument(
            "--format", choices=FORMATS, help="output format (default: terminal, or from -o's extension)"
        )
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="write the report to FILE (.json, .txt, .md or .html)"
        )
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="no progress bar; the terminal report shows only the verdicts and the errors",
        )

    def run(self, args: argparse.Namespace) -> int:
        # The pipeline loads here, not when the parser is built, so that `--help` imports nothing heavy.
        from slugprof.analysis import analyze

        output_format = args.format or format_from_extension(args.output) or "terminal"
        options = analyze_options(args, Path(args.app))
        with progress_display(quiet=args.quiet) as progress:
            report = analyze(options, os.environ, progress)
        emit(
            args.output,
            lambda to_terminal: render(report, output_format, to_terminal=to_terminal, brief=args.quiet),
        )
        return EXIT_OK


def analyze_options(
    args: argparse.Namespace, app_root: Path, settings: Settings | None = None
) -> AnalyzeOptions:
    """The analysis the measurement options ask for; `settings` when the caller has loaded them."""
    from slugprof.analysis import AnalyzeOptions
    from slugprof.config import cache_root as default_cache_dir

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    return AnalyzeOptions(
        app_root=app_root,
        settings=settings if settings is not None else measure_settings(args, app_root),
        environment=args.env,
        exact=args.exact,
        cache_dir=None if args.no_cache else default_cache_dir(),
        workers=args.jobs,
        resolve=args.resolve,
        offline=args.offline,
        stack=args.stack,
        arch=arch_of(args),
        build_sdists=args.build_sdists,
        ignore=ignored_ids(args.ignore),
        generation=args.generation or DEFAULT_GENERATION,
    )


def arch_of(args: argparse.Namespace) -> str:
    """The dyno's CPU: --arch, else Cedar's amd64 or Fir's arm64; amd64 asked of Fir is a usage error."""
    if (args.generation or DEFAULT_GENERATION) != "fir":
        return str(args.arch or DEFAULT_ARCH)
    if args.arch not in (None, FIR_ARCH):
        raise UsageError(
            f"--arch {args.arch} with --generation fir: Fir dynos run on {FIR_ARCH} (Graviton); "
            "leave --arch out"
        )
    return FIR_ARCH


def measure_settings(args: argparse.Namespace, app_root: Path, **more: object) -> Settings:
    """The app's settings with the flags over them (`more`: a command's own flags)."""
    from slugprof.config import load_settings

    overrides = {"slug_limit": args.slug_limit, "soft_limit": args.soft_limit, **more}
    return load_settings(app_root, os.environ, overrides)


def add_measure_options(parser: argparse.ArgumentParser) -> None:
    """How `analyze` measures: the environment or the dyno's resolution, the limits, the compressor, the
    rules to silence. `check` measures the same way."""
    parser.add_argument(
        "--env",
        metavar="PATH",
        help="the app's virtualenv, or a Python executable, to measure dependencies from",
    )
    parser.add_argument(
        "--resolve",
        action="store_true",
        help="resolve dependencies for the dyno even when a local environment exists",
    )
    parser.add_argument(
        "--offline", action="store_true", help="no network: use only what is cached, say what is not"
    )
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        choices=STACKS,
        help=f"the dyno's stack (default {DEFAULT_STACK})",
    )
    parser.add_argument(
        "--arch",
        choices=ARCHES,
        help=f"the dyno's CPU (default {DEFAULT_ARCH}; {FIR_ARCH}, the only one, with --generation fir)",
    )
    parser.add_argument(
        "--build-sdists",
        action="store_true",
        help="build packages that only ship a source distribution, to measure them (slow)",
    )
    parser.add_argument(
        "--slug-limit",
        metavar="SIZE",
        help=f"compressed slug limit, e.g. '500 MB', '1 GiB' (default {format_bytes(SLUG_BUDGET_BYTES)})",
    )
    parser.add_argument(
        "--soft-limit",
        metavar="SIZE",
        help=f"size that warns about boot time (default {format_bytes(SOFT_LIMIT_BYTES)})",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="stream a real tar through gzip -6 for the true compressed size (slower)",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the compression cache")
    parser.add_argument(
        "--jobs", type=int, metavar="N", help="processes to compress with (default: all cores)"
    )
    add_generation_option(parser)
    add_ignore_option(parser)


def add_generation_option(parser: argparse.ArgumentParser) -> None:
    """`--generation cedar|fir`: which of Heroku's platform generations the app runs on."""
    parser.add_argument(
        "--generation",
        choices=GENERATIONS,
        help=f"Heroku's platform generation: cedar (the slug, classic buildpacks) or fir (an OCI image built "
        f"with Cloud Native Buildpacks, arm64 dynos) (default {DEFAULT_GENERATION})",
    )


def add_ignore_option(parser: argparse.ArgumentParser) -> None:
    """`--ignore ID`, as every command that runs the rules takes it."""
    parser.add_argument(
        "--ignore",
        metavar="ID",
        action="append",
        default=[],
        help="silence a rule's findings (repeat, or give ids separated by commas)",
    )


def ignored_ids(given: list[str]) -> tuple[str, ...]:
    """The rule ids of `--ignore` flags, each a list separated by commas."""
    return tuple(word.strip().upper() for each in given for word in each.split(",") if word.strip())
