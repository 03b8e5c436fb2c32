"""Benchmark the wall time of a whole `slugprof profile sample_apps/bloated`, stage by stage.

Run by hand (not in CI):  python benchmarks/bench_profile_wall.py [--runs 3] [--requests 20]

The run is the one `slugprof profile` makes: the slug's copy, the sampler's run and the memray run,
each sending the requests. The sample needs its .venv; when it is missing it is made as
reports/generate.sh makes it: Python 3.13 (`PYTHON313` names the interpreter, else `python3.13` on
PATH), the app's requirements and memray. Target: under 15 s for the whole profile.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

from slugprof.profiling import ProfileOptions, profile

APP = Path(__file__).resolve().parent.parent / "sample_apps" / "bloated"
TARGET_SECONDS = 15.0


class StageClock:
    """A Progress that notes when each stage starts, to tell how long each one took."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.stages: list[tuple[str, float]] = []

    def stage(self, description: str, total: int | None = None) -> None:
        self.stages.append((description, time.perf_counter()))

    def advance(self, amount: int = 1) -> None:
        return None

    def lines(self, ended: float) -> list[str]:
        lines = []
        starts = [("finding the app's environment, memray and config vars", self.began), *self.stages]
        starts.append(("", ended))
        for (description, start), (_, end) in itertools.pairwise(starts):
            lines.append(f"  {end - start:6.2f} s  {description[:90]}")
        return lines


def app_interpreter() -> Path:
    """The sample's .venv interpreter, made as reports/generate.sh makes it when missing."""
    python = APP / ".venv" / "bin" / "python"
    if python.exists():
        return python
    maker = os.environ.get("PYTHON313", "python3.13")
    print(f"making {APP.name}/.venv with {maker} (its requirements and memray)")
    subprocess.run([maker, "-m", "venv", str(APP / ".venv")], check=True)
    requirements = str(APP / "requirements.txt")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", requirements, "memray"], check=True)
    return python


def one_run(python: Path, requests: int) -> float:
    clock = StageClock()
    options = ProfileOptions(app_root=APP, environment=str(python), requests=requests)
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WEB_CONCURRENCY")}
    report = profile(options, environ, clock)
    ended = time.perf_counter()
    seconds = ended - clock.began
    print(f"profile: {seconds:.2f} s (memray: {report.memray.mode.value}; target under {TARGET_SECONDS:g} s)")
    print("\n".join(clock.lines(ended)))
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    arguments = parser.parse_args()
    python = app_interpreter()
    times = [one_run(python, arguments.requests) for _ in range(arguments.runs)]
    best, worst = min(times), max(times)
    verdict = "PASS" if worst < TARGET_SECONDS else "FAIL"
    print(f"wall time over {len(times)} runs: best {best:.2f} s, worst {worst:.2f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
