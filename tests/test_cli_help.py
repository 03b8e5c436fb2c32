"""`--help` builds only the parsers: no pipeline, no heavy library; its defaults are the core's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slugprof import heroku
from slugprof.cli import build_parser, main
from slugprof.cli.analyze import arch_of
from slugprof.config import Settings
from slugprof.sources.dyno import default_dyno, generation_of
from slugprof.units import format_bytes

# What the pipelines pull in (renderers, sampler, memray, wheel tags, the cache, compression workers,
# the index client) and the pipelines themselves: none of it is needed to print help.
HEAVY = (
    "rich",
    "psutil",
    "memray",
    "packaging",
    "sqlite3",
    "multiprocessing",
    "urllib.request",
    "slugprof.analysis",
    "slugprof.profiling",
    "slugprof.model",
)

# A fresh interpreter: pytest's own has most of these loaded already. It prints how the run ended (the
# code main returned or exited with; None for the parser alone) and which of the modules got loaded.
PROBE = """\
import json, sys
from slugprof.cli import build_parser, main
argv = json.loads(sys.argv[1])
code = None
if argv is None:
    build_parser()
else:
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
loaded = sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)
print(json.dumps({"exit": code, "loaded": loaded}))
"""


def probe(argv: list[str] | None) -> tuple[object, list[str]]:
    """How `main(argv)` ended in a fresh interpreter, and the HEAVY modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer = json.loads(result.stdout.splitlines()[-1])
    return answer["exit"], answer["loaded"]


@pytest.mark.parametrize(
    "argv",
    [None, ["--help"], ["analyze", "--help"], ["profile", "--help"], ["--version"]],
    ids=["parser", "help", "analyze-help", "profile-help", "version"],
)
def test_help_imports_nothing_heavy(argv: list[str] | None) -> None:
    code, loaded = probe(argv)
    assert code == (None if argv is None else 0)  # the help was printed, not a usage error
    assert loaded == [], f"--help imported {loaded}"


def test_the_probe_sees_a_heavy_import() -> None:
    # The same probe after a real run that reaches the pipeline: it must report what got loaded.
    code, loaded = probe(["analyze", "/nonexistent-app-folder"])
    assert code == 2  # the pipeline ran, and found no such folder
    assert "slugprof.analysis" in loaded


def test_parser_defaults_are_the_cores() -> None:
    analyze = build_parser().parse_args(["analyze"])
    assert analyze.arch is None  # the generation's: amd64 on Cedar, arm64 on Fir
    assert (analyze.stack, arch_of(analyze)) == (heroku.DEFAULT_STACK, heroku.DEFAULT_ARCH)
    assert (analyze.stack, arch_of(analyze)) == ("heroku-24", "amd64")
    assert (
        arch_of(build_parser().parse_args(["analyze", "--generation", "fir"])) == heroku.FIR_ARCH == "arm64"
    )
    profile = build_parser().parse_args(["profile"])
    assert profile.dyno is None and profile.generation is None  # the generation's default, below
    assert (
        default_dyno(generation_of(profile.dyno, profile.generation)) == heroku.DEFAULT_DYNO == "standard-1x"
    )
    assert default_dyno(generation_of(None, "fir")) == heroku.DEFAULT_FIR_DYNO == "dyno-1c-0.5gb"
    assert generation_of("dyno-2c-1gb", None) == "fir"
    assert profile.boot_timeout == heroku.R10_BOOT_TIMEOUT_SECONDS == 60.0


def test_help_shows_the_cores_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    analyze_help = " ".join(capsys.readouterr().out.split())
    assert f"(default {format_bytes(Settings().slug_limit)})" in analyze_help
    assert f"(default {format_bytes(Settings().soft_limit)})" in analyze_help
    assert "(default 500 MB)" in analyze_help and "(default 300 MB)" in analyze_help
    assert "{heroku-22,heroku-24,heroku-26}" in analyze_help
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    profile_help = " ".join(capsys.readouterr().out.split())
    assert "(default standard-1x; dyno-1c-0.5gb with --generation fir)" in profile_help
    assert "(default 60, Heroku's R10)" in profile_help
    assert "(SIGTERM, 30 s, then SIGKILL)" in profile_help
    assert "dyno sizes: " + ", ".join(plan.name for plan in heroku.DYNO_PLANS) in profile_help
