"""Benchmark resolving for the dyno: `torch` for heroku-24 / amd64 / Python 3.13, cold and warm.

Run by hand (not in CI; it uses the real package index):  python benchmarks/bench_resolve.py
    [--requirement torch] [--stack heroku-24] [--arch amd64] [--python 3.13] [--cache-dir DIR]

Cold: an empty cache folder (slugprof's resolution cache and uv's own cache in it). Warm: the same call
again, served from slugprof's resolution cache. Also timed: a resolution cache miss with uv's cache
warm (what a changed requirement costs). Then every package is listed with its version and the size of
its wheel, from HEAD/Range requests on the wheel URL (nothing is downloaded), with the total. The cache
folder's size after the cold run shows that no wheel was downloaded. Prints PASS/FAIL against the
targets (cold <= 60 s, warm <= 3 s) and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slugprof.model import Resolution
from slugprof.net import Client, NetError
from slugprof.resolve import resolve
from slugprof.resolve.cached import CACHE_FORMAT
from slugprof.sources.buildpack import PackageManagerChoice
from slugprof.sources.target import make_target

TARGET_COLD_SECONDS = 60.0
TARGET_WARM_SECONDS = 3.0
CUDA_PREFIXES = ("nvidia-", "cuda-", "triton")


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def timed(app: Path, cache: Path, args: argparse.Namespace) -> tuple[Resolution, float]:
    target = make_target(args.stack, args.arch, args.python, "pip")
    began = time.perf_counter()
    manager = PackageManagerChoice("pip", "requirements.txt", ("requirements.txt",))
    resolution = resolve(
        app, target, manager, environ=dict(os.environ), dotenv={}, cache_dir=cache, offline=False
    )
    return resolution, time.perf_counter() - began


def file_size(client: Client, url: str) -> int | None:
    try:
        return client.size(url)
    except NetError:
        return None


def mb(size: int) -> str:
    return f"{size / 1e6:10.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requirement", default="torch")
    parser.add_argument("--stack", default="heroku-24")
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("--python", default="3.13")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a new temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="slugprof-bench-resolve-") as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        (app / "requirements.txt").write_text(args.requirement + "\n", encoding="utf-8")
        cache = args.cache_dir or Path(scratch) / "cache"
        if cache.exists() and any(cache.iterdir()):
            print(f"warning: {cache} is not empty: the 'cold' run is not cold", file=sys.stderr)

        cold, cold_seconds = timed(app, cache, args)
        cache_bytes = folder_bytes(cache)
        warm, warm_seconds = timed(app, cache, args)
        shutil.rmtree(cache / CACHE_FORMAT)
        uv_warm, uv_warm_seconds = timed(app, cache, args)

        rows = [(p.name, p.version, p.file.url if p.file else None) for p in cold.packages]
        began = time.perf_counter()
        with Client() as client, ThreadPoolExecutor(max_workers=16) as pool:
            sizes = list(pool.map(lambda row: file_size(client, row[2]) if row[2] else None, rows))
        size_seconds = time.perf_counter() - began

    print(f"{args.requirement} for {args.stack}/{args.arch}, Python {args.python}: {cold.resolver}")
    print(f"{'package':<28} {'version':<14} {'wheel size':>13}  file")
    total = cuda_total = 0
    for package, size in zip(cold.packages, sizes, strict=True):
        cuda = package.name.startswith(CUDA_PREFIXES)
        total += size or 0
        cuda_total += (size or 0) if cuda else 0
        shown = mb(size) if size is not None else "   unknown"
        filename = package.file.filename if package.file else "(no file)"
        print(f"{package.name:<28} {package.version:<14} {shown:>13}  {filename}{'  [CUDA]' if cuda else ''}")
    print(
        f"{'total':<43} {mb(total):>13}  ({len(cold.packages)} packages; "
        f"CUDA and triton: {mb(cuda_total).strip()})"
    )
    print()
    print(
        f"cold resolve (empty cache)     {cold_seconds:7.2f} s  target <= {TARGET_COLD_SECONDS:.0f} s  "
        f"{'PASS' if cold_seconds <= TARGET_COLD_SECONDS else 'FAIL'}"
    )
    print(
        f"warm resolve (cached)          {warm_seconds:7.2f} s  target <= {TARGET_WARM_SECONDS:.0f} s  "
        f"{'PASS' if warm_seconds <= TARGET_WARM_SECONDS and warm.from_cache else 'FAIL'}"
    )
    print(
        f"resolve with only uv's cache   {uv_warm_seconds:7.2f} s  (same packages: "
        f"{uv_warm.packages == cold.packages})"
    )
    print(
        f"wheel sizes by HEAD/Range      {size_seconds:7.2f} s  "
        f"({sum(s is not None for s in sizes)} of {len(sizes)} known)"
    )
    print(f"cache folder after cold run    {cache_bytes / 1e6:7.2f} MB (metadata only: no wheel downloaded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
