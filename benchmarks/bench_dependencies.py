"""Benchmark the sizes of resolved packages against a real install, on the real index.

Run by hand (not in CI; it downloads ~120 MB):  python benchmarks/bench_dependencies.py [--keep DIR]

1. `pip install --target` of the requirements below, for real, from https://pypi.org/simple (`--isolated`:
   no local configuration or mirror), with `--report`: pip compiles the .pyc, as the buildpack does. The
   install goes where the buildpack puts it, `DIR/.heroku/python/lib/python3.X/site-packages`, with its
   scripts moved to `DIR/.heroku/python/bin`, so that `tar` of DIR names files as the slug does.
2. `size_packages` on the wheels pip chose (their URLs and hashes from the report), cold (an empty cache)
   and warm (the same cache again), for this machine's Python on heroku-24 / amd64.
3. The truth: every installed file stat-ed and attributed to its distribution by its RECORD; the
   compressed size of `tar -cf - -C DIR . | gzip -6 | wc -c`; per package, the exact share of each
   distribution in that stream (`estimate_compressed(exact=True)`, zlib on the tar stream in name order).

It prints predicted against real per package and in total, with PASS/FAIL against the issue's 5%, and
always exits 0. `--keep DIR` keeps (and on later runs reuses) the install in DIR.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from slugprof.measure.compress import estimate_compressed
from slugprof.measure.sizing import size_packages
from slugprof.model import GroupKind, ResolvedFile, ResolvedPackage, SizedPackage, Target, TarGroup, TarMember

REQUIREMENTS = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "django",
    "requests",
    "flask",
    # what a Django app usually adds: an API, Postgres, the web server and static files, settings from
    # the environment, a task queue, storage on S3, error reporting
    "djangorestframework",
    "psycopg[binary]",
    "gunicorn",
    "whitenoise",
    "dj-database-url",
    "django-environ",
    "django-cors-headers",
    "django-filter",
    "django-extensions",
    "django-storages",
    "celery",
    "redis",
    "boto3",
    "sentry-sdk",
    "pillow",
)
INDEX_URL = "https://pypi.org/simple"
TARGET_ERROR = 0.05
MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"
PYTHON_HOME = Path(".heroku/python")
SITE = PYTHON_HOME / f"lib/python{MINOR}/site-packages"
MARKER = "bench-dependencies-complete"


@dataclass(frozen=True)
class RealPackage:
    name: str
    installed: int
    files: int
    paths: tuple[Path, ...]


def install(root: Path) -> Path:
    """pip install --target the requirements under root, laid out as in the slug; returns the report."""
    report = root / "report.json"
    if (root / MARKER).is_file():
        return report
    if root.exists():
        shutil.rmtree(root)
    site = root / SITE
    site.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--isolated",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--index-url",
        INDEX_URL,
        "--target",
        str(site),
        "--report",
        str(report),
        "-q",
        *REQUIREMENTS,
    ]
    print(f"pip install --target ... {' '.join(REQUIREMENTS)}", flush=True)
    subprocess.run(command, check=True)
    if (site / "bin").is_dir():
        (site / "bin").rename(root / PYTHON_HOME / "bin")
    (root / MARKER).write_text("done\n")
    return report


def resolved(report: Path) -> list[ResolvedPackage]:
    """The distributions pip installed, as the resolver hands them over: wheel URL and hash."""
    packages = []
    for item in json.loads(report.read_text())["install"]:
        download = item["download_info"]
        url = download["url"]
        hashes = download.get("archive_info", {}).get("hashes", {})
        filename = url.rsplit("/", 1)[-1]
        kind: Literal["wheel", "sdist"] = "wheel" if filename.endswith(".whl") else "sdist"
        file = ResolvedFile(filename=filename, url=url, kind=kind, sha256=hashes.get("sha256"))
        packages.append(
            ResolvedPackage(
                name=canonicalize_name(item["metadata"]["name"]),
                version=item["metadata"]["version"],
                file=file,
                top_level=bool(item.get("requested")),
            )
        )
    return packages


def real_packages(root: Path) -> dict[str, RealPackage]:
    """Every installed file, stat-ed, attributed to its distribution by its RECORD (pyc included)."""
    site = root / SITE
    found: dict[str, RealPackage] = {}
    for record in sorted(site.glob("*.dist-info/RECORD")):
        metadata = (record.parent / "METADATA").read_text(encoding="utf-8", errors="replace")
        name = next(
            line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Name:")
        )
        paths = []
        with record.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if not row:
                    continue
                path = Path(os.path.normpath(site / row[0]))
                # pip --target records scripts inside the target ("bin/x"), or, from its scheme's
                # lib folder, as "../../bin/x": both were moved to PYTHON_HOME/bin
                script = row[0].removeprefix("../../")
                if script.startswith("bin/"):
                    path = root / PYTHON_HOME / script
                if path.is_file():
                    paths.append(path)
        found[canonicalize_name(name)] = RealPackage(
            canonicalize_name(name), sum(p.stat().st_size for p in paths), len(paths), tuple(paths)
        )
    return found


def tar_gzip(folder: Path) -> tuple[int, float]:
    """(bytes, seconds) of `tar -cf - -C folder . | gzip -6 | wc -c`."""
    command = f"set -o pipefail; tar -cf - -C '{folder}' . | gzip -6 | wc -c"
    start = time.perf_counter()
    completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    return int(completed.stdout.strip()), time.perf_counter() - start


def exact_shares(root: Path, packages: dict[str, RealPackage]) -> tuple[dict[str, int], int]:
    """Each distribution's bytes in gzip -6 of the tar stream (name order), and the stream's total."""
    owner = {path: name for name, package in packages.items() for path in package.paths}
    members = []
    for folder, _, files in os.walk(root / PYTHON_HOME):
        for file in files:
            path = Path(folder) / file
            group = TarGroup.dependency(owner[path]) if path in owner else TarGroup.app()
            members.append(TarMember(str(path.relative_to(root)), group, path.stat().st_size, str(path)))
    estimate = estimate_compressed(members, exact=True)
    shares = {
        group.group.name: group.compressed_bytes
        for group in estimate.groups
        if group.group.kind == GroupKind.DEPENDENCY
    }
    return shares, estimate.compressed_bytes


def timed_sizes(packages: list[ResolvedPackage], cache: Path) -> tuple[list[SizedPackage], float]:
    target = Target(stack="heroku-24", arch="amd64", python=MINOR, glibc="2.39", manager="pip")
    start = time.perf_counter()
    sized = size_packages(packages, target, cache_dir=cache, offline=False, build_sdists=False)
    return sized, time.perf_counter() - start


def error(predicted: float, real: float) -> float:
    return predicted / real - 1 if real else float("nan")


def verdict(value: float) -> str:
    return "PASS" if abs(value) <= TARGET_ERROR else "FAIL"


@contextmanager
def workspace(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="bench-dependencies-") as scratch:
        yield Path(scratch) / "build"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="install into DIR and keep it (reused on later runs)")
    arguments = parser.parse_args()

    with workspace(arguments.keep) as root:
        report = install(root)
        packages = resolved(report)
        with tempfile.TemporaryDirectory(prefix="bench-dependencies-cache-") as cache:
            sized, cold_time = timed_sizes(packages, Path(cache))
            warm, warm_time = timed_sizes(packages, Path(cache))
        real = real_packages(root)
        real_compressed, gzip_time = tar_gzip(root)
        plain_compressed, _ = tar_gzip(root / SITE)
        shares, exact_total = exact_shares(root, real)
        real_files = sum(len(files) for _, _, files in os.walk(root / PYTHON_HOME))
        real_installed = sum(package.installed for package in real.values())

        print(f"\nPython {MINOR}, {len(packages)} distributions, {real_files} files installed")
        header = f"{'package':22s} {'installed':>12s} {'predicted':>12s} {'err':>7s}   {'gzip share':>11s}"
        print(f"{header} {'predicted':>11s} {'err':>7s}  method")
        for item in sorted(sized, key=lambda s: -real[s.name].installed if s.name in real else 0):
            truth = real.get(item.name)
            if truth is None:
                print(f"{item.name:22s} (not installed?)  {item.method}")
                continue
            share = shares.get(item.name, 0)
            print(
                f"{item.name:22s} {truth.installed:>12,} {item.installed_bytes:>12,}"
                f" {error(item.installed_bytes, truth.installed):>+7.1%}   {share:>11,}"
                f" {item.compressed_bytes:>11,} {error(item.compressed_bytes, share):>+7.1%}  {item.method}"
            )
        predicted_installed = sum(item.installed_bytes for item in sized)
        predicted_compressed = sum(item.compressed_bytes for item in sized)
        predicted_files = sum(item.file_count for item in sized)
        installed_error = error(predicted_installed, real_installed)
        compressed_error = error(predicted_compressed, real_compressed)
        print(
            f"\ninstalled (files stat-ed): real {real_installed:,}, predicted {predicted_installed:,}:"
            f" {installed_error:+.2%} {verdict(installed_error)} (target ±{TARGET_ERROR:.0%});"
            f" files {real_files} real, {predicted_files} predicted"
        )
        print(
            f"compressed: real `tar -C DIR . | gzip -6` {real_compressed:,} ({gzip_time:.1f} s),"
            f" predicted {predicted_compressed:,}: {compressed_error:+.2%} {verdict(compressed_error)}"
        )
        print(
            f"  for reference: tar of site-packages alone (shorter names, no bin/) {plain_compressed:,}"
            f" ({error(predicted_compressed, plain_compressed):+.2%});"
            f" zlib on the name-ordered stream {exact_total:,}"
            f" ({error(predicted_compressed, exact_total):+.2%})"
        )
        measured = sum(1 for item in sized if item.measured)
        print(
            f"size_packages: cold {cold_time:.2f} s, warm {warm_time:.3f} s;"
            f" {measured}/{len(sized)} measured; warm figures identical: {warm == sized}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
