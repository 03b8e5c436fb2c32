"""The comparison with a baseline, and check's growth limit: on the committed bloated example, edited as a
pull request would edit the app (a file added, a package added and one upgraded, a finding fixed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from clirun import run_slugprof, write_app
from conftest import GitRunner

from slugprof.compare import Band, compare
from slugprof.model import AnalyzeReport, AppFile, Package
from slugprof.model.saved import load_report, write_report
from slugprof.units import format_bytes

REPORTS = Path(__file__).resolve().parent.parent / "reports"
SCHEMA_1 = Path(__file__).resolve().parent / "data" / "schema1"


def bloated() -> AnalyzeReport:
    report = load_report(REPORTS / "bloated.analyze.json")
    assert isinstance(report, AnalyzeReport)
    return report


def edited_packages(
    report: AnalyzeReport, *, without: tuple[str, ...] = (), requested_by: tuple[str, ...] = ()
) -> tuple[Package, ...]:
    """The report's packages with numpy upgraded to 2.6.0 and 1.5 MB larger compressed, requests added
    (brought in by `requested_by`), and the packages `without` removed."""
    packages = [
        dataclasses.replace(package, version="2.6.0", compressed_bytes=package.compressed_bytes + 1_500_000)
        if package.name == "numpy"
        else package
        for package in report.dependencies.packages
        if package.name not in without
    ]
    packages.append(
        Package(name="requests", version="2.32.5", bytes=400_000, compressed_bytes=120_000, file_count=40,
                top_level=True, requested_by=requested_by)
    )  # fmt: skip
    return tuple(packages)


def edited(report: AnalyzeReport, grow_slug_by: int = 0) -> AnalyzeReport:
    """The app after a pull request: a 2 MB file added, requests added, numpy upgraded and 1.5 MB
    larger, the .env removed (so SEC400 is fixed); the slug `grow_slug_by` larger."""
    files = (*report.app.files, AppFile(path="data/extra.parquet", bytes=2_000_000, included=True))
    packages = edited_packages(report)
    findings = tuple(f for f in report.findings if f.id != "SEC400")
    slug = dataclasses.replace(report.slug, compressed_bytes=report.slug.compressed_bytes + grow_slug_by)
    return dataclasses.replace(
        report,
        app=dataclasses.replace(report.app, files=files),
        dependencies=dataclasses.replace(report.dependencies, packages=packages),
        findings=findings,
        slug=slug,
    )


def test_the_comparison_names_what_was_added_upgraded_and_fixed() -> None:
    before = bloated()
    comparison = compare((before, None), (edited(before, 3_600_000), None))
    assert comparison.compressed_delta == 3_600_000
    files = {change.name: change for change in comparison.files}
    assert files["data/extra.parquet"].band == Band.NEW and files["data/extra.parquet"].after == 2_000_000
    assert "data/" not in files  # one changed file in it: the file says it all
    packages = {change.name: change for change in comparison.packages}
    assert packages["requests"].band == Band.NEW
    assert packages["numpy"].band == Band.LARGE and packages["numpy"].delta == 1_500_000
    assert packages["numpy"].detail.startswith("2.5.5 -> 2.6.0")
    assert set(packages) == {"requests", "numpy"}  # nothing else changed
    assert [f.id for f in comparison.fixed_findings] == ["SEC400"]
    assert comparison.new_findings == ()


def test_a_report_compared_with_itself_has_no_change() -> None:
    report = bloated()
    comparison = compare((report, None), (report, None))
    assert (comparison.compressed_delta, comparison.files, comparison.packages) == (0, (), ())
    assert comparison.new_findings == comparison.fixed_findings == ()


def test_check_fails_growth_over_the_limit_and_names_what_grew(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    result = run_slugprof(
        "check", REPORTS / "bloated.analyze.json", "--fail-on", "never", "--write-baseline", baseline
    )
    assert result.returncode == 0 and baseline.is_file(), result.stderr
    grown = tmp_path / "grown.json"
    grown.write_text(write_report(edited(bloated(), 3_600_000)))
    result = run_slugprof("check", grown, "--baseline", baseline, "--max-growth", "1%", "--fail-on", "never")
    assert result.returncode == 1, result.stderr
    growth = next(line for line in result.stderr.splitlines() if "max-slug-growth" in line)
    assert growth.startswith("slugprof check: max-slug-growth: FAIL: +3.6 MB (+2.3%)")
    assert "grew most: data/extra.parquet +2.0 MB, numpy +1.5 MB, requests +120 kB" in growth
    assert "+ data/extra.parquet (new, 2.0 MB)" in result.stdout  # the change, listed after the verdicts
    assert "fixed findings (1)" in result.stdout
    within = run_slugprof(
        "check", grown, "--baseline", baseline, "--max-slug-growth", "5 MB", "--fail-on", "never"
    )
    assert within.returncode == 0, within.stderr


def test_no_baseline_is_said_not_counted_as_growth(tmp_path: Path) -> None:
    result = run_slugprof(
        "check", REPORTS / "bloated.analyze.json", "--max-growth", "5%", "--fail-on", "never"
    )
    assert result.returncode == 0, result.stderr
    assert "max-slug-growth: NOT CHECKED: no baseline" in result.stderr and "100%" not in result.stderr


def test_a_broken_or_foreign_baseline_is_bad_input(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    foreign = tmp_path / "package.json"
    foreign.write_text('{"name": "web", "version": "1.0.0"}')
    for baseline in (broken, foreign):
        result = run_slugprof("check", REPORTS / "bloated.analyze.json", "--baseline", baseline)
        assert result.returncode == 2, (baseline, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_baseline_file_not_there_yet_is_no_baseline(tmp_path: Path) -> None:
    # The first run of a pipeline that keeps its last results as the next run's baseline.
    missing = tmp_path / "last-main.json"
    argv = ("check", REPORTS / "bloated.analyze.json", "--baseline", missing, "--max-growth", "1%")
    result = run_slugprof(*argv, "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert f"no baseline at {missing}" in result.stderr
    assert "max-slug-growth: NOT CHECKED: no baseline" in result.stderr


def test_a_baseline_of_an_older_schema_is_still_compared() -> None:
    result = run_slugprof(
        "check", REPORTS / "bloated.analyze.json", "--baseline", SCHEMA_1 / "bloated.analyze.json",
        "--max-growth", "50%", "--fail-on", "never",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "max-slug-growth: PASS" in result.stderr
    assert "Since the baseline" in result.stdout


@pytest.mark.slow
def test_baseline_ref_measures_the_commit_from_git_and_leaves_the_work_tree_alone(
    tmp_path: Path, git: GitRunner
) -> None:
    repo = tmp_path / "repo"
    app = write_app(repo / "web", {"requirements.txt": ""})  # the app one folder down in the repository
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the app")
    (app / "data").mkdir()
    (app / "data" / "export.csv").write_text("id,value\n" + "".join(f"{n},{n * n}\n" for n in range(90_000)))
    (app / "NOTES.md").write_text("notes\n")
    git(repo, "add", "web/data/export.csv")
    git(repo, "commit", "-q", "-m", "an export")
    (app / "scratch.txt").write_text("not committed, not staged\n")
    git(repo, "add", "web/NOTES.md")  # staged, not committed
    state = ("status", "--porcelain"), ("rev-parse", "HEAD"), ("diff", "--cached")
    before = [git(repo, *arguments) for arguments in state]

    argv = ("check", app, "--baseline-ref", "HEAD~1", "--offline", "-q", "--fail-on", "never")
    result = run_slugprof(*argv, "--max-growth", "1%")
    assert result.returncode == 1, result.stderr
    size = format_bytes((app / "data" / "export.csv").stat().st_size)
    assert f"+ data/export.csv (new, {size})" in result.stdout
    growth = next(line for line in result.stderr.splitlines() if "max-slug-growth" in line)
    assert "grew most: data/export.csv" in growth
    # The work tree, the index and the branch are as they were.
    assert [git(repo, *arguments) for arguments in state] == before

    unknown = run_slugprof("check", app, "--baseline-ref", "no-such-branch", "--offline", "-q")
    assert unknown.returncode == 2 and "git knows no commit by that name" in unknown.stderr
    outside = run_slugprof("check", write_app(tmp_path / "plain", {}), "--baseline-ref", "HEAD", "-q")
    assert outside.returncode == 2 and "not in a git work tree" in outside.stderr


def test_report_with_a_baseline_shows_what_changed_in_markdown_and_html(tmp_path: Path) -> None:
    grown = tmp_path / "grown.json"
    grown.write_text(write_report(edited(bloated(), 3_600_000)))
    baseline = REPORTS / "bloated.analyze.json"
    markdown = run_slugprof("report", grown, "--baseline", baseline, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    block = markdown.stdout.split("~~~text\n", 1)[1].split("~~~", 1)[0]
    assert block.startswith("Since the baseline\n") and "+ data/extra.parquet (new, 2.0 MB)" in block
    assert len(markdown.stdout) < 65_536
    page = tmp_path / "page.html"
    html = run_slugprof("report", grown, "--baseline", baseline, "-o", page)
    assert html.returncode == 0, html.stderr
    text = page.read_text()
    assert '<section id="since-baseline">' in text and "~ numpy (+1.5 MB, large, 2.5.5 -&gt; 2.6.0" in text
    plain = run_slugprof("report", grown, "--format", "markdown")
    assert "Since the baseline" not in plain.stdout


def test_write_baseline_keeps_the_profile_beside_the_analysis_and_baseline_reads_both(tmp_path: Path) -> None:
    from slugprof.model import ProfileReport

    baseline = tmp_path / "slugprof-baseline.json"
    saved = (REPORTS / "bloated.analyze.json", REPORTS / "bloated.profile.json")
    result = run_slugprof("check", *saved, "--fail-on", "never", "--write-baseline", baseline)
    assert result.returncode == 0, result.stderr
    beside = tmp_path / "slugprof-baseline.profile.json"
    assert isinstance(load_report(baseline), AnalyzeReport) and isinstance(load_report(beside), ProfileReport)
    assert f"wrote the baseline {beside}" in result.stderr
    profile = load_report(REPORTS / "bloated.profile.json")
    assert isinstance(profile, ProfileReport)
    heavier = dataclasses.replace(
        profile,
        memory=dataclasses.replace(
            profile.memory, peak_total_bytes=profile.memory.peak_total_bytes + 10 * 2**20
        ),
    )
    today = tmp_path / "today.profile.json"
    today.write_text(write_report(heavier))
    result = run_slugprof(
        "check", REPORTS / "bloated.analyze.json", today, "--baseline", baseline, "--fail-on", "never"
    )
    assert result.returncode == 0, result.stderr
    assert "(+10.0 MiB)" in next(line for line in result.stdout.splitlines() if "peak memory" in line)


def test_a_baseline_of_another_app_is_said(tmp_path: Path) -> None:
    other = dataclasses.replace(bloated(), app=dataclasses.replace(bloated().app, root="/srv/apps/shop"))
    baseline = tmp_path / "other.json"
    baseline.write_text(write_report(other))
    result = run_slugprof(
        "check", REPORTS / "bloated.analyze.json", "--baseline", baseline, "--fail-on", "never"
    )
    assert result.returncode == 0, result.stderr
    assert "the baseline is of the app 'shop' and these results of 'bloated'" in result.stderr
    same = run_slugprof(
        "check",
        REPORTS / "bloated.analyze.json",
        "--baseline",
        REPORTS / "bloated.analyze.json",
        "--fail-on",
        "never",
    )
    assert "the baseline is of the app" not in same.stderr
