"""The HTML report: one self-contained page, hostile names escaped, a treemap that zooms in a real browser.

The reports are the committed examples, the real pipeline's output on a small app, or built field by field
(hostile names, a 20,000-file tree); the browser is the chromium found on PATH, driven by Playwright.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from clirun import run_slugprof as _slugprof

from slugprof.model import (
    AnalyzeReport,
    AppFile,
    AppInventory,
    AppSource,
    BuildEntry,
    BuildOutcome,
    BuildpackPart,
    BuildVerdict,
    DependencyInventory,
    DependencySource,
    Edit,
    Finding,
    Fix,
    Location,
    Package,
    ProfileReport,
    PythonVersionChoice,
    Severity,
    Slug,
    SlugChange,
    SlugComponent,
    SlugignoreRule,
)
from slugprof.model.saved import load_report

if TYPE_CHECKING:
    from playwright.sync_api import Page as BrowserPage
from slugprof.render.charts import MAX_POINTS, Threshold, downsample, memory_chart_svg
from slugprof.render.html import quota_bytes, r15_bytes, render_html
from slugprof.render.treemap import MAX_CHILDREN, MAX_TILES, Rect, build_treemap, prune, slug_tree, squarify
from slugprof.units import format_binary, format_bytes

REPORTS = Path(__file__).parent.parent / "reports"
HOSTILE_FILES = (
    "<script>alert(1)</script>.py",
    "a\"b'c&d.txt",
    "</svg>",
    "static/</title><script>alert(2)</script>.js",
    "docs/<img src=x onerror=alert(3)>.md",
    "<script>alert(7).py",  # a file name cannot hold '/': the one above is a folder and a file
)
HOSTILE_COMMAND = "echo \"</pre><script>alert(4)</script>\" && rm -rf '<b>'"
HOSTILE_NOTE = "<iframe src=javascript:alert(5)></iframe> note & more"
ONE_MB = 1_000_000
PEAK = 300 * 1024 * 1024  # added to one sample of a long run: the chart's downsampling must keep it


# --- reports built field by field ------------------------------------------------------------------


def analyze_report(
    files: list[AppFile],
    packages: list[Package] | None = None,
    findings: tuple[Finding, ...] = (),
    *,
    build: BuildVerdict | None = None,
    slugignore: tuple[SlugignoreRule, ...] = (),
    notes: tuple[str, ...] = (),
) -> AnalyzeReport:
    """An analyze report whose components add up from its own files and packages."""
    app = AppInventory(
        root="~/code/<app> & co", source=AppSource.GIT, files=tuple(files), slugignore=slugignore
    )
    app = dataclasses.replace(app, compressed_bytes=app.bytes // 3)
    dependencies = DependencyInventory(
        source=DependencySource.ENVIRONMENT,
        environment=".venv",
        requirements_files=("requirements.txt",),
        packages=tuple(packages or ()),
        notes=notes,
    )
    parts = (
        BuildpackPart("python", "the runtime", 52_000_000, False, "setting", compressed_bytes=20_000_000),
        BuildpackPart("pip", "pip", 11_700_000, False, "setting", compressed_bytes=3_800_000),
    )
    components = (
        SlugComponent("app", app.bytes, app.compressed_bytes, measured=True),
        SlugComponent("python", 52_000_000, 20_000_000, measured=False),
        SlugComponent("dependencies", dependencies.bytes, dependencies.compressed_bytes, measured=True),
        SlugComponent("buildpack tools", 11_700_000, 3_800_000, measured=False),
    )
    compressed = sum(component.compressed_bytes for component in components)
    return AnalyzeReport(
        created="2026-12-01T12:00:00+00:00",
        app=app,
        python=PythonVersionChoice("3.13", ".python-version"),
        package_manager="pip",
        dependencies=dependencies,
        buildpack=parts,
        slug=Slug(
            compressed_bytes=compressed,
            compressed_error=compressed // 50,
            compressed_method="sampled",
            sampled_bytes=compressed // 10,
            limit_bytes=500_000_000,
            soft_limit_bytes=300_000_000,
            status="ok",
            components=components,
        ),
        notes=notes,
        build=build or BuildVerdict(BuildOutcome.BUILDS),
        findings=findings,
    )


def package(name: str, size: int, *, top_level: bool = False, files: int = 10) -> Package:
    return Package(
        name=name,
        version="1.0",
        bytes=size,
        compressed_bytes=size // 3,
        file_count=files,
        top_level=top_level,
        requested_by=("requirements.txt",) if top_level else (),
        exclusive_bytes=size if top_level else None,
        exclusive_compressed_bytes=size // 3 if top_level else None,
        exclusive_packages=(name,) if top_level else (),
    )


def finding(
    rule: str,
    severity: Severity,
    *,
    saving: int | None = None,
    evidence: tuple[str, ...] = (),
    command: str = "",
    removes: tuple[str, ...] = (),
) -> Finding:
    return Finding(
        id=rule,
        severity=severity,
        title=f"{rule} title",
        evidence=evidence,
        fix=Fix(f"{rule} fix", command or None, (Edit(".gitignore", None, ".venv/\n"),)),
        location=Location("Procfile", 1),
        savings_bytes=None if saving is None else saving * 3,
        savings_compressed_bytes=saving,
        change=SlugChange(app_paths=removes) if removes else None,
    )


def hostile_report() -> AnalyzeReport:
    files = [
        AppFile("app.py", 4_000, True),
        *(AppFile(name, 1_000 + i, True) for i, name in enumerate(HOSTILE_FILES)),
    ]
    files.append(AppFile("tests/<u>test</u>.py", 300, False, excluded_by=".slugignore: <i>tests"))
    hostile = finding(
        "BUILD121",
        Severity.ERROR,
        evidence=("<script>alert(6)</script> is committed", "<script>alert(1)</script>.py"),
        command=HOSTILE_COMMAND,
    )
    return analyze_report(
        files,
        [package("evil<b>pkg", 2_000_000, top_level=True), package("fine", 1_000_000)],
        (hostile,),
        build=BuildVerdict(
            BuildOutcome.FAILS, errors=(BuildEntry("BUILD121", "two <managers> & more", Location("uv.lock")),)
        ),
        slugignore=(SlugignoreRule(1, "<i>tests", 1, note="<b>bold</b> note"),),
        notes=(HOSTILE_NOTE,),
    )


def bloated() -> tuple[AnalyzeReport, ProfileReport]:
    analyze = load_report(REPORTS / "bloated.analyze.json")
    profile = load_report(REPORTS / "bloated.profile.json")
    assert isinstance(analyze, AnalyzeReport) and isinstance(profile, ProfileReport)
    return analyze, profile


# --- reading the page back --------------------------------------------------------------------------


class Page(HTMLParser):
    """The page as a browser's tokenizer reads it: tags, attributes and text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def text(self) -> str:
        return "".join(self.texts)


def test_hostile_names_reach_the_page_as_text_never_as_markup() -> None:
    html = render_html(hostile_report(), None)
    page = Page(html)
    # The page's own script is the only one; no name became an element.
    assert len(page.named("script")) == 1
    assert html.lower().count("<script") == 1
    assert not page.named("img") and not page.named("iframe") and not page.named("u") and not page.named("b")
    for name in HOSTILE_FILES:
        assert name in page.text, name  # shown as text, in the treemap's tile titles
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.py" in html
    assert "a&#34;b&#39;c&amp;d.txt" in html
    assert "&lt;/svg&gt;" in html
    assert html.count("<svg") == html.count("</svg>")
    for words in (
        "evil<b>pkg",
        "two <managers> & more",
        "<b>bold</b> note",
        HOSTILE_NOTE,
        "~/code/<app> & co",
    ):
        assert words in page.text, words
    # The copy button carries the command exactly as the fix gives it, quotes and all.
    copies = [attrs["data-copy"] for attrs in page.named("button") if "data-copy" in attrs]
    assert HOSTILE_COMMAND in copies


def test_the_page_asks_nothing_of_any_other_host() -> None:
    analyze, profile = bloated()
    for html in (render_html(analyze, profile), render_html(hostile_report(), None)):
        remote = re.findall(
            r"""(?:\bsrc|\bhref)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", html
        )
        assert remote == []
        assert "@import" not in html
        page = Page(html)
        assert not page.named("link") and not page.named("img") and not page.named("iframe")
        assert all(attrs.get("src") is None for attrs in page.named("script"))
        assert html.startswith("<!DOCTYPE html>")


def _tree(files: int, layout: str, seed: int = 20) -> list[AppFile]:
    rng = random.Random(seed)
    app_files = []
    for index in range(files):
        if layout == "flat":
            path = f"static/file_{index:05d}.js"
        elif layout == "uniform":
            path = f"pkg_{index % 40:02d}/sub_{index // 40 % 10}/mod_{index:05d}.py"
        else:
            depth = rng.randint(0, 4)
            folders = "/".join(f"d{rng.randint(0, 12)}" for _ in range(depth))
            path = f"{folders}/f{index}.py" if folders else f"f{index}.py"
        size = 4_000 if layout != "mixed" else int(rng.lognormvariate(8, 2))
        app_files.append(AppFile(path, size, True))
    return sorted(app_files, key=lambda app_file: app_file.path)


def _big_report(layout: str) -> AnalyzeReport:
    packages = [package(f"package-{index:03d}", 10_000 * (index + 1) ** 2, files=50) for index in range(130)]
    return analyze_report(_tree(20_000, layout), packages)


@pytest.mark.slow  # builds a large tree
@pytest.mark.parametrize("layout", ["mixed", "uniform", "flat"])
def test_a_20000_file_app_with_130_packages_is_a_page_under_1_mb(layout: str) -> None:
    report = _big_report(layout)
    html = render_html(report, None)
    assert len(html.encode("utf-8")) < ONE_MB
    page = Page(html)
    titles = [text for text in page.texts if "\n" in text and re.search(r"\d B|kB|MB", text)]
    assert 0 < len(titles) <= MAX_TILES
    # Folding loses nothing: the app's tiles stand for all its files and bytes.
    app = next(child for child in prune(slug_tree(report)).children if child.name == "app")
    assert sum(child.files for child in app.children) == 20_000
    assert sum(child.bytes for child in app.children) == report.app.bytes


@pytest.mark.slow  # builds a large tree
def test_the_largest_files_of_a_large_tree_keep_their_own_tiles() -> None:
    report = _big_report("mixed")
    titles = {tile.title.split("\n")[0] for view in build_treemap(report).views for tile in view.tiles}
    for largest in sorted(report.app.files, key=lambda app_file: -app_file.bytes)[:10]:
        assert largest.path in titles
    # What is too small to see is folded, and the folded tiles say how many files they stand for.
    assert any(re.search(r": \d+ smaller files$", title) for title in titles)


def test_folded_tiles_keep_every_byte_and_at_most_300_children() -> None:
    files = [AppFile(f"big_{index}.bin", 1_000_000, True) for index in range(400)]
    files += [AppFile(f"tiny_{index}.txt", 10, True) for index in range(50)]
    report = analyze_report(files)
    root = prune(slug_tree(report), max_tiles=10_000)
    app = next(child for child in root.children if child.name == "app")
    assert len(app.children) == MAX_CHILDREN + 1
    folded = app.children[-1]
    assert folded.kind == "more" and folded.name == "150 smaller files"  # 100 past the 300th, 50 too small
    assert folded.files == 150
    assert sum(child.bytes for child in app.children) == report.app.bytes


def test_a_file_a_finding_removes_is_marked_with_its_folders() -> None:
    files = [AppFile("data/big.csv", 6_000_000, True), AppFile("data/small.csv", 2_000_000, True)]
    files.append(AppFile("app.py", 1_000_000, True))
    named_only = finding("SLUG222", Severity.INFO, evidence=("data/small.csv",))  # named, not removed
    removes = finding("SLUG210", Severity.WARNING, removes=("data/big.csv",))
    report = analyze_report(files, findings=(named_only, removes))
    views = {view.name: view for view in build_treemap(report).views}
    marked = {tile.title.split("\n")[0] for view in views.values() for tile in view.tiles if tile.marked}
    assert marked == {"app", "data/", "data/big.csv"}
    big = next(tile for tile in views["data/"].tiles if tile.title.startswith("data/big.csv\n"))
    assert "a finding would remove it" in big.title


# --- the squarified layout ---------------------------------------------------------------------------


def test_squarify_lays_out_the_papers_example_row_by_row() -> None:
    """Bruls et al.'s example: areas 6, 6, 4, 3, 2, 2, 1 in a 6 x 4 rectangle."""
    rects = squarify([6, 6, 4, 3, 2, 2, 1], Rect(0, 0, 6, 4))
    # First row: 6 and 6 stacked in a column of width 12 / 4 = 3 (a third 4 would worsen the ratios).
    assert rects[0] == pytest.approx(Rect(0, 0, 3, 2))
    assert rects[1] == pytest.approx(Rect(0, 2, 3, 2))
    # The free 3 x 4 rectangle is taller than wide: 4 and 3 go side by side along its top, 7 / 3 high.
    assert _box(rects[2]) == pytest.approx((3, 0, 12 / 7, 7 / 3))
    assert _box(rects[3]) == pytest.approx((3 + 12 / 7, 0, 9 / 7, 7 / 3))
    for rect, area in zip(rects, [6, 6, 4, 3, 2, 2, 1], strict=True):
        assert rect.w * rect.h == pytest.approx(area)


def _box(rect: Rect) -> tuple[float, float, float, float]:
    return (rect.x, rect.y, rect.w, rect.h)


def test_squarify_fills_the_rectangle_without_overlap() -> None:
    rng = random.Random(3)
    sizes = sorted((rng.lognormvariate(3, 1.5) for _ in range(60)), reverse=True)
    canvas = Rect(0, 0, 1000, 560)
    rects = squarify(sizes, canvas)
    total = sum(sizes)
    for rect, size in zip(rects, sizes, strict=True):
        assert rect.w * rect.h == pytest.approx(size / total * 1000 * 560, rel=1e-6)
        assert rect.x >= -1e-6 and rect.y >= -1e-6
        assert rect.x + rect.w <= 1000 + 1e-6 and rect.y + rect.h <= 560 + 1e-6
    for index, first in enumerate(rects):
        for second in rects[index + 1 :]:
            overlap_w = min(first.x + first.w, second.x + second.w) - max(first.x, second.x)
            overlap_h = min(first.y + first.h, second.y + second.h) - max(first.y, second.y)
            assert overlap_w <= 1e-6 or overlap_h <= 1e-6
    # Squarified: far squarer than slicing the canvas into 60 strips, the layout it improves on.
    squarified = sum(max(r.w / r.h, r.h / r.w) for r in rects) / len(rects)
    strips = [1000 * size / total for size in sizes]
    sliced = sum(max(width / 560, 560 / width) for width in strips) / len(strips)
    assert squarified < 3
    assert squarified < sliced / 10


# --- the page's content --------------------------------------------------------------------------------


def test_the_first_screen_says_the_verdicts_counts_and_savings() -> None:
    findings = (
        finding("SLUG201", Severity.INFO, saving=5_000_000),
        finding("SLUG202", Severity.WARNING, saving=20_000_000),
        finding("BUILD162", Severity.WARNING),
        finding("BUILD121", Severity.ERROR),
    )
    failing = BuildVerdict(BuildOutcome.FAILS, errors=(BuildEntry("BUILD121", "several package managers"),))
    report = analyze_report([AppFile("app.py", 1000, True)], findings=findings, build=failing)
    page = Page(render_html(report, None))
    verdict = _element_text(render_html(report, None), "p", "verdict")
    slug = report.slug
    assert verdict.startswith(f"The slug is {format_bytes(slug.compressed_bytes)} ± ")
    assert f"of the {format_bytes(slug.limit_bytes)} limit: OK" in verdict
    assert "THE BUILD WOULD FAIL: BUILD121 several package managers" in verdict
    counts = _element_text(render_html(report, None), "p", "counts")
    assert "1 error, 2 warnings, 1 info" in counts
    assert format_bytes(25_000_000) in counts
    # Findings: the largest measured saving first, then the worst severity.
    headings = [attrs["data-rule"] for attrs in page.named("article")]
    assert headings == ["SLUG202", "SLUG201", "BUILD121", "BUILD162"]
    for section in ("treemap", "findings", "requirements", "packages", "slugignore", "notes"):
        assert {"id": section} in [attrs for _, attrs in page.tags]
    assert not [attrs for _, attrs in page.tags if attrs.get("id") == "memory"]


def test_no_findings_with_savings_say_so() -> None:
    report = analyze_report(
        [AppFile("app.py", 1000, True)], findings=(finding("BUILD162", Severity.WARNING),)
    )
    assert "no measured savings yet" in _element_text(render_html(report, None), "p", "counts")


def _element_text(html: str, tag: str, element_id: str) -> str:
    match = re.search(rf'<{tag}[^>]*id="{element_id}"[^>]*>(.*?)</{tag}>', html, re.DOTALL)
    assert match is not None, element_id
    return " ".join(Page(match.group(1)).text.split())


def test_the_committed_bloated_example_renders_both_reports() -> None:
    analyze, profile = bloated()
    html = render_html(analyze, profile)
    page = Page(html)
    verdict = _element_text(html, "p", "verdict")
    assert format_bytes(analyze.slug.compressed_bytes) in verdict
    assert f"{format_binary(profile.memory.peak_total_bytes)} (anonymous memory and swap" in verdict
    quota = quota_bytes(profile)
    assert quota is not None and f"of the {profile.dyno} quota of {format_binary(quota)}" in verdict
    assert "the app BUILDS" in verdict
    for section in ("treemap", "findings", "requirements", "packages", "slugignore", "memory", "dyno-fit"):
        assert {"id": section} in [attrs for _, attrs in page.tags], section
    for top in (p for p in analyze.dependencies.packages if p.top_level):
        assert top.name in page.text
    for rule in analyze.app.slugignore:
        assert rule.pattern in page.text
    for fit in profile.dyno_fit:
        assert fit.dyno in page.text
    for cost in profile.imports:
        assert cost.module in page.text
    assert sum(1 for _ in re.finditer(r"<svg\b", html)) == 2  # the treemap and the memory chart
    assert len(page.named("script")) == 1


def test_a_profile_alone_renders_without_the_slug() -> None:
    _, profile = bloated()
    html = render_html(None, profile)
    verdict = _element_text(html, "p", "verdict")
    assert verdict.startswith(f"The dyno's peak memory is {format_binary(profile.memory.peak_total_bytes)}")
    assert "slug" not in verdict and "BUILD" not in verdict
    assert 'id="treemap"' not in html and 'id="memory"' in html


def test_the_memory_chart_is_inline_svg_with_the_quota_and_r15_lines() -> None:
    _, profile = bloated()
    samples = profile.memory.samples
    # A long run: 5,000 samples, one of them far above the rest.
    longer = tuple(
        dataclasses.replace(
            samples[index % len(samples)],
            seconds=index / 10,
            total_pss_bytes=samples[index % len(samples)].total_pss_bytes + (PEAK if index == 4_321 else 0),
        )
        for index in range(5_000)
    )
    report = dataclasses.replace(profile, memory=dataclasses.replace(profile.memory, samples=longer))
    series = downsample([s.seconds for s in longer], [s.total_pss_bytes for s in longer])
    assert len(series.values) <= MAX_POINTS
    assert max(series.values) == max(s.total_pss_bytes for s in longer)  # the peak survives
    quota, restart = quota_bytes(report), r15_bytes(report)
    assert profile.dyno == "standard-1x" and quota is not None
    assert restart == 2 * quota  # R15 at twice the quota on Cedar standard dynos

    svg = memory_chart_svg(
        report, [Threshold("quota", quota, "#d68910"), Threshold("R15", restart, "#c0392b")]
    )
    assert svg.startswith("<svg") and "<!DOCTYPE" not in svg and "<style" not in svg
    tree = ElementTree.fromstring(svg)
    assert tree.tag.endswith("svg")
    texts = "".join(tree.itertext())
    assert "quota" in texts and "R15" in texts and "dyno total (anonymous)" in texts
    points = [element.get("d", "").count("L") + 1 for element in tree.iter() if element.tag.endswith("path")]
    assert max(points) == MAX_POINTS  # the total and each process, each downsampled to 500 points


@pytest.mark.slow  # starts an interpreter
def test_the_chart_writes_nothing_into_the_home_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MPL", "XDG_"))}
    env["HOME"] = str(home)
    script = (
        "from pathlib import Path\n"
        "from slugprof.model.saved import load_report\n"
        "from slugprof.render.html import render_html\n"
        f"report = load_report(Path({str(REPORTS / 'bloated.profile.json')!r}))\n"
        "assert '<svg' in render_html(None, report)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert list(home.iterdir()) == []


def test_the_templates_ship_as_package_data() -> None:
    """setuptools ships what [tool.setuptools.package-data] names: every template must match it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    root = Path(__file__).parent.parent
    settings = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = settings["tool"]["setuptools"]["package-data"]["slugprof"]
    templates = sorted((root / "slugprof" / "render" / "templates").iterdir())
    assert {path.suffix for path in templates} == {".j2"}
    for path in templates:
        relative = path.relative_to(root / "slugprof").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


# --- in a real browser ------------------------------------------------------------------------------


def _browser_report() -> AnalyzeReport:
    """The committed bloated example with hostile names added to its tree and a finding with a fix."""
    analyze, _ = bloated()
    hostile = hostile_report()
    # Large enough to be tiles of their own in an 8 MB app.
    grown = (dataclasses.replace(app_file, bytes=app_file.bytes * 400) for app_file in hostile.app.files)
    files = tuple(sorted((*analyze.app.files, *grown), key=lambda app_file: app_file.path))
    return dataclasses.replace(
        analyze, app=dataclasses.replace(analyze.app, files=files), findings=hostile.findings
    )


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.mark.slow
def test_the_page_in_a_real_chromium_zooms_hovers_copies_and_asks_for_nothing_else(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "chromium is not on PATH: install it (apt-get install -y chromium) to run the browser test"
        )
    from playwright.sync_api import ConsoleMessage, Dialog, Error, expect, sync_playwright

    _, profile = bloated()
    page_path = tmp_path / "report.html"
    page_path.write_text(render_html(_browser_report(), profile), encoding="utf-8")
    problems: list[str] = []
    requests: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    def dialog(opened: Dialog) -> None:
        problems.append(f"a dialog opened: {opened.message}")
        opened.dismiss()

    def page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
            )
            page = context.new_page()
            page.on("console", console)
            page.on("pageerror", page_error)
            page.on("dialog", dialog)
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            _zoom_in_and_out(page)
            # The copy button puts the fix's command on the clipboard, exactly.
            copy = page.locator("button.copy").first
            copy.click()
            expect(copy).to_have_text("copied")
            assert page.evaluate("navigator.clipboard.readText()") == HOSTILE_COMMAND
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert problems == []
    assert requests == [page_path.as_uri()]  # the page itself, and nothing else


def _zoom_in_and_out(page: BrowserPage) -> None:
    crumbs = page.locator("#tm-crumbs")
    shown = page.locator("#tm-svg > .view:not(.off)")
    assert _words(crumbs.inner_text()) == "slug"
    # Click the app's tile: the app's view, and the path back in the breadcrumb.
    page.locator("#tm-svg > .view:not(.off) > .tile.c-app").click()
    assert _words(crumbs.inner_text()) == "slug / app"
    assert shown.count() == 1 and shown.get_attribute("data-name") == "app"
    # Hover a file: its path and sizes in the details line.
    file = shown.locator("> .tile", has=page.locator("title", has_text="<script>alert(7).py"))
    file.hover()
    assert _words(page.locator("#tm-detail").inner_text()).startswith("<script>alert(7).py ")
    # One level deeper, into a folder with a hostile name, then back out by the breadcrumb.
    shown.locator("> .tile.k-folder", has=page.locator("title", has_text="<script>alert(1)</")).click()
    assert _words(crumbs.inner_text()) == "slug / app / <script>alert(1)</"
    assert _words(shown.locator("title").first.text_content()).startswith("<script>alert(1)</script>.py ")
    crumbs.get_by_role("button", name="app").click()
    assert _words(crumbs.inner_text()) == "slug / app"
    shown.locator("> .tile.k-folder", has=page.locator("title", has_text="data/")).click()
    assert _words(crumbs.inner_text()) == "slug / app / data/"
    crumbs.get_by_role("button", name="slug").click()
    assert _words(crumbs.inner_text()) == "slug"
    assert shown.get_attribute("data-name") == "slug"
    # The legend zooms too, into a component however small its tile.
    page.locator(".legend button", has_text="dependencies").click()
    assert _words(crumbs.inner_text()) == "slug / dependencies"


# --- from the command line ------------------------------------------------------------------------------


@pytest.mark.slow
def test_analyze_writes_the_html_page_with_o_and_prints_it_with_format(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "static").mkdir(parents=True)
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / "requirements.txt").write_text("")
    (app / "app.py").write_text("def app(environ, start_response):\n    return []\n" * 20)
    (app / "static" / "<b>logo.svg").write_text("<svg></svg>\n" * 200)
    output = tmp_path / "report.html"
    written = _slugprof("analyze", app, "-o", output, "-q", "--offline", "--no-cache")
    assert written.returncode == 0, written.stderr
    assert f"wrote {output}" in written.stderr
    html = output.read_text(encoding="utf-8")
    page = Page(html)
    assert "static/<b>logo.svg" in page.text and not page.named("b")
    assert _words(_element_text(html, "p", "verdict")).startswith("The slug is ")
    printed = _slugprof("analyze", app, "--format", "html", "-q", "--offline", "--no-cache")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("<!DOCTYPE html>") and 'id="treemap"' in printed.stdout


HELLO = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


@pytest.mark.slow
def test_profile_writes_the_html_page_with_its_chart(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    (app / "app.py").write_text(HELLO)
    output = tmp_path / "profile.html"
    result = _slugprof(
        "profile", app, "--env", sys.executable, "--no-memray", "--requests", "3", "-o", output, "-q"
    )
    assert result.returncode == 0, result.stderr
    html = output.read_text(encoding="utf-8")
    page = Page(html)
    assert _element_text(html, "p", "verdict").startswith("The dyno's peak memory is ")
    assert 'id="memory"' in html and 'id="dyno-fit"' in html and 'id="treemap"' not in html
    assert html.count("<svg") == 1  # the chart
    roles = [text for text in page.texts if text in ("master", "worker")]
    assert roles.count("master") == 1 and roles.count("worker") == 2  # standard-1x: WEB_CONCURRENCY=2
