"""Benchmark `slugprof profile`: accuracy on a known allocation, and the cost of measuring.

Run by hand (not in CI):  python benchmarks/bench_profile.py [--workers 3] [--mib 60] [--requests 3000]

1. Accuracy: a gunicorn app whose workers each hold --mib MiB after the fork, against the same app
   without it, both profiled with the sampler: the headline (the anonymous total, Pss_Anon + SwapPss
   summed; summed PSS where the kernel does not say) must move by workers x MiB, within 5%. Summed PSS
   is printed beside it.
2. Overhead: requests per second of the bare app (no sampler), under the sampler (what --no-memray
   measures), and under memray with --follow-fork, from the same run; targets: the sampler within 5%
   of bare, memray reported (aim above 60%).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

from slugprof.measure.memray_availability import memray_status
from slugprof.measure.memray_command import wrap_command
from slugprof.measure.runner import run_process
from slugprof.measure.sampler import TreeSampler
from slugprof.measure.traffic import drive_requests, free_port, wait_until_serving
from slugprof.model import Route
from slugprof.processes import ManagedProcess

MIB = 1024 * 1024
APP = """\
import json

HELD = None


def hold(mib):
    global HELD
    HELD = bytearray(mib * 1024 * 1024)


def app(environ, start_response):
    # Work that allocates, so the server (not the load generator) is what the run measures.
    rows = [{"id": i, "name": "row %d" % i, "tags": ["a", "b"]} for i in range(3000)]
    body = json.dumps(rows[:10]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


def gunicorn(workers: int, config: str = "") -> str:
    python = shlex.quote(sys.executable)
    return f"{python} -m gunicorn -w {workers} {config} -b 127.0.0.1:$PORT --no-control-socket app:app"


def accuracy(folder: Path, workers: int, mib: int) -> None:
    (folder / "app.py").write_text(APP)
    (folder / "conf.py").write_text(f"def post_fork(server, worker):\n    import app\n    app.hold({mib})\n")
    totals, pss = [], []
    for config in ("", "-c conf.py"):
        port = free_port()
        env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PORT": str(port)}
        result = run_process(gunicorn(workers, config), cwd=folder, env=env, port=port, requests=20)
        totals.append(max(sample.headline_bytes for sample in result.samples))
        pss.append(max(sample.total_pss_bytes for sample in result.samples))
    anonymous = all(sample.total_anon_bytes is not None for sample in result.samples)
    moved, expected = totals[1] - totals[0], workers * mib * MIB
    error = moved / expected - 1
    verdict = "PASS" if abs(error) <= 0.05 else "FAIL"
    figure = "the anonymous total" if anonymous else "summed PSS (no Pss_Anon here)"
    print(f"accuracy: {workers} workers x {mib} MiB moved {figure} by {moved / MIB:.1f} MiB")
    print(f"  expected {expected / MIB:.0f} MiB: error {error:+.1%}: {verdict} (target ±5%)")
    print(
        f"  summed PSS moved {(pss[1] - pss[0]) / MIB:.1f} MiB; with the allocation, the headline "
        f"{totals[1] / MIB:.1f} MiB against summed PSS {pss[1] / MIB:.1f} MiB"
    )


def requests_per_second(
    folder: Path, command: str, count: int, *, sample: bool, env_extra: dict[str, str]
) -> float:
    port = free_port()
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PORT": str(port), **env_extra}
    with ManagedProcess(["/bin/sh", "-c", command], cwd=folder, env=env) as process:
        wait_until_serving(port, "/", process, 60)
        time.sleep(1.0)  # let every worker finish booting
        sampler = TreeSampler(process.pid, 0.1) if sample else None
        if sampler:
            sampler.start()
        started = time.perf_counter()
        stats = drive_requests(port, [Route("GET", "/")], count, concurrency=4)
        seconds = time.perf_counter() - started
        if sampler:
            sampler.stop()
        process.terminate_group(10)
    ok = stats.status_codes.get(200, 0)
    return ok / seconds


def overhead(folder: Path, workers: int, count: int) -> None:
    bare_command = gunicorn(workers)
    bare = requests_per_second(folder, bare_command, count, sample=False, env_extra={})
    sampled = requests_per_second(folder, bare_command, count, sample=True, env_extra={})
    print(f"overhead: bare {bare:.0f} req/s; under the sampler {sampled:.0f} req/s = {sampled / bare:.1%}")
    print(f"  sampler: {'PASS' if sampled >= 0.95 * bare else 'FAIL'} (target >= 95% of bare)")
    availability = memray_status(sys.executable)
    if availability.status == "unavailable":
        print(f"  memray: not measured ({availability.reason})")
        return
    with tempfile.TemporaryDirectory() as captures:
        wrapped = wrap_command(
            bare_command, interpreter=sys.executable, output_dir=Path(captures), availability=availability
        )
        traced = requests_per_second(folder, wrapped.command, count, sample=True, env_extra=wrapped.env)
    print(f"  under memray {traced:.0f} req/s = {traced / bare:.1%} of bare (aim above 60%)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--mib", type=int, default=60)
    parser.add_argument("--requests", type=int, default=3000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        accuracy(folder, arguments.workers, arguments.mib)
        overhead(folder, arguments.workers, arguments.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
