"""`slugprof profile [APP]`: start a Procfile process as a dyno does, and measure its memory."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from slugprof.cli.analyze import add_generation_option, add_ignore_option, ignored_ids
from slugprof.cli.output import FORMATS, emit, format_from_extension, progress_display, render
from slugprof.errors import EXIT_OK, UsageError
from slugprof.heroku import (
    DEFAULT_DYNO,
    DEFAULT_FIR_DYNO,
    DYNO_PLANS,
    R10_BOOT_TIMEOUT_SECONDS,
    SHUTDOWN_TIMEOUT_SECONDS,
    WEB_PROCESS,
)

if TYPE_CHECKING:
    from slugprof.model import Route
    from slugprof.sources.config_vars import ConfigSource


class ProfileCommand:
    NAME = "profile"
    HELP = "start the Procfile's web process (or --process NAME) as a dyno does and measure its memory"
    DESCRIPTION = f"""\
Start the app's web process from its Procfile the way a dyno starts it (through a shell, in the
app folder, with $PORT, DYNO=web.1, WEB_CONCURRENCY as the buildpack sets it for --dyno, the
buildpack's .profile.d variables and the config vars in the app's .env), send it requests, stop it
as Heroku does (SIGTERM, {SHUTDOWN_TIMEOUT_SECONDS:.0f} s, then SIGKILL), and report:

  the dyno's peak memory as its cgroup counts it for R14 (anonymous memory and swap, each page
  counted once, over every process: Pss_Anon + SwapPss from /proc; summed PSS, which adds the
  file-backed pages, and summed RSS beside it), each process's RSS, PSS, anon, USS and threads,
  boot and shutdown times, what one more worker costs, and for every dyno size whether the app
  fits (R14 above the quota, R15 at the restart threshold) and how many workers would.

With memray (the default where it runs), a second run under `memray run --follow-fork` adds
each process's heap peak and the memory each import costs. Memory figures always come from the
run without memray, which would otherwise add its own footprint.

dyno sizes: {", ".join(plan.name for plan in DYNO_PLANS)}

--generation fir (or a Fir --dyno such as dyno-2c-1gb) runs the process as a Fir dyno runs it: no
WEB_CONCURRENCY from the platform (gunicorn then starts 1 worker), a restart at 100% of the
quota, and the dyno fit over Fir's sizes. Fir's "gb" is read as GiB unless the fir-memory-unit
setting says GB.

The findings come from the rules: the MEM family reads the run (the dyno fit, the imports each
worker pays, growth, threads, boot and shutdown), and the rules that read the app's files run too.
`slugprof rules` lists them; `--ignore ID` or `ignore = ["ID"]` in [tool.slugprof] silences one.

--process NAME profiles another Procfile process (a Celery worker, a clock). Heroku sends HTTP only
to web, so it gets no requests: it is taken as booted when its process tree has settled (no process
came or went and its memory held within 2% for 2 s), measured for --duration seconds more, and
stopped. A Celery worker's pool processes are its workers: without --concurrency the dyno runs one
per core it reports (8 on Cedar's shared dynos), and the dyno fit counts that many.

Exits 0 when it measured, 2 for bad input (no Procfile, no such process type), 3 when the app
failed to boot or crashed (its own error is shown).
"""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("app", nargs="?", default=".", help="the app's folder (default: .)")
        parser.add_argument(
            "--process",
            default=WEB_PROCESS,
            metavar="NAME",
            help="the Procfile process type to run (default web; e.g. worker, clock)",
        )
        parser.add_argument(
            "--dyno",
            metavar="SIZE",
            help=f"dyno size (default {DEFAULT_DYNO}; {DEFAULT_FIR_DYNO} with --generation fir)",
        )
        add_generation_option(parser)
        parser.add_argument("--env", metavar="PATH", help="the app's virtualenv (its bin goes first on PATH)")
        config = parser.add_argument_group(
            "config vars",
            "What the process runs with: the app's .env by default (as `heroku local` reads it; a dyno reads "
            "`heroku config`, never .env), then --heroku-config, then --set. The report names each variable "
            "applied and where it came from, never its value.",
        )
        files = config.add_mutually_exclusive_group()
        files.add_argument(
            "--env-file", metavar="FILE", help="read the config vars from FILE instead of .env"
        )
        files.add_argument("--no-env-file", action="store_true", help="read no .env")
        config.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a config var, over the others; repeatable (e.g. --set DEBUG=false)",
        )
        config.add_argument(
            "--heroku-config",
            metavar="APP",
            help="the app's real config vars, through the Heroku CLI (installed, logged in), not .env",
        )
        parser.add_argument(
            "--requests",
            type=int,
            metavar="N",
            help="requests to send the web process (default 20; 1000 or more also measures the memory "
            "each thousand requests add)",
        )
        parser.add_argument(
            "--url",
            action="append",
            metavar="PATH",
            help="a path to GET; repeatable (default: the GET routes without parameters of the app's "
            "OpenAPI document at /openapi.json when it has one, else /)",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            metavar="N",
            help="clients at a time (default: two per worker, at least 4, to keep every worker busy)",
        )
        parser.add_argument(
            "--urls",
            metavar="FILE",
            help="the requests to send, one per line: PATH, METHOD PATH, or METHOD PATH JSON-BODY",
        )
        parser.add_argument(
            "--duration",
            type=float,
            default=0.0,
            metavar="S",
            help="keep the app up S seconds for your own load",
        )
        parser.add_argument(
            "--headroom",
            type=float,
            default=10.0,
            metavar="PCT",
            help="memory kept free when fitting (default 10)",
        )
        parser.add_argument(
            "--boot-timeout",
            type=float,
            default=R10_BOOT_TIMEOUT_SECONDS,
            metavar="S",
            help=f"give up when $PORT is not bound after S seconds (default {R10_BOOT_TIMEOUT_SECONDS:.0f}, "
            "Heroku's R10); for a process without a port, when its process tree has not settled",
        )
        parser.add_argument("--no-memray", action="store_true", help="sample only: no memray run")
        parser.add_argument(
            "--try",
            dest="variants",
            action="append",
            default=[],
            metavar="VARIANT",
            help="run the app again with one change and report the measured difference; repeatable: "
            "preload, workers=N, threads=N, env:NAME=VALUE (e.g. env:MALLOC_ARENA_MAX=2)",
        )
        parser.add_argument("--port", type=int, help="port for the app (default: a free one)")
        parser.add_argument("--format", choices=FORMATS, help="output format")
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="write the report to FILE (.json, .txt, .md or .html)"
        )
        add_ignore_option(parser)
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="no progress display; the terminal report shows only the memory verdict and the errors",
        )

    def run(self, args: argparse.Namespace) -> int:
        # The pipeline loads here, not when the parser is built, so that `--help` imports nothing heavy.
        from slugprof.config import load_settings
        from slugprof.processes import AppFailure
        from slugprof.profiling import ProfileOptions, profile
        from slugprof.sources.dyno import default_dyno, generation_of
        from slugprof.sources.variants import parse_variant

        if args.requests is not None and args.requests < 0:
            raise UsageError("--requests must be 0 or more")
        _check_traffic_options(args)
        if args.concurrency is not None and not 1 <= args.concurrency <= 256:
            raise UsageError("--concurrency is a number of clients from 1 to 256")
        if args.duration < 0:
            raise UsageError("--duration must be 0 or more")
        if args.boot_timeout <= 0:
            raise UsageError("--boot-timeout must be more than 0 seconds")
        if not 0 <= args.headroom < 100:
            raise UsageError("--headroom is a percentage from 0 to 99")
        routes, routes_from = _routes(args)
        output_format = args.format or format_from_extension(args.output) or "terminal"
        app_root = Path(args.app)
        generation = generation_of(args.dyno, args.generation)
        options = ProfileOptions(
            app_root=app_root,
            process_type=args.process,
            dyno=args.dyno or default_dyno(generation),
            environment=args.env,
            memray=not args.no_memray,
            requests=_requests(args),
            routes=routes,
            routes_from=routes_from,
            concurrency=args.concurrency,
            duration=args.duration,
            headroom=args.headroom / 100,
            port=args.port,
            boot_timeout=args.boot_timeout,
            settings=load_settings(app_root, os.environ),
            ignore=ignored_ids(args.ignore),
            config=config_source(args),
            variants=tuple(parse_variant(text) for text in args.variants),
        )
        try:
            with progress_display(quiet=args.quiet) as progress:
                report = profile(options, os.environ, progress)
        except AppFailure as failure:
            if args.verbose and failure.output_tail:
                print(failure.output_tail, file=sys.stderr)
            raise
        emit(
            args.output,
            lambda to_terminal: render(report, output_format, to_terminal=to_terminal, brief=args.quiet),
        )
        return EXIT_OK


DEFAULT_REQUESTS = 20


def _check_traffic_options(args: argparse.Namespace) -> None:
    """Requests go to the web process only: Heroku routes HTTP to no other process type."""
    given = [
        flag
        for flag, value in (
            ("--requests", args.requests),
            ("--url", args.url),
            ("--urls", args.urls),
            ("--concurrency", args.concurrency),
        )
        if value
    ]
    if args.process != WEB_PROCESS and given:
        raise UsageError(
            f"{', '.join(given)}: only the web process receives HTTP requests on Heroku, and "
            f"{args.process!r} is sent none; leave {'them' if len(given) > 1 else 'it'} out, or use "
            "--duration S to keep it running longer"
        )


def _requests(args: argparse.Namespace) -> int:
    if args.process != WEB_PROCESS:
        return 0
    return DEFAULT_REQUESTS if args.requests is None else int(args.requests)


def config_source(args: argparse.Namespace) -> ConfigSource:
    """Where the config vars come from, as the flags say."""
    from slugprof.sources.config_vars import ConfigSource, parse_set

    return ConfigSource(
        env_file=Path(args.env_file) if args.env_file else None,
        read_env_file=not args.no_env_file,
        sets=tuple(parse_set(text) for text in args.set),
        heroku_app=args.heroku_config,
    )


def _routes(args: argparse.Namespace) -> tuple[tuple[Route, ...] | None, str]:
    """The requests --url and --urls name, and where they came from; None when they name none."""
    from slugprof.sources.routes import read_routes, route_of_path

    routes = [route_of_path(path) for path in args.url or ()]
    origins = ["--url"] if routes else []
    if args.urls:
        routes.extend(read_routes(Path(args.urls)))
        origins.append(f"--urls {args.urls}")
    return (tuple(routes), " and ".join(origins)) if routes else (None, "")
