"""Benchmark the findings' savings against real compression, and what the rules and the HTML page cost.

Run by hand (not in CI):  python benchmarks/bench_savings.py [--tree DIR]

1. Accuracy of a `.slugignore` block's saving on `sample_apps/bloated`: slugprof's predicted saving
   (the slug model run again without the block's files) against a real `tar | gzip -6` of the app's
   shipped files with and without them. Target: within 3%.
2. Time the rules (with their savings re-runs) and the HTML render add to an analysis of the benchmark
   tree (the ~17,600-file environment `bench_analyze.py` builds; pass --tree, default the cache's
   `bench-tree`): as the app's dependencies (the target), and taken as the app's own files (the most a
   rule that reads app files could meet). The analysis reports its stages through the progress
   protocol; the rules start after the last stage event of the measurement and the savings are their
   own stage, so the time from that event to the end is the rules plus the savings. Target: under 1 s
   with the render.

3. Accuracy of a swap's saving: an app requiring opencv-python (and importing cv2) is analyzed with
   its dependencies resolved for the dyno from the package index; slugprof's saving for the swap to
   opencv-python-headless against a real `pip install` of each (same versions, bytecode compiled as
   the buildpack does), then `tar | gzip -6` of each. Target: within 5%. Needs the package index
   (about 120 MB of wheels); `--no-network` skips it.

It prints the figures and PASS/FAIL against the targets, and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.config import Settings
from slugprof.config import cache_root as default_cache_dir
from slugprof.model import AnalyzeReport, Finding
from slugprof.render.html import render_html

REPOSITORY = Path(__file__).resolve().parent.parent
BLOATED = REPOSITORY / "sample_apps" / "bloated"
TARGET_SAVING_ERROR = 0.03  # |predicted - real| / real, for the .slugignore block
TARGET_RULES_AND_HTML_SECONDS = 1.0
TARGET_SWAP_ERROR = 0.05  # |predicted - real| / real, for the opencv swap
SAVINGS_STAGE = "Measuring savings"


@dataclass
class TimedProgress:
    """Every stage and advance the pipeline reports, with the time it came."""

    events: list[tuple[float, str]] = field(default_factory=list)

    def stage(self, description: str, total: int | None = None) -> None:
        self.events.append((time.perf_counter(), description))

    def advance(self, amount: int = 1) -> None:
        self.events.append((time.perf_counter(), ""))

    def rules_start(self) -> float:
        """The last event before the savings stage (or the last event): where the measuring ended."""
        before = [moment for moment, name in self.events if name == SAVINGS_STAGE]
        cut = before[0] if before else float("inf")
        return max(moment for moment, _ in self.events if moment < cut)


def real_tar_gzip(root: Path, paths: list[str]) -> int:
    """Bytes of `tar -cf - PATHS | gzip -6`, the files in the order given, from `root`."""
    with tempfile.NamedTemporaryFile("w", suffix=".list") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        tar = subprocess.Popen(
            ["tar", "-cf", "-", "--no-recursion", "-C", str(root), "-T", listing.name], stdout=subprocess.PIPE
        )
        gzip = subprocess.run(["gzip", "-6"], stdin=tar.stdout, capture_output=True, check=True)
        if tar.wait() != 0:
            raise SystemExit("tar failed")
    return len(gzip.stdout)


def bloated_report(cache: Path, *, exact: bool) -> AnalyzeReport:
    options = AnalyzeOptions(
        app_root=BLOATED, settings=Settings(), resolve=True, offline=True, cache_dir=cache, exact=exact
    )
    return analyze(options, {})


def slugignore_block(report: AnalyzeReport) -> Finding:
    block = next((f for f in report.findings if f.id == "SLUG210"), None)
    if block is None or block.change is None:
        raise SystemExit("bloated has no .slugignore block to measure: is the sample app complete?")
    return block


def saving_accuracy() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        report = bloated_report(Path(scratch) / "cache", exact=False)
        exact = bloated_report(Path(scratch) / "cache", exact=True)
    block = slugignore_block(report)
    assert block.change is not None and block.savings_compressed_bytes is not None
    shipped = [f.path for f in report.app.files if f.included]
    removed = set(block.change.app_paths)
    real = real_tar_gzip(BLOATED, shipped) - real_tar_gzip(BLOATED, [p for p in shipped if p not in removed])
    predicted = block.savings_compressed_bytes
    error = abs(predicted / real - 1)
    exact_saving = slugignore_block(exact).savings_compressed_bytes or 0
    print(f".slugignore block on bloated: {', '.join(sorted(removed))}")
    print(f"  real tar | gzip -6 saving  {real:>12,} B")
    print(f"  predicted (estimate)       {predicted:>12,} B  ({predicted / real - 1:+.2%})")
    print(f"  predicted (--exact)        {exact_saving:>12,} B  ({exact_saving / real - 1:+.2%})")
    print(f"  {verdict(error <= TARGET_SAVING_ERROR)}: within {TARGET_SAVING_ERROR:.0%} of the real saving")


def rules_and_html_time(tree: Path) -> None:
    venv = tree / "venv"
    if not (venv / "bin" / "python").exists():
        print(f"no benchmark tree at {tree}: run benchmarks/bench_analyze.py first (or pass --tree)")
        return
    with tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        frozen = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze", "--exclude", "pip"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (app / "requirements.txt").write_text(frozen)  # every package of the tree is a requirement
        (app / "Procfile").write_text("web: gunicorn app:app\n")
        (app / "app.py").write_text("app = None\n")
        # The tree's packages as the app's environment (the slug the target is about), then the tree
        # taken as the app's own files (the most files the rules that read app files could meet).
        cases = (
            ("the tree as the app's dependencies", app, str(venv)),
            ("the tree as the app's files", tree, None),
        )
        for label, root, environment in cases:
            options = AnalyzeOptions(
                app_root=root,
                settings=Settings(),
                environment=environment,
                resolve=environment is None,
                offline=True,
                cache_dir=Path(scratch) / "cache",
            )
            analyze(options, {})  # warm the compression cache: the second run is the one timed
            _timed_analysis(label, options)


def _timed_analysis(label: str, options: AnalyzeOptions) -> None:
    progress = TimedProgress()
    start = time.perf_counter()
    report = analyze(options, {}, progress)
    end = time.perf_counter()
    html_start = time.perf_counter()
    page = render_html(report, None)
    html_seconds = time.perf_counter() - html_start
    rules_seconds = end - progress.rules_start()
    total = rules_seconds + html_seconds
    files = len(report.app.files) + sum(p.file_count for p in report.dependencies.packages)
    print(f"{label}: {files:,} files, {len(report.findings)} findings")
    print(f"  analysis, warm            {end - start:6.2f} s")
    print(f"  rules and savings          {rules_seconds:6.2f} s")
    print(f"  HTML render                {html_seconds:6.2f} s  ({len(page.encode()):,} B page)")
    ok = total < TARGET_RULES_AND_HTML_SECONDS
    print(
        f"  {verdict(ok)}: {total:.2f} s beyond the analysis (target {TARGET_RULES_AND_HTML_SECONDS:.0f} s)"
    )


def opencv_swap_accuracy() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        # This machine's Python for the dyno's, so that pip here installs the very wheels the dyno gets.
        (app / ".python-version").write_text(f"{sys.version_info.major}.{sys.version_info.minor}\n")
        (app / "requirements.txt").write_text("opencv-python\n")
        (app / "Procfile").write_text("web: gunicorn app:app\n")
        (app / "app.py").write_text("import cv2\n\napp = None\n")
        options = AnalyzeOptions(
            app_root=app, settings=Settings(), resolve=True, offline=False, cache_dir=Path(scratch) / "cache"
        )
        report = analyze(options, dict(os.environ))  # the index's proxy and certificates, if any
        swap = next((f for f in report.findings if f.id == "DEP313"), None)
        if swap is None or swap.savings_compressed_bytes is None:
            print("opencv swap: no measured DEP313 finding", *(swap.evidence if swap else ()), sep="\n  ")
            return
        version = next(p.version for p in report.dependencies.packages if p.name == "opencv-python")
        before = installed_tar_gzip(Path(scratch) / "gui", f"opencv-python=={version}")
        after = installed_tar_gzip(Path(scratch) / "headless", f"opencv-python-headless=={version}")
    real = before - after
    predicted = swap.savings_compressed_bytes
    print(f"opencv-python {version} -> opencv-python-headless, resolved for the dyno")
    print(f"  real pip install, tar | gzip -6 saving  {real:>12,} B")
    print(f"  predicted                              {predicted:>12,} B  ({predicted / real - 1:+.2%})")
    ok = abs(predicted / real - 1) <= TARGET_SWAP_ERROR
    print(f"  {verdict(ok)}: within {TARGET_SWAP_ERROR:.0%} of the real saving")


def installed_tar_gzip(target: Path, requirement: str) -> int:
    """pip installs the requirement (with its dependencies, compiling bytecode) into `target`; the bytes
    of `tar | gzip -6` of what it installed."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--only-binary",
            ":all:",
            "--target",
            str(target),
            requirement,
        ],
        check=True,
    )
    paths = sorted(str(path.relative_to(target)) for path in target.rglob("*") if not path.is_dir())
    return real_tar_gzip(target, paths)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", type=Path, default=default_cache_dir() / "bench-tree")
    parser.add_argument("--no-network", action="store_true", help="skip the opencv swap (it needs the index)")
    args = parser.parse_args()
    saving_accuracy()
    rules_and_html_time(args.tree)
    if not args.no_network:
        opencv_swap_accuracy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
