"""The treemap coloured by what changed since a baseline: removed files and packages keep a tile at their
old size, each tile says its change, folding keeps count of what changed, and a real Chromium draws it.

The reports are the real pipeline's: the bloated sample app analyzed offline, then edited as a pull
request would edit it (a file added, files and a folder removed, a model grown) and analyzed again; the
packages come from the committed bloated example with one removed, one upgraded and one added.
"""

from __future__ import annotations

import dataclasses
import random
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest
from clirun import run_slugprof
from test_compare import edited_packages
from test_html import ONE_MB, _big_report

from slugprof.analysis import AnalyzeOptions, analyze
from slugprof.compare import Band, Comparison, compare
from slugprof.config import Settings
from slugprof.model import AnalyzeReport
from slugprof.model.saved import load_report, write_report
from slugprof.render.html import render_html
from slugprof.render.treemap import (
    _PAD,
    CANVAS_HEIGHT,
    CANVAS_WIDTH,
    MAX_TILES,
    Node,
    Tile,
    Treemap,
    View,
    build_treemap,
    prune,
    slug_tree,
)
from slugprof.units import format_bytes

if TYPE_CHECKING:
    from playwright.sync_api import Page as BrowserPage

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLE_APP = REPOSITORY / "sample_apps" / "bloated"
REMOVED = ("media/photo_2.png", "design/landing_page.psd", "NOTES.md")  # the last: too small for a tile
ADDED = "data/extra.bin"
GROWN = "models/churn_model_v1.pkl"
ADDED_BYTES = 300_000
GROWN_BY = 500_000


class Pair(NamedTuple):
    before: AnalyzeReport
    after: AnalyzeReport
    before_json: Path
    after_json: Path


def _analyzed(app: Path, cache: Path) -> AnalyzeReport:
    """The app analyzed offline: its files measured, its dependencies not."""
    options = AnalyzeOptions(app_root=app, settings=Settings(), resolve=True, offline=True, cache_dir=cache)
    return analyze(options, {})


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("change")
    app = root / "bloated"
    shutil.copytree(SAMPLE_APP, app, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    with pytest.MonkeyPatch.context() as patch:  # no repository above the copy decides what ships
        patch.setenv("GIT_CEILING_DIRECTORIES", str(root))
        before = _analyzed(app, root / "cache")
        for path in REMOVED:
            (app / path).unlink()
        (app / ADDED).write_bytes(random.Random(7).randbytes(ADDED_BYTES))
        with (app / GROWN).open("ab") as grown:
            grown.write(random.Random(8).randbytes(GROWN_BY))
        after = _analyzed(app, root / "cache")
    before_json, after_json = root / "before.json", root / "after.json"
    before_json.write_text(write_report(before), encoding="utf-8")
    after_json.write_text(write_report(after), encoding="utf-8")
    yield Pair(before, after, before_json, after_json)


def _shipped(report: AnalyzeReport) -> dict[str, int]:
    return {file.path: file.bytes for file in report.app.included}


def _larger(before: dict[str, int], after: dict[str, int], prefix: str = "") -> int:
    """The larger of each entry's two sizes, added up over the entries under `prefix`."""
    return sum(
        max(before.get(name, 0), after.get(name, 0))
        for name in set(before) | set(after)
        if name.startswith(prefix)
    )


def _views(treemap: Treemap) -> dict[str, View]:
    return {view.name: view for view in treemap.views}


def _tile(view: View, path: str) -> Tile:
    (tile,) = (tile for tile in view.tiles if tile.title.split("\n")[0] == path)
    return tile


def _share(tile: Tile) -> float:
    """The tile's area as a share of the canvas, the gap drawn around it included."""
    return (float(tile.w) + 2 * _PAD) * (float(tile.h) + 2 * _PAD) / (CANVAS_WIDTH * CANVAS_HEIGHT)


def _classes(tile: Tile) -> set[str]:
    return set(tile.css.split())


def test_a_removed_file_keeps_a_tile_at_its_old_size_in_its_folder(pair: Pair) -> None:
    before, after = _shipped(pair.before), _shipped(pair.after)
    assert all(path in before and path not in after for path in REMOVED)
    comparison = compare((pair.before, None), (pair.after, None))
    views = _views(build_treemap(pair.after, comparison))

    photo = _tile(views["media/"], "media/photo_2.png")
    assert "ch-removed" in _classes(photo)
    assert _share(photo) == pytest.approx(
        before["media/photo_2.png"] / _larger(before, after, "media/"), rel=2e-3
    )
    assert "removed: " in photo.title and format_bytes(before["media/photo_2.png"]) in photo.title
    assert "-100.0%" in photo.title
    assert "ch-unchanged" in _classes(_tile(views["media/"], "media/photo_1.png"))
    # NOTES.md is too small for a tile of its own: the folded tile it is in says it holds a removed file.
    folded = next(tile for tile in views["app"].tiles if "k-more" in _classes(tile))
    assert re.search(r"changed inside: (.*, )?1 removed", folded.title), folded.title

    # A folder whose every file was removed is a removed tile of the app, at its old share of the app.
    design = _tile(views["app"], "design/")
    assert "ch-removed" in _classes(design)
    assert _share(design) == pytest.approx(
        before["design/landing_page.psd"] / _larger(before, after), rel=2e-3
    )

    added = _tile(views["data/"], ADDED)
    assert "ch-new" in _classes(added) and f"new: 0 B -> {format_bytes(ADDED_BYTES)}" in added.title
    grown = _tile(views["models/"], GROWN)
    assert "ch-grown" in _classes(grown)
    delta = after[GROWN] - before[GROWN]
    assert delta == GROWN_BY
    assert f"({format_bytes(delta, signed=True)}, {delta / before[GROWN]:+.1%})" in grown.title
    assert f"{format_bytes(before[GROWN])} -> {format_bytes(after[GROWN])}" in grown.title


def test_the_legend_counts_each_change_and_the_slug_has_no_baseline_colour_without_one(pair: Pair) -> None:
    comparison = compare((pair.before, None), (pair.after, None))
    treemap = build_treemap(pair.after, comparison)
    bands = Counter(change.band for change in comparison.files if not change.name.endswith("/"))
    counts = {key.css: key.count for key in treemap.changes}
    assert counts["ch-new"] == bands[Band.NEW] == 1
    assert counts["ch-removed"] == bands[Band.REMOVED] == len(REMOVED)
    assert counts["ch-grown"] == 1 and counts["ch-shrunk"] == 0
    assert counts["ch-unchanged"] == len(pair.after.app.included) - 2  # all but the new and the grown file
    assert counts["ch-uncompared"] > 0  # the Python runtime and the buildpack tools

    plain = build_treemap(pair.after)
    assert plain.changes == ()
    for view in plain.views:
        for tile in view.tiles:
            assert "ch-" not in tile.css
            assert not re.search(
                r"^(new|removed|grown|shrunk|unchanged|not compared)\b", tile.title, re.MULTILINE
            )
            assert all(preview.css == "" for preview in tile.previews)
    assert not any(tile.title.startswith(REMOVED) for view in plain.views for tile in view.tiles)
    page = render_html(pair.after, None)
    assert "ch-" not in page and "tm-changes" not in page and "tm-gone" not in page
    assert 'id="tm-changes"' in render_html(pair.after, None, comparison)


def test_compared_with_itself_every_tile_is_where_it_is_without_a_baseline(pair: Pair) -> None:
    plain = build_treemap(pair.after)
    same = build_treemap(pair.after, compare((pair.after, None), (pair.after, None)))
    assert [view.name for view in same.views] == [view.name for view in plain.views]
    for shown, alone in zip(same.views, plain.views, strict=True):
        assert [(t.x, t.y, t.w, t.h, t.label, t.zoom) for t in shown.tiles] == [
            (t.x, t.y, t.w, t.h, t.label, t.zoom) for t in alone.tiles
        ]
        for tile, bare in zip(shown.tiles, alone.tiles, strict=True):
            assert tile.css in (f"{bare.css} ch-unchanged", f"{bare.css} ch-uncompared")


def _changed_in(tile: Tile) -> int:
    """What changed since the baseline in a tile with no view of its own: itself, or what it folds."""
    inside = re.search(r"changed inside: (.*)$", tile.title, re.MULTILINE)
    if inside is not None:
        return sum(int(part.split()[0]) for part in inside.group(1).split(", "))
    return int(bool(_classes(tile) & {"ch-new", "ch-removed", "ch-grown", "ch-shrunk"}))


@pytest.mark.parametrize("max_tiles", [2500, 12, 6])
def test_folding_keeps_count_of_what_changed(pair: Pair, max_tiles: int) -> None:
    comparison = compare((pair.before, None), (pair.after, None))
    files = [change for change in comparison.files if not change.name.endswith("/")]
    treemap = build_treemap(pair.after, comparison, max_tiles=max_tiles)
    tiles = [tile for view in treemap.views for tile in view.tiles]
    assert len(tiles) <= max_tiles
    leaves = [tile for tile in tiles if not tile.zoom]
    assert sum(_changed_in(tile) for tile in leaves) == len(files) == 5
    # Something changed is folded (NOTES.md, too small for a tile, at least), and its tile says so.
    assert any("changed inside: " in tile.title for tile in leaves)


@pytest.mark.slow  # builds a large tree
def test_a_20000_file_app_with_5000_files_removed_is_still_a_page_under_1_mb() -> None:
    """The baseline had a quarter more files (removed since) and every seventh file twice as large."""
    after = _big_report("mixed")
    files = after.app.files
    gone = (dataclasses.replace(file, path=file.path.replace(".", "_old.")) for file in files[::4])
    larger = (
        dataclasses.replace(file, bytes=file.bytes * 2) if not index % 7 else file
        for index, file in enumerate(files)
    )
    before_files = tuple(sorted((*gone, *larger), key=lambda file: file.path))
    before = dataclasses.replace(after, app=dataclasses.replace(after.app, files=before_files))
    comparison = compare((before, None), (after, None))
    changed = [change for change in comparison.files if not change.name.endswith("/")]
    assert Counter(change.band for change in changed)[Band.REMOVED] == len(files[::4]) == 5000
    treemap = build_treemap(after, comparison)
    assert sum(len(view.tiles) for view in treemap.views) <= MAX_TILES
    assert len(render_html(after, None, comparison).encode("utf-8")) < ONE_MB
    # Folding loses no change: the leaves of the folded tree count every changed file once.
    root = prune(slug_tree(after, comparison))
    leaves = [node for node in _walk(root) if not node.children]
    counted = sum(
        leaf.changed.get(change, 0) for leaf in leaves for change in ("new", "removed", "grown", "shrunk")
    )
    assert counted == len(changed)


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _edited_packages(report: AnalyzeReport) -> AnalyzeReport:
    """pytest removed, numpy upgraded and 1.5 MB larger compressed, requests added."""
    packages = edited_packages(report, without=("pytest",), requested_by=("requirements.txt",))
    return dataclasses.replace(
        report, dependencies=dataclasses.replace(report.dependencies, packages=packages)
    )


def test_a_removed_package_keeps_its_old_size_and_an_upgrade_says_its_versions() -> None:
    before = load_report(REPOSITORY / "reports" / "bloated.analyze.json")
    assert isinstance(before, AnalyzeReport)
    after = _edited_packages(before)
    comparison: Comparison = compare((before, None), (after, None))
    views = _views(build_treemap(after, comparison))
    old = {package.name: package.compressed_bytes for package in before.dependencies.packages}
    new = {package.name: package.compressed_bytes for package in after.dependencies.packages}
    assert all(old.values()) and all(new.values())  # every package has a compressed size: the tiles' area

    pytest_tile = _tile(views["dependencies"], "pytest")
    assert "ch-removed" in _classes(pytest_tile)
    assert _share(pytest_tile) == pytest.approx(old["pytest"] / _larger(old, new), rel=2e-3)
    numpy = _tile(views["dependencies"], "numpy 2.6.0")
    assert "ch-grown" in _classes(numpy)
    assert "2.5.5 -> 2.6.0" in numpy.title and "via opencv-python, pandas" in numpy.title
    assert f"{1_500_000 / old['numpy']:+.1%}" in numpy.title
    assert "ch-new" in _classes(_tile(views["dependencies"], "requests 2.32.5"))
    assert "ch-unchanged" in _classes(_tile(views["dependencies"], "flask 3.1.3"))


# --- in a real browser ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_page_with_a_baseline_in_a_real_chromium_draws_the_removed_tile_and_the_change_legend(
    pair: Pair, tmp_path: Path
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "chromium is not on PATH: install it (apt-get install -y chromium) to run the browser test"
        )
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "page.html"
    written = run_slugprof("report", pair.after_json, "--baseline", pair.before_json, "-o", page_path)
    assert written.returncode == 0, written.stderr
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console", lambda message: problems.append(message.text) if message.type == "error" else None
            )
            page.goto(page_path.as_uri())
            swatches = _legend_swatches(page)
            shown = page.locator("#tm-svg > .view:not(.off)")
            page.locator("#tm-svg > .view:not(.off) > .tile.c-app").click()
            shown.locator("> .tile.k-folder", has=page.locator("title", has_text="media/")).click()
            removed = shown.locator("> .tile.ch-removed")
            assert removed.count() == 1
            box = removed.locator("rect").first.bounding_box()
            assert box is not None and box["width"] > 50 and box["height"] > 50
            fill = removed.locator("rect").first.evaluate("rect => getComputedStyle(rect).fill")
            removed.hover()
            detail = " ".join(page.locator("#tm-detail").inner_text().split())
        finally:
            browser.close()
    assert problems == []
    assert set(swatches) == {"new", "removed", "grown", "shrunk", "unchanged", "not compared"}
    assert len(set(swatches.values())) == len(swatches)  # each change its own look
    assert "tm-gone" in fill  # the cross-hatched pattern, defined on the page
    assert detail.startswith("media/photo_2.png removed: ")


# How a legend swatch is painted: its colour and its gradient (a pattern, for new and removed).
PAINT = (
    "swatch => [getComputedStyle(swatch).backgroundColor, getComputedStyle(swatch).backgroundImage].join(' ')"
)


def _legend_swatches(page: BrowserPage) -> dict[str, str]:
    """Each entry of the change legend, visible, and how its swatch is painted."""
    legend = page.locator("#tm-changes")
    assert legend.is_visible()
    swatches: dict[str, str] = {}
    for entry in legend.locator("span").all():
        name = re.sub(r" \(\d+\)$", "", " ".join(entry.inner_text().split()))
        paint = entry.locator("i").evaluate(PAINT)
        assert entry.locator("i").bounding_box() is not None
        swatches[name] = paint
    return swatches
