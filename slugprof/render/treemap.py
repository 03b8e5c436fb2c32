"""The slug as a treemap: components, then packages and app folders, then files, laid out as rectangles.

The layout is the squarified algorithm of Bruls, Huizing and van Wijk ("Squarified Treemaps", 2000):
children sorted by size fill the shorter side of the free rectangle row by row, a row growing while
that improves its worst aspect ratio. Each node with children is one view, laid out on the whole
canvas (its children drawn small inside each tile as a preview); the page shows one view at a time
and zooms by switching views.

What is too small to see is folded into one "N smaller files" tile: children under MIN_SHARE of their
parent and those past the MAX_CHILDREN largest. So that any tree gives a page of bounded size, the
nodes with the smallest shares of the slug are then folded too until at most MAX_TILES tiles are left
(a tree of 20,000 equal files in 400 folders would otherwise keep every one). The components always
stay, however small: the page's legend zooms into each.

With a comparison with a baseline, each tile is coloured by its change since then (new, removed, grown,
shrunk, unchanged; the Python runtime and the buildpack tools, which the comparison does not cover, are
not compared), and its area is the larger of its two sizes: a file or a package removed since the
baseline keeps a tile at its old place and its old size.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from slugprof.compare import Band, Change, Comparison
from slugprof.model import AnalyzeReport, Finding
from slugprof.units import format_bytes

MIN_SHARE = 0.0005  # of the parent: under it a tile is a few pixels at most
MAX_CHILDREN = 300  # per view
MAX_TILES = 2500  # in the whole treemap, folded tiles included: a 20,000-file tree stays under 1 MB
CANVAS_WIDTH = 1000.0
CANVAS_HEIGHT = 520.0
_PREVIEW_MIN_AREA = 150.0  # a grandchild drawn inside its parent's tile when at least this big
_PREVIEWS = 24  # and among its 24 largest
_PAD = 2.0
_LABEL_HEIGHT = 15.0
_CHAR_WIDTH = 6.6  # of the 11 px label font, to cut labels that would overflow their tile

# A tile's change since the baseline, in the legend's order, with the legend's words for it.
NEW = "new"
REMOVED = "removed"
GROWN = "grown"
SHRUNK = "shrunk"
UNCHANGED = "unchanged"
UNCOMPARED = "uncompared"  # the runtime and the buildpack tools: the comparison has no figures for them
CHANGE_NAMES = {
    NEW: "new",
    REMOVED: "removed",
    GROWN: "grown",
    SHRUNK: "shrunk",
    UNCHANGED: "unchanged",
    UNCOMPARED: "not compared",
}
_CHANGED = (NEW, REMOVED, GROWN, SHRUNK)  # what a parent's title counts inside it


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    def inset(self, left: float, top: float, right: float, bottom: float) -> Rect:
        return Rect(
            self.x + left, self.y + top, max(0.0, self.w - left - right), max(0.0, self.h - top - bottom)
        )


def squarify(sizes: Sequence[float], rect: Rect) -> list[Rect]:
    """Rectangles for `sizes` (sorted largest first, all positive) filling `rect`, in the same order."""
    total = sum(sizes)
    if not sizes or total <= 0 or rect.w <= 0 or rect.h <= 0:
        return [Rect(rect.x, rect.y, 0.0, 0.0) for _ in sizes]
    scale = rect.w * rect.h / total
    areas = [size * scale for size in sizes]
    placed: list[Rect] = []
    free = rect
    start = 0
    while start < len(areas):
        side = min(free.w, free.h)
        end = start + 1
        row_sum = areas[start]
        while end < len(areas) and _worst(areas[start], areas[end], row_sum + areas[end], side) <= _worst(
            areas[start], areas[end - 1], row_sum, side
        ):
            row_sum += areas[end]
            end += 1
        rects, free = _lay_row(areas[start:end], row_sum, free)
        placed.extend(rects)
        start = end
    return placed


def _worst(largest: float, smallest: float, row_sum: float, side: float) -> float:
    """The worst aspect ratio of a row of areas from `largest` down to `smallest` along `side`."""
    side_squared = side * side
    sum_squared = row_sum * row_sum
    return max(side_squared * largest / sum_squared, sum_squared / (side_squared * smallest))


def _lay_row(row: Sequence[float], row_sum: float, free: Rect) -> tuple[list[Rect], Rect]:
    """Place a row along the shorter side of `free`; returns its rectangles and what stays free."""
    rects: list[Rect] = []
    if free.w >= free.h:  # a column at the left, as tall as the free rectangle
        width = row_sum / free.h if free.h else 0.0
        y = free.y
        for area in row:
            height = area / width if width else 0.0
            rects.append(Rect(free.x, y, width, height))
            y += height
        return rects, Rect(free.x + width, free.y, max(0.0, free.w - width), free.h)
    height = row_sum / free.w if free.w else 0.0
    x = free.x
    for area in row:
        width = area / height if height else 0.0
        rects.append(Rect(x, free.y, width, height))
        x += width
    return rects, Rect(free.x, free.y + height, free.w, max(0.0, free.h - height))


# --- the tree --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """An entry's size in the baseline and now, in the comparison's unit (bytes for app files, a
    package's compressed bytes where known), and the area it takes: the larger of the two for a file or
    a package, its parts' areas added up for a folder or a component."""

    before: int
    after: int
    span: int

    @classmethod
    def of(cls, before: int, after: int) -> Sizes:
        return cls(before, after, max(before, after))

    @classmethod
    def total(cls, parts: Iterable[Sizes]) -> Sizes:
        listed = list(parts)
        return cls(
            sum(part.before for part in listed),
            sum(part.after for part in listed),
            sum(part.span for part in listed),
        )


@dataclass(eq=False)
class Node:
    name: str
    kind: str  # "slug", "component", "folder", "file", "package", "part", "more"
    path: str  # what the tile's details name: a file's path in the app, a package's name
    bytes: int
    compressed_bytes: int | None  # None where the model has no compressed figure (app files)
    files: int = 1  # files it stands for (a package's file count, a folder's files)
    marked: bool = False  # a finding would remove it (or something inside it)
    children: list[Node] = field(default_factory=list)
    weight: float = 0.0  # its area among its siblings: compressed bytes if all of them have them
    share: float = 1.0  # of the whole slug's area
    noun: str = "files"  # what a folded tile of it counts: "files", "packages", "parts"
    items: int = 1  # how many of those it stands for
    # Since a baseline (all empty without one):
    change: str = ""  # NEW, REMOVED, GROWN, SHRUNK, UNCHANGED, or UNCOMPARED where there are no figures
    sizes: Sizes | None = None  # before and now; None where not compared
    detail: str = ""  # the comparison's words for a package: "2.1 -> 2.2", "via X"
    changed: Mapping[str, int] = field(default_factory=dict)  # the files and packages in it by change


@dataclass(frozen=True)
class _Baseline:
    """The comparison's changes by name: app files (not folders, which the tree adds up) and packages."""

    files: Mapping[str, Change]
    packages: Mapping[str, Change]

    @classmethod
    def of(cls, comparison: Comparison | None) -> _Baseline | None:
        """None without a comparison, or when a side had no analysis (nothing to compare the slug with)."""
        if comparison is None or comparison.compressed_before is None or comparison.compressed_after is None:
            return None
        files = {change.name: change for change in comparison.files if not change.name.endswith("/")}
        return cls(files, {change.name: change for change in comparison.packages})


def slug_tree(report: AnalyzeReport, comparison: Comparison | None = None) -> Node:
    """The slug's components, each with what the saved report knows is inside it; with `comparison`,
    what was removed since the baseline too, and each node's change."""
    marked = removable_paths(report)
    baseline = _Baseline.of(comparison)
    children = [_component(report, component.name, marked, baseline) for component in report.slug.components]
    name = "image" if report.generation == "fir" else "slug"  # Fir builds an image, not a slug
    root = Node(name, "slug", name, report.slug.bytes, report.slug.compressed_bytes, children=children)
    root.files = sum(child.files for child in children)
    if baseline is not None:
        _add_up_changes(root)
    _weigh(root)
    return root


def removable_paths(report: AnalyzeReport) -> frozenset[str]:
    """App files a finding would remove (its change, which the savings were measured on), to mark on
    the treemap."""
    paths = {file.path for file in report.app.included}
    return frozenset(path for finding in report.findings for path in _removed_by(finding) if path in paths)


def _removed_by(finding: Finding) -> Iterable[str]:
    return finding.change.app_paths if finding.change is not None else ()


def _component(report: AnalyzeReport, name: str, marked: frozenset[str], baseline: _Baseline | None) -> Node:
    component = next(c for c in report.slug.components if c.name == name)
    node = Node(name, "component", name, component.bytes, _known(component.compressed_bytes, component.bytes))
    if name == "app":
        node.children = _app_children(report, marked, baseline)
    elif name == "dependencies":
        node.children = _package_children(report, baseline)
    elif name == "buildpack tools":
        node.children = [
            Node(part.name, "part", part.name, part.bytes, part.compressed_bytes, noun="parts")
            for part in report.buildpack
            if part.name != "python"
        ]
    if node.children:
        node.files = sum(child.files for child in node.children)
        node.marked = any(child.marked for child in node.children)
    return node


def _app_children(report: AnalyzeReport, marked: frozenset[str], baseline: _Baseline | None) -> list[Node]:
    """The app's files and folders; with a baseline, the files removed since then too, in their old
    folders, with no bytes and no file of today."""
    files = [(file.path, file.bytes) for file in report.app.included]
    if baseline is None:
        return _folder_children(files, "", marked)
    present = {path for path, _ in files}
    gone = frozenset(
        change.name for change in baseline.files.values() if change.after == 0 and change.name not in present
    )
    children = _folder_children(sorted([*files, *((path, 0) for path in gone)]), "", marked, gone)
    for leaf in _leaves(children):
        _compare_leaf(leaf, leaf.bytes, baseline.files.get(leaf.path))
    return children


def _leaves(nodes: Iterable[Node]) -> Iterable[Node]:
    for node in nodes:
        if node.children:
            yield from _leaves(node.children)
        else:
            yield node


def _package_children(report: AnalyzeReport, baseline: _Baseline | None) -> list[Node]:
    """The installed packages; with a baseline, the packages removed since then too."""
    nodes = []
    for package in report.dependencies.packages:
        node = Node(
            f"{package.name} {package.version}",
            "package",
            f"{package.name} {package.version}",
            package.bytes,
            _known(package.compressed_bytes, package.bytes),
            files=package.file_count,
            noun="packages",
        )
        if baseline is not None:  # sized as the comparison sizes packages: compressed, else bytes
            _compare_leaf(
                node, package.compressed_bytes or package.bytes, baseline.packages.get(package.name)
            )
        nodes.append(node)
    if baseline is None:
        return nodes
    present = {package.name for package in report.dependencies.packages}
    for change in baseline.packages.values():
        if change.after == 0 and change.name not in present:
            gone = Node(change.name, "package", change.name, 0, 0, files=0, noun="packages")
            _compare_leaf(gone, 0, change)
            nodes.append(gone)
    return nodes


def _compare_leaf(node: Node, after: int, change: Change | None) -> None:
    """A file's or a package's sizes then and now, and its change: the comparison's band where it has
    one (new, removed), else the sign of the difference; unchanged when the comparison does not name it."""
    node.sizes = Sizes.of(change.before if change is not None else after, after)
    node.detail = change.detail if change is not None else ""
    node.change = _leaf_change(change)
    node.changed = {node.change: 1}


def _leaf_change(change: Change | None) -> str:
    if change is None:
        return UNCHANGED
    if change.band == Band.NEW:
        return NEW
    if change.band == Band.REMOVED:
        return REMOVED
    return GROWN if change.delta > 0 else SHRUNK if change.delta < 0 else UNCHANGED


def _add_up_changes(node: Node) -> None:
    """Each parent's sizes then and now, and its change, from its children's (after the leaves got
    theirs); what the comparison has no figures for is not compared."""
    for child in node.children:
        _add_up_changes(child)
    if node.change:
        return
    if not node.children:
        node.change, node.changed = UNCOMPARED, {UNCOMPARED: 1}
        return
    _add_up(node, node.children)


def _add_up(node: Node, parts: Sequence[Node]) -> None:
    """`node`'s change from its `parts` (its children, or the tiles it folds): the sizes added up, the
    change of the totals, the files and packages inside counted by change."""
    if not any(part.change for part in parts):
        return  # no baseline
    counted: Counter[str] = Counter()
    for part in parts:
        counted.update(part.changed)
    node.changed = dict(counted)
    sizes = [part.sizes for part in parts]
    if None in sizes:
        node.change, node.sizes = UNCOMPARED, None
        return
    node.sizes = Sizes.total(size for size in sizes if size is not None)
    node.change = _total_change(node.sizes)


def _total_change(sizes: Sizes) -> str:
    if sizes.before == sizes.after:
        return UNCHANGED
    if sizes.before == 0:
        return NEW
    if sizes.after == 0:
        return REMOVED
    return GROWN if sizes.after > sizes.before else SHRUNK


def _known(compressed: int | None, size: int) -> int | None:
    """A compressed figure, or None when the model has none (0 for something that is not empty)."""
    if compressed is None or (compressed == 0 and size > 0):
        return None
    return compressed


def _folder_children(
    files: list[tuple[str, int]], prefix: str, marked: frozenset[str], gone: frozenset[str] = frozenset()
) -> list[Node]:
    """Nodes for the files and folders directly under `prefix` ("" for the app root); the `gone` ones
    (removed since a baseline) count no file."""
    leaves: list[Node] = []
    folders: dict[str, list[tuple[str, int]]] = {}
    for path, size in files:
        head, _, rest = path[len(prefix) :].partition("/")
        if rest:
            folders.setdefault(head, []).append((path, size))
        else:
            leaves.append(
                Node(head, "file", path, size, None, files=int(path not in gone), marked=path in marked)
            )
    for name, inside in folders.items():
        children = _folder_children(inside, f"{prefix}{name}/", marked, gone)
        folder = Node(f"{name}/", "folder", f"{prefix}{name}/", sum(size for _, size in inside), None)
        folder.children = children
        folder.files = sum(child.files for child in children)
        folder.marked = any(child.marked for child in children)
        leaves.append(folder)
    return leaves


def _weigh(node: Node) -> None:
    """Each child's area among its siblings, and its share of the whole slug."""
    exact = all(child.compressed_bytes is not None for child in node.children)
    for child in node.children:
        child.weight = _area(
            child,
            float(child.compressed_bytes if exact and child.compressed_bytes is not None else child.bytes),
        )
    total = sum(child.weight for child in node.children)
    for child in node.children:
        child.share = node.share * child.weight / total if total else 0.0
        _weigh(child)


def _area(node: Node, weight: float) -> float:
    """Since a baseline, the larger of its two sizes: today's weight grown by what it shrank by, or for
    what is gone, its old size."""
    if node.sizes is None:
        return weight
    if node.sizes.after == 0:
        return float(node.sizes.span)
    return weight * node.sizes.span / node.sizes.after


# --- folding what is too small to see -------------------------------------------------------------------


def prune(root: Node, *, max_tiles: int = MAX_TILES) -> Node:
    """Fold small children into "N smaller files" tiles, per parent and then for the whole tree: the
    result has at most `max_tiles` tiles below the slug, folded ones included (the components always
    stay)."""
    _fold_small(root)
    always = {id(root), *(id(component) for component in root.children)}
    ranked = _by_share(root)

    def attempt(extra: int) -> Node:
        return _keep(root, always | {id(node) for node in ranked[:extra]})

    best = attempt(len(ranked))
    if _tile_count(best) <= max_tiles:
        return best
    low, high = 0, min(len(ranked), max_tiles)
    best = attempt(0)
    while low < high:  # the most nodes kept that leave at most max_tiles tiles
        middle = (low + high + 1) // 2
        tried = attempt(middle)
        if _tile_count(tried) <= max_tiles:
            best, low = tried, middle
        else:
            high = middle - 1
    return best


def _fold_small(node: Node) -> None:
    if not node.children:
        return
    total = sum(child.weight for child in node.children)
    ordered = sorted(node.children, key=lambda child: -child.weight)
    if node.kind == "slug":  # the components stay, however small: the legend zooms into each
        keep = [child for child in ordered if child.bytes > 0 or child.weight > 0]
    else:
        keep = [
            child
            for rank, child in enumerate(ordered)
            if rank < MAX_CHILDREN and child.weight > 0 and child.weight >= MIN_SHARE * total
        ]
    kept = {id(child) for child in keep}
    node.children = keep + _folded(node, [child for child in ordered if id(child) not in kept])
    for child in keep:
        _fold_small(child)


def _by_share(root: Node) -> list[Node]:
    """The nodes under the components, the largest share of the slug first (a parent before its child:
    its share is never smaller)."""
    ranked: list[tuple[float, int, Node]] = []
    stack = [(child, 2) for component in root.children for child in component.children]
    while stack:
        node, depth = stack.pop()
        ranked.append((node.share, -depth, node))
        stack.extend((child, depth + 1) for child in node.children)
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [node for _, _, node in ranked]


def _keep(node: Node, kept: set[int]) -> Node:
    """A copy of the tree with only the `kept` nodes, the others folded into their parent's tile."""
    keep = [child for child in node.children if id(child) in kept]
    dropped = [child for child in node.children if id(child) not in kept]
    if dropped and all(child.kind == "more" for child in keep):
        dropped += keep
        keep = []
    children = [_keep(child, kept) for child in keep] + _folded(node, dropped)
    if len(children) == 1 and children[0].kind == "more" and node.kind != "slug":
        children = []  # a folder of nothing but small files is a leaf: its title counts them
    return replace(node, children=children)


def _tile_count(node: Node) -> int:
    return sum(1 + _tile_count(child) for child in node.children)


def _folded(parent: Node, nodes: list[Node]) -> list[Node]:
    """One tile for `nodes` (merging an earlier one), or none when there is nothing to fold."""
    if not nodes:
        return []
    compressed = [node.compressed_bytes for node in nodes]
    nouns = {node.noun for node in nodes}
    noun = nouns.pop() if len(nouns) == 1 else "files"
    items = sum(node.items for node in nodes) if noun != "files" else sum(node.files for node in nodes)
    removed = sum(node.changed.get(REMOVED, 0) for node in nodes)
    name = f"{items} smaller {noun}" if items or not removed else f"{removed} removed {noun}"
    folded = Node(
        name,
        "more",
        f"{parent.path.rstrip('/')}: {name}",
        sum(node.bytes for node in nodes),
        None if None in compressed else sum(c for c in compressed if c is not None),
        files=sum(node.files for node in nodes),
        marked=any(node.marked for node in nodes),
        noun=noun,
        items=items,
    )
    folded.weight = sum(node.weight for node in nodes)
    folded.share = sum(node.share for node in nodes)
    _add_up(folded, nodes)
    return [folded]


# --- views: what the template draws ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    x: str
    y: str
    w: str
    h: str
    css: str  # classes: its component's colour, its kind
    title: str  # path, size, compressed size: the tooltip and the hover details
    label: str  # the name, cut to fit; "" when the tile is too small for text
    label_x: str
    label_y: str
    zoom: str  # the view it opens, "" for a leaf
    marked: bool  # a finding would remove it, or something in it
    previews: tuple[Preview, ...] = ()  # its own children, drawn small inside it


@dataclass(frozen=True)
class Preview:
    x: str
    y: str
    w: str
    h: str
    label: str
    label_x: str
    label_y: str
    css: str = ""  # its change since the baseline, when it changed


@dataclass(frozen=True)
class View:
    id: str
    parent: str  # "" for the slug
    name: str
    tiles: tuple[Tile, ...]


@dataclass(frozen=True)
class LegendItem:
    name: str
    css: str
    size: str
    zoom: str  # its view, "" when it has nothing inside to show


@dataclass(frozen=True)
class ChangeKey:
    name: str  # the legend's words: "grown"
    css: str  # the tiles' class: "ch-grown"
    count: int  # files, packages and parts of the slug with that change


@dataclass(frozen=True)
class Treemap:
    views: tuple[View, ...]  # the slug's first
    legend: tuple[LegendItem, ...]  # the components, each a way in however small its tile
    changes: tuple[ChangeKey, ...] = ()  # since the baseline: what each tile colour means; () without one


def build_treemap(
    report: AnalyzeReport, comparison: Comparison | None = None, *, max_tiles: int = MAX_TILES
) -> Treemap:
    """The treemap's views and legend; with `comparison`, its tiles coloured by change since the
    baseline, and what was removed since then drawn at its old size."""
    root = prune(slug_tree(report, comparison), max_tiles=max_tiles)
    views, ids = _views(root)
    legend = tuple(
        LegendItem(
            component.name,
            _colour(component) + _change_css(component),
            format_bytes(_size(component)),
            ids.get(id(component), ""),
        )
        for component in root.children
        if component.kind == "component"
    )
    return Treemap(tuple(views), legend, _change_keys(root))


def _change_keys(root: Node) -> tuple[ChangeKey, ...]:
    """Every change colour, with how many entries have it (not compared: only when something is not)."""
    if not root.change:
        return ()
    return tuple(
        ChangeKey(CHANGE_NAMES[change], f"ch-{change}", root.changed.get(change, 0))
        for change in CHANGE_NAMES
        if change != UNCOMPARED or root.changed.get(change, 0)
    )


def _change_css(node: Node) -> str:
    return f" ch-{node.change}" if node.change else ""


def _views(root: Node) -> tuple[list[View], dict[int, str]]:
    """Every view of the slug's treemap, the slug itself first, and the view id of each node."""
    ids: dict[int, str] = {}
    order: list[tuple[Node, str, str]] = []  # (node, its colour, its parent's view id)
    queue: deque[tuple[Node, str, str]] = deque([(root, "", "")])
    while queue:
        node, colour, parent = queue.popleft()
        if not node.children:
            continue
        ids[id(node)] = f"tm{len(ids)}"
        order.append((node, colour, parent))
        for child in node.children:
            queue.append((child, colour or _colour(child), ids[id(node)]))
    views = [
        View(ids[id(node)], parent, node.name, tuple(_tiles(node, colour, ids)))
        for node, colour, parent in order
    ]
    return views, ids


def _size(node: Node) -> int:
    return node.bytes if node.compressed_bytes is None else node.compressed_bytes


def _colour(component: Node) -> str:
    return "c-" + "".join(letter for letter in component.name if letter.isalpha())


def _tiles(node: Node, colour: str, ids: dict[int, str]) -> list[Tile]:
    canvas = Rect(0.0, 0.0, CANVAS_WIDTH, CANVAS_HEIGHT)
    children = sorted((child for child in node.children if child.weight > 0), key=lambda c: -c.weight)
    rects = squarify([child.weight for child in children], canvas)
    tiles = []
    for child, rect in zip(children, rects, strict=True):
        inner = rect.inset(_PAD, _PAD, _PAD, _PAD)
        if inner.w <= 0 or inner.h <= 0:
            continue
        tiles.append(
            Tile(
                _num(inner.x),
                _num(inner.y),
                _num(inner.w),
                _num(inner.h),
                f"{colour or _colour(child)} k-{child.kind}{_change_css(child)}",
                _title(child),
                _label(child.name, inner),
                _num(inner.x + 3),
                _num(inner.y + 11),
                ids.get(id(child), ""),
                child.marked,
                _previews(child, inner),
            )
        )
    return tiles


def _previews(node: Node, rect: Rect) -> tuple[Preview, ...]:
    if not node.children:
        return ()
    top = _LABEL_HEIGHT if rect.h > 2 * _LABEL_HEIGHT else _PAD
    area = rect.inset(_PAD, top, _PAD, _PAD)
    children = sorted((child for child in node.children if child.weight > 0), key=lambda c: -c.weight)
    rects = squarify([child.weight for child in children], area)
    return tuple(
        Preview(
            f"{r.x:.0f}",
            f"{r.y:.0f}",
            f"{r.w - 1:.0f}",
            f"{r.h - 1:.0f}",
            _label(child.name, r) if r.h >= 2 * _LABEL_HEIGHT and r.w >= 60 else "",
            f"{r.x + 3:.0f}",
            f"{r.y + 11:.0f}",
            f"ch-{child.change}" if child.change in _CHANGED else "",
        )
        for child, r in list(zip(children, rects, strict=True))[:_PREVIEWS]
        if r.w * r.h >= _PREVIEW_MIN_AREA and r.w >= 3 and r.h >= 3
    )


def _title(node: Node) -> str:
    """The path, the size and the compressed size (app files and folders have none of their own); since a
    baseline, the sizes then and now and what changed inside."""
    if node.change == REMOVED:
        return f"{node.path}{_since(node)}"  # nothing of it today
    size = format_bytes(node.bytes)
    if node.compressed_bytes is not None:
        size += f" · {format_bytes(node.compressed_bytes)} compressed"
    count = f" · {node.files} {'file' if node.files == 1 else 'files'}" if node.kind != "file" else ""
    removable = " · a finding would remove it" if node.marked and node.kind == "file" else ""
    return f"{node.path}\n{size}{count}{removable}{_since(node)}"


def _since(node: Node) -> str:
    """The lines on the change since the baseline ("" without one): its sizes then and now, the
    difference in bytes and percent, a package's version change and requirement, what changed inside."""
    if not node.change:
        return ""
    if node.sizes is None:
        return "\nnot compared with the baseline"
    before, after = node.sizes.before, node.sizes.after
    delta = after - before
    words = f"{node.change}: {format_bytes(after)}"  # short: a page of 2,500 tiles carries 2,500 of them
    if delta:
        share = f", {delta / before:+.1%}" if before else ""
        difference = f"{format_bytes(delta, signed=True)}{share}"
        words = f"{node.change}: {format_bytes(before)} -> {format_bytes(after)} ({difference})"
    detail = f" · {node.detail}" if node.detail else ""
    return f"\n{words}{detail}{_inside(node)}"


def _inside(node: Node) -> str:
    """For a folder, a component or a folded tile: the files and packages in it that changed."""
    counts = [f"{node.changed[change]} {change}" for change in _CHANGED if node.changed.get(change)]
    if node.kind in ("file", "package", "part") or not counts:
        return ""
    return f"\nchanged inside: {', '.join(counts)}"


def _label(name: str, rect: Rect) -> str:
    if rect.h < _LABEL_HEIGHT or rect.w < 4 * _CHAR_WIDTH:
        return ""
    fits = int((rect.w - 6) // _CHAR_WIDTH)
    if len(name) <= fits:
        return name
    return name[: fits - 1] + "…" if fits >= 5 else ""


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
