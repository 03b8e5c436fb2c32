"""SLUG21x and SLUG22x: what `.slugignore` could remove, offered as one block with its measured saving,
and the mistakes in the `.slugignore` the app has.

Heroku's rule (heroku-facts 2.1-2.2): a pattern with a `/` is anchored at the app root, one without
matches at any depth, a matched folder goes whole, `!` is not supported. The block is written in that
rule, and what it removes is computed with the same matcher the app files are listed with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from slugprof.model import AppFile, Edit, Evidence, Fix, Location, Severity, SlugChange
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.sources.appfiles import SLUGIGNORE, removed_by_slugignore
from slugprof.units import format_bytes

# Folders that hold what the dyno never runs. Names as people write them; matched whole.
_FOLDERS = {
    "tests": "tests",
    "test": "tests",
    "testing": "tests",
    "spec": "tests",
    "docs": "documentation",
    "doc": "documentation",
    ".pytest_cache": "caches",
    ".mypy_cache": "caches",
    ".ruff_cache": "caches",
    ".tox": "caches",
    ".nox": "caches",
    "htmlcov": "caches",
    ".ipynb_checkpoints": "caches",
}
# Extensions the dyno never reads, whatever names them.
_NEVER_READ = {
    "ipynb": "notebooks",
    **{
        ext: "media and design files"
        for ext in (
            "psd",
            "ai",
            "sketch",
            "fig",
            "xd",
            "mp4",
            "mov",
            "avi",
            "mkv",
            "wav",
            "flac",
            "aiff",
            "tif",
            "tiff",
            "raw",
        )
    },
}
# Extensions that are data the app may load: proposed only where no .py file of the app names them.
_DATA = {
    **{ext: "local databases" for ext in ("sqlite", "sqlite3", "db")},
    **{ext: "ML model files" for ext in ("pt", "pth", "bin", "safetensors", "onnx", "pkl", "joblib", "h5")},
    **{ext: "large data files" for ext in ("csv", "parquet", "xlsx", "xls", "feather", "npy", "npz")},
}
# Data files smaller than this are left alone: not worth a line, and often fixtures the app reads.
_LARGE_DATA_BYTES = 1_000_000
# Files the build or the dyno needs: never proposed, whatever pattern would reach them.
_NEEDED = re.compile(
    r"^(requirements[^/]*\.txt|Pipfile(\.lock)?|poetry\.lock|uv\.lock|pyproject\.toml|setup\.(py|cfg)|"
    r"\.python-version|runtime\.txt|Procfile|manage\.py|app\.json|\.slugignore|bin/(pre|post)_compile)$"
)


@dataclass(frozen=True)
class _Line:
    pattern: str
    reason: str  # "tests", "notebooks", ...


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""


def _folder_lines(files: list[AppFile]) -> list[_Line]:
    """A folder name at any depth (`tests`), or root-anchored (`/tests`) when it only exists there."""
    depths: dict[str, set[int]] = {}
    for file in files:
        parts = file.path.split("/")[:-1]
        for depth, part in enumerate(parts):
            if part in _FOLDERS:
                depths.setdefault(part, set()).add(depth)
    return [
        _Line(f"/{name}" if found == {0} else name, _FOLDERS[name]) for name, found in sorted(depths.items())
    ]


def _named_in_code(inputs: RuleInputs, files: list[AppFile]) -> str:
    """The text of every .py file of the app the buildpack sees: where a data file's name would be."""
    texts = [
        inputs.files.read_text(f.path) or "" for f in files if f.path.endswith(".py") and f.bytes < 2_000_000
    ]
    return "\n".join(texts)


def _extension_lines(inputs: RuleInputs, files: list[AppFile]) -> list[_Line]:
    """`*.ext` for what the dyno never reads; for data, `*.ext` when no file of that kind is named in
    the code, else one root-anchored line per large file that is not."""
    code = _named_in_code(inputs, files)
    by_extension: dict[str, list[AppFile]] = {}
    for file in files:
        by_extension.setdefault(_extension(file.path), []).append(file)
    lines = []
    for extension, group in sorted(by_extension.items()):
        if extension in _NEVER_READ:
            lines.append(_Line(f"*.{extension}", _NEVER_READ[extension]))
        elif extension in _DATA:
            # Size first (it needs no search through the code), then the name: large and unnamed.
            big = [f for f in group if f.bytes >= _LARGE_DATA_BYTES or _DATA[extension] != "large data files"]
            large = [f for f in big if f.path.rsplit("/", 1)[-1] not in code]
            if not large:
                continue
            if len(large) == len(group):  # every file of the kind is large and unnamed
                lines.append(_Line(f"*.{extension}", _DATA[extension]))
            else:
                lines.extend(_Line("/" + f.path, _DATA[extension]) for f in large)
    return lines


def _block(lines: Iterable[_Line]) -> tuple[str, list[_Line]]:
    """The patterns, one a line, grouped by reason, and the lines in that order. No comment lines:
    Heroku's published compiler reads the words after a `#` as patterns too (see SLUG221)."""
    ordered = sorted(lines, key=lambda line: line.reason)
    return "".join(f"{line.pattern}\n" for line in ordered), ordered


@rule(
    "SLUG210",
    "slugignore-candidates",
    Severity.WARNING,
    summary="App files the dyno never uses ship in the slug: tests, docs, notebooks, media, caches, local "
    "databases, and data or model files that no .py file of the app names.",
    why="Every file in the slug is compressed, stored and unpacked at each dyno boot; .slugignore removes "
    "them after the push, before the build.",
    fix="Append the block to .slugignore (one ready-to-paste block, in Heroku's pattern rule).",
    source="heroku-facts 2.1 (.slugignore), 7 (what bloats slugs)",
)
def slugignore_candidates(inputs: RuleInputs) -> Iterator[Hit]:
    # The build's own files (collectstatic's) are written after .slugignore applies: it cannot remove them.
    pushed = [f for f in inputs.report.app.included if f.built_by is None]
    included = [f for f in pushed if not _NEEDED.match(f.path)]
    lines = [*_folder_lines(included), *_extension_lines(inputs, included)]
    if not lines:
        return
    block, ordered = _block(lines)
    removed = removed_by_slugignore(block, pushed)
    paths = sorted(path for path in removed if not _NEEDED.match(path))
    if not paths:
        return
    sizes = {f.path: f.bytes for f in inputs.report.app.included}
    by_reason: dict[str, list[str]] = {}
    for path in paths:
        by_reason.setdefault(ordered[removed[path]].reason, []).append(path)
    evidence = tuple(
        f"{reason}: {len(found)} files, {format_bytes(sum(sizes[p] for p in found))}"
        for reason, found in by_reason.items()
    )
    yield Hit(
        title=f"{len(paths)} app files ({format_bytes(sum(sizes[p] for p in paths))}) the dyno never uses "
        "ship in the slug: add them to .slugignore",
        evidence=evidence,
        evidence_class=Evidence.MEASURED,
        location=Location(SLUGIGNORE),
        fix=Fix(
            summary="append this block to .slugignore",
            edits=(Edit(path=SLUGIGNORE, old=None, new=block),),
        ),
        change=SlugChange(app_paths=tuple(paths)),
    )


def _rule_location(line: int) -> Location:
    return Location(SLUGIGNORE, line)


@rule(
    "SLUG220",
    "slugignore-mistake",
    Severity.WARNING,
    summary="A .slugignore line does not do what it looks like: a `!` negation, `dir/` meant for any "
    "depth, a wildcard that reaches the app folder itself, braces or `..` Heroku reads otherwise.",
    why="Heroku's rule is not .gitignore's: no negation, `/` anchors a pattern at the root, and a "
    "pattern that matches the app folder deletes the whole app.",
    fix="Rewrite the line as the evidence says.",
    source="heroku-facts 2.1-2.2 (.slugignore semantics)",
)
def slugignore_mistake(inputs: RuleInputs) -> Iterator[Hit]:
    for entry in inputs.report.app.slugignore:
        if entry.note is None or entry.from_comment:
            continue
        fix = Fix(summary=f"rewrite line {entry.line} of .slugignore")
        if entry.pattern.startswith("!"):
            fix = Fix(
                summary=f"delete `{entry.pattern}` (it keeps nothing); narrow the line that removes the file",
                edits=(Edit(path=SLUGIGNORE, old=f"{entry.pattern}\n", new=""),),
            )
        elif entry.pattern.endswith("/") and "/" not in entry.pattern.rstrip("/"):
            bare = entry.pattern.rstrip("/")
            fix = Fix(
                summary=f"write `{bare}` to remove `{bare}` folders at any depth",
                edits=(Edit(path=SLUGIGNORE, old=f"{entry.pattern}\n", new=f"{bare}\n"),),
            )
        yield Hit(
            title=f".slugignore line {entry.line}, `{entry.pattern}`, does not do what it looks like",
            evidence=(entry.note, f"it removes {entry.matched_paths} files"),
            location=_rule_location(entry.line),
            fix=fix,
        )


@rule(
    "SLUG221",
    "slugignore-comment-words",
    Severity.WARNING,
    summary="Words after a `#` in .slugignore are read as patterns.",
    why="Heroku's published slug compiler splits the file at spaces before it drops comments, so each word "
    "of `# not needed in prod` removes any file or folder of that name.",
    fix="Delete the comment lines (or keep comments to single words that name nothing in the app).",
    source="heroku-facts 2.2 (the open-source slug compiler)",
)
def slugignore_comment_words(inputs: RuleInputs) -> Iterator[Hit]:
    by_line: dict[int, list[tuple[str, int]]] = {}
    for entry in inputs.report.app.slugignore:
        if entry.from_comment:
            by_line.setdefault(entry.line, []).append((entry.pattern, entry.matched_paths))
    if not by_line:
        return
    words = [word for found in by_line.values() for word, _ in found]
    matched = sum(count for found in by_line.values() for _, count in found)
    lines = ", ".join(str(line) for line in sorted(by_line))
    where = f"line {lines} is" if len(by_line) == 1 else f"lines {lines} are"
    count = f"{len(words)} pattern" + ("" if len(words) == 1 else "s")
    evidence = [
        f"line {line}: " + ", ".join(f"`{word}` removes {count} files" for word, count in found)
        for line, found in sorted(by_line.items())
    ]
    yield Hit(
        title=f"the comment on .slugignore {where} read as {count}"
        + (f", which remove {matched} files" if matched else ""),
        evidence=tuple(evidence),
        location=_rule_location(min(by_line)),
        fix=Fix(summary=f"delete the comment lines ({lines}) of .slugignore"),
    )


@rule(
    "SLUG222",
    "slugignore-matches-nothing",
    Severity.INFO,
    summary="A .slugignore pattern matches no file (said when it would match in another letter case).",
    why="Heroku's patterns are case-sensitive: `*.jpg` keeps every `.JPG`. A pattern that matches nothing "
    "is either stale or mistyped.",
    fix="Fix the pattern's case or delete it.",
    source="heroku-facts 2.1-2.2",
)
def slugignore_matches_nothing(inputs: RuleInputs) -> Iterator[Hit]:
    app = inputs.report.app
    lowered = [
        AppFile(path=f.path.lower(), bytes=f.bytes, included=True, kind=f.kind)
        for f in app.files
        if f.built_by is None
    ]
    for entry in app.slugignore:
        if entry.matched_paths or entry.note is not None or entry.from_comment:
            continue
        other_case = len(removed_by_slugignore(entry.pattern.lower() + "\n", lowered))
        evidence = [f"line {entry.line}: `{entry.pattern}` matches none of the {len(lowered)} pushed files"]
        if other_case:
            evidence.append(f"in another letter case it would match {other_case} files")
        yield Hit(
            title=f".slugignore line {entry.line}, `{entry.pattern}`, matches nothing"
            + (f" (it would match {other_case} files in another letter case)" if other_case else ""),
            evidence=tuple(evidence),
            location=_rule_location(entry.line),
            fix=Fix(summary="match the files' letter case" if other_case else "delete the line"),
        )


@rule(
    "SLUG223",
    "slugignore-removes-needed-file",
    Severity.ERROR,
    summary=".slugignore removes a file the build or the app needs: a manager or version file, the "
    "Procfile, manage.py, or a file the app's code names.",
    why="Heroku applies .slugignore before the buildpack runs: the build does not see the file, and the "
    "dyno does not have it.",
    fix="Narrow the pattern so that it spares the file.",
    source="heroku-facts 2.1 (consequence 2)",
)
def slugignore_removes_needed_file(inputs: RuleInputs) -> Iterator[Hit]:
    app = inputs.report.app
    removed = [f for f in app.files if not f.included and f.excluded_by is not None]
    if not removed:
        return
    code = _named_in_code(inputs, list(app.included))
    for file in removed:
        name = file.path.rsplit("/", 1)[-1]
        needed_by_build = bool(_NEEDED.match(file.path))
        if not needed_by_build and not (name not in ("", "__init__.py") and _named(name, code)):
            continue
        who = "the build needs" if needed_by_build else "the app's code opens by name"
        yield Hit(
            title=f"{file.excluded_by} removes {file.path}, which {who}",
            evidence=(f"{file.path} is pushed, then removed by {file.excluded_by}",),
            location=Location(SLUGIGNORE),
            fix=Fix(summary=f"narrow the pattern so that it spares {file.path}"),
        )


def _named(name: str, code: str) -> bool:
    """Whether the code holds the file's name as a string literal (quoted)."""
    return f'"{name}' in code or f"'{name}" in code or f'/{name}"' in code or f"/{name}'" in code
