"""Benchmark the compressed-size estimate against the real `tar | gzip -6`, on ~500 MB of real packages.

Run by hand (not in CI):  python benchmarks/bench_analyze.py [--tree DIR] [--repeat N]

The first run creates a virtualenv under DIR and pip-installs a heavy, real set of packages into it
(pip compiles .pyc, as the buildpack does) until site-packages holds ~500 MB by `du`; later runs reuse it.
Then, on that site-packages folder, it times:
  - the real thing: `tar -cf - -C DIR . | gzip -6 | wc -c` (gzip uses one core);
  - estimate_compressed, cold (an empty cache in a temporary folder) and warm (the same call again);
  - estimate_compressed(exact=True).
Last, the rules stage over the tree taken as an app's committed files (the most a rule could read).
It prints the figures and PASS/FAIL against the targets, and always exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.config import cache_root as default_cache_dir
from slugprof.measure.compress import estimate_compressed
from slugprof.model import CompressionEstimate, TarGroup, TarMember
from slugprof.rules import RuleInputs, run_rules
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.buildfiles import BuildFiles

PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "django",
    "pillow",
    "sqlalchemy",
    "botocore",
)
MORE_PACKAGES = ("boto3", "sympy", "networkx", "statsmodels", "pyarrow")  # added one by one if short
TARGET_DU_BYTES = 500 * 1024 * 1024
MARKER = "bench-tree-complete"

TARGET_ERROR = 0.03  # |estimate - real| / real
TARGET_TIME_RATIO = 0.15  # cold estimate time / real tar | gzip time
TARGET_WARM_RATIO = 0.05  # "near-instant": warm estimate time / real time
TARGET_RULES_SECONDS = 0.1  # what the rules stage may add to analyze


def du_bytes(folder: Path) -> int:
    """Disk usage as `du` counts it: allocated blocks, each inode once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(folder):
        for name in [*files, "."]:
            status = os.lstat(os.path.join(root, name))
            if (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                total += status.st_blocks * 512
    return total


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages folder in {venv}")
    return found[0]


def pip_install(venv: Path, *packages: str) -> None:
    print(f"pip install {' '.join(packages)} ...", flush=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *packages], check=True, env=env
    )


def build_tree(tree: Path) -> Path:
    """The site-packages folder of a virtualenv holding ~500 MB of real installed packages."""
    venv = tree / "venv"
    if (tree / MARKER).is_file():
        return site_packages(venv)
    tree.mkdir(parents=True, exist_ok=True)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_install(venv, *PACKAGES)
    folder = site_packages(venv)
    for extra in MORE_PACKAGES:
        if du_bytes(folder) >= TARGET_DU_BYTES:
            break
        pip_install(venv, extra)
    (tree / MARKER).write_text(f"{du_bytes(folder)}\n")
    return folder


def members_of(folder: Path) -> list[TarMember]:
    """Every file of site-packages, attributed to the distribution that owns it (others: "app")."""
    owner: dict[str, TarGroup] = {}
    for distribution in importlib.metadata.distributions(path=[str(folder)]):
        name = distribution.metadata["Name"].lower()
        for owned in distribution.files or []:
            owner[os.path.normpath(folder / str(owned))] = TarGroup.dependency(name)
    members = []
    for root, folders, files in os.walk(folder):
        folders.sort()
        for file in sorted(files):
            path = os.path.join(root, file)
            relative = os.path.relpath(path, folder)
            group = owner.get(os.path.normpath(path), TarGroup.app())
            if os.path.islink(path):
                target = os.readlink(path)
                members.append(TarMember(relative, group, len(target), path, "symlink", link_target=target))
            else:
                members.append(TarMember(relative, group, os.path.getsize(path), path))
    return members


def real_tar_gzip(folder: Path) -> tuple[int, float]:
    """(bytes, seconds) of `tar -cf - -C folder . | gzip -6 | wc -c`."""
    command = f"set -o pipefail; tar -cf - -C '{folder}' . | gzip -6 | wc -c"
    start = time.perf_counter()
    completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    return int(completed.stdout.strip()), time.perf_counter() - start


def timed(
    members: list[TarMember], *, exact: bool = False, cache_dir: Path | None = None
) -> tuple[CompressionEstimate, float]:
    start = time.perf_counter()
    estimate = estimate_compressed(members, exact=exact, cache_dir=cache_dir)
    return estimate, time.perf_counter() - start


def time_whole_analyze(venv: Path) -> tuple[float, float]:
    """Seconds of `slugprof analyze` as a user runs it, cold (empty cache) and warm (same cache)."""
    python = str(venv / "bin" / "python")
    frozen = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze", "--exclude", "pip", "--exclude", "setuptools"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        (app / "requirements.txt").write_text(frozen)
        (app / "Procfile").write_text("web: gunicorn app:app\n")
        (app / "app.py").write_text("app = None\n")
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "cache")}
        command = [sys.executable, "-m", "slugprof", "analyze", str(app), "--env", str(venv), "-q"]
        for _ in ("cold", "warm"):
            start = time.perf_counter()
            subprocess.run([*command, "--format", "json"], check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
    return times[0], times[1]


def time_rules(folder: Path) -> tuple[float, int, int]:
    """(seconds, findings, files) of the rules stage over `folder` taken as an app's committed files: the
    most files a rule could have to look at. Median of five runs."""
    with tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        (app / "requirements.txt").write_text("flask\n")
        options = AnalyzeOptions(
            app_root=app, settings=Settings(), resolve=True, offline=True, cache_dir=Path(scratch) / "cache"
        )
        report = analyze(options, {})
    inventory = collect_app_files(folder)
    # The report's app is the tree too: the rules that read app files (.slugignore candidates, secrets,
    # SQLite) then see every one of them.
    report = dataclasses.replace(report, app=inventory)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        findings, _, _ = run_rules(RuleInputs(files=BuildFiles.of(folder, inventory), analysis=report))
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(findings), len(inventory.files)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", type=Path, default=default_cache_dir() / "bench-tree")
    parser.add_argument("--repeat", type=int, default=1, help="time the sampled estimate N times (median)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact mode (as slow as gzip)")
    arguments = parser.parse_args()

    folder = build_tree(arguments.tree)
    start = time.perf_counter()
    members = members_of(folder)
    listing = time.perf_counter() - start
    files = sum(1 for m in members if m.kind == "file")
    print(f"tree: {folder}")
    print(f"  {du_bytes(folder) / 1e6:.0f} MB by du, {files} files, {len({m.group for m in members})} groups")
    print(f"  (listing and attributing the files: {listing:.2f} s, not counted below)")

    true_size, real_time = real_tar_gzip(folder)  # also warms the page cache for what follows
    print(f"real  tar | gzip -6: {true_size:>13,} bytes in {real_time:6.2f} s")

    colds, warms = [], []
    for _ in range(arguments.repeat):
        with tempfile.TemporaryDirectory() as cache:
            cold, cold_time = timed(members, cache_dir=Path(cache))
            warm, warm_time = timed(members, cache_dir=Path(cache))
        colds.append(cold_time)
        warms.append(warm_time)
    cold_time, warm_time = statistics.median(colds), statistics.median(warms)
    error = cold.compressed_bytes / true_size - 1
    within = abs(cold.compressed_bytes - true_size) <= cold.error_bytes
    ratio, warm_ratio = cold_time / real_time, warm_time / real_time
    print(
        f"estimate (sampled):  {cold.compressed_bytes:>13,} bytes ± {cold.error_bytes:,}"
        f" ({cold.error_bytes / cold.compressed_bytes:.2%}),"
        f" sampled {cold.sampled_bytes / cold.tar_bytes:.1%} of {cold.tar_bytes:,} tar bytes"
    )
    print(f"  error vs real {error:+.2%}: {verdict(abs(error) <= TARGET_ERROR)} (target ±{TARGET_ERROR:.0%})")
    print(f"  real size within the reported bound: {verdict(within)}")
    print(
        f"  cold {cold_time:.2f} s = {ratio:.3f} x real:"
        f" {verdict(ratio <= TARGET_TIME_RATIO)} (<= {TARGET_TIME_RATIO})"
    )
    print(
        f"  warm {warm_time:.2f} s = {warm_ratio:.3f} x real: {verdict(warm_ratio <= TARGET_WARM_RATIO)}"
        f" (<= {TARGET_WARM_RATIO}); {warm.cached_files}/{files} files cached;"
        f" same figures: {verdict(warm.compressed_bytes == cold.compressed_bytes)}"
    )
    if arguments.repeat > 1:
        print(f"  cold runs (s): {' '.join(f'{t:.2f}' for t in colds)}")
        print(f"  warm runs (s): {' '.join(f'{t:.2f}' for t in warms)}")

    analyze_cold, analyze_warm = time_whole_analyze(folder.parents[2])
    print(
        f"slugprof analyze (whole command, a new process, on an app whose venv is this tree):"
        f" cold {analyze_cold:.2f} s = {analyze_cold / real_time:.3f} x real,"
        f" warm {analyze_warm:.2f} s = {analyze_warm / real_time:.3f} x real"
    )

    rules_time, findings, app_files = time_rules(folder)
    print(
        f"rules stage over the tree taken as {app_files} committed app files: {rules_time:.3f} s,"
        f" {findings} findings: {verdict(rules_time <= TARGET_RULES_SECONDS)} (<= {TARGET_RULES_SECONDS} s)"
    )

    if not arguments.no_exact:
        exact, exact_time = timed(members, exact=True)
        exact_error = exact.compressed_bytes / true_size - 1
        print(
            f"exact:               {exact.compressed_bytes:>13,} bytes ({exact_error:+.2%})"
            f" in {exact_time:.2f} s = {exact_time / real_time:.2f} x real"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
