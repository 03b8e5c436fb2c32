"""`--help` builds only the parsers: no pipeline, no heavy library; its defaults are the core's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slugprof import heroku
from slugprof.cli import build_parser, main
from slugprof.config import Settings
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

# A fresh interpreter: pytest's own has most of these loaded already.
PROBE = """\
import json, sys
from slugprof.cli import build_parser, main
argv = json.loads(sys.argv[1])
if argv is None:
    build_parser()
else:
    try:
        main(argv)
    except SystemExit:
        pass
print(json.dumps(sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)))
"""


@pytest.mark.parametrize(
    "argv",
    [None, ["--help"], ["analyze", "--help"], ["profile", "--help"], ["--version"]],
    ids=["parser", "help", "analyze-help", "profile-help", "version"],
)
def test_help_imports_nothing_heavy(argv: list[str] | None) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded == [], f"--help imported {loaded}"


def test_the_probe_sees_a_heavy_import() -> None:
    # The same probe after a real run that reaches the pipeline: it must report what got loaded.
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["analyze", "/nonexistent-app-folder"]), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "slugprof.analysis" in json.loads(result.stdout.splitlines()[-1])


def test_parser_defaults_are_the_cores() -> None:
    analyze = build_parser().parse_args(["analyze"])
    assert (analyze.stack, analyze.arch) == (heroku.DEFAULT_STACK, heroku.DEFAULT_ARCH)
    assert (analyze.stack, analyze.arch) == ("heroku-24", "amd64")
    profile = build_parser().parse_args(["profile"])
    assert profile.dyno == heroku.DEFAULT_DYNO == "standard-1x"
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
    assert "(default standard-1x)" in profile_help
    assert "(default 60, Heroku's R10)" in profile_help
    assert "(SIGTERM, 30 s, then SIGKILL)" in profile_help
    assert "dyno sizes: " + ", ".join(plan.name for plan in heroku.DYNO_PLANS) in profile_help
