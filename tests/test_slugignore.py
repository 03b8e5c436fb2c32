""".slugignore as Heroku's published slug compiler reads it (heroku-facts 2.2), on real trees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from slugprof.model import AppInventory
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.slugignore import _bracket_regex, _expand_braces, parse_slugignore, pattern_matches

pytestmark = pytest.mark.usefixtures("isolated_git")

MakeTree = Callable[[Path, list[str]], None]

# The tree of heroku-facts 2.2 "measured"; each folder holds one file, since only files are counted.
FACTS_TREE = [
    "test/t.py",
    "src/test/t.py",
    "spec/s.py",
    "src/spec/s.py",
    "img/i.png",
    "build/img/i.png",
    ".hidden/test/t.py",
    "a.pyc",
    "src/m.pyc",
    ".hidden/z.pyc",
    "keep.py",
]


def inventory_with(root: Path, slugignore: str | bytes, make_tree: MakeTree, tree: list[str]) -> AppInventory:
    make_tree(root, tree)
    target = root / ".slugignore"
    if isinstance(slugignore, bytes):
        target.write_bytes(slugignore)
    else:
        target.write_text(slugignore)
    return collect_app_files(root)


def removed(inventory: AppInventory) -> set[str]:
    return {app_file.path for app_file in inventory.files if not app_file.included}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("test", {"test/t.py", "src/test/t.py"}),  # not .hidden/test: ** skips dot-folders
        ("/test", {"test/t.py"}),
        ("test/", {"test/t.py"}),  # anchored: not src/test
        ("*.pyc", {"a.pyc", "src/m.pyc"}),  # not .hidden/z.pyc
        ("img/", {"img/i.png"}),  # not build/img
        ("./img/", {"img/i.png"}),
        ("src/test", {"src/test/t.py"}),
        ("spec", {"spec/s.py", "src/spec/s.py"}),
        ("**/test", {"test/t.py", "src/test/t.py"}),
        ("!keep.py", set()),
        (".hidden", {".hidden/test/t.py", ".hidden/z.pyc"}),
    ],
)
def test_each_row_of_the_measured_table(
    tmp_path: Path, make_tree: MakeTree, pattern: str, expected: set[str]
) -> None:
    inventory = inventory_with(tmp_path / "app", f"{pattern}\n", make_tree, FACTS_TREE)

    assert removed(inventory) == expected
    assert [(rule.line, rule.pattern, rule.matched_paths) for rule in inventory.slugignore] == [
        (1, pattern, len(expected))
    ]
    for app_file in inventory.files:
        assert app_file.excluded_by == (f".slugignore: {pattern}" if app_file.path in expected else None)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{spec,img}", {"spec/s.py", "src/spec/s.py", "img/i.png", "build/img/i.png"}),
        ("src/{test,{spec,m.pyc}}", {"src/test/t.py", "src/spec/s.py", "src/m.pyc"}),
        ("*.{pyc,png}", {"a.pyc", "src/m.pyc", "img/i.png", "build/img/i.png"}),
        ("src/{test", set()),  # an unbalanced brace makes Ruby glob nothing
        ("?.pyc", {"a.pyc", "src/m.pyc"}),
        ("/?.pyc", {"a.pyc"}),
        ("[st][pe][es]*", {"test/t.py", "src/test/t.py", "spec/s.py", "src/spec/s.py"}),
        ("[a-c].pyc", {"a.pyc"}),
        ("[!a].pyc", {"src/m.pyc"}),
        ("[.]hidden", set()),  # a bracket never matches a leading dot
        ("?hidden", set()),
        ("*/test", {"src/test/t.py"}),  # not .hidden/test
        ("*/*/t.py", {"src/test/t.py"}),
        (".*", {".hidden/test/t.py", ".hidden/z.pyc", ".slugignore", "build/.env"}),
        ("src/**/", {"src/test/t.py", "src/spec/s.py", "src/m.pyc"}),
        ("build", {"build/img/i.png", "build/.env"}),  # dot-files inside a removed folder go too
        ("keep.py/", set()),  # a trailing '/' matches folders only
        ("*.pyc#compiled", {"a.pyc", "src/m.pyc"}),
        ("#*.pyc", set()),
    ],
)
def test_globs_follow_ruby_dir_glob(
    tmp_path: Path, make_tree: MakeTree, pattern: str, expected: set[str]
) -> None:
    inventory = inventory_with(tmp_path / "app", pattern, make_tree, [*FACTS_TREE, "build/.env"])

    assert removed(inventory) == expected


def test_the_first_pattern_in_file_order_takes_the_file(tmp_path: Path, make_tree: MakeTree) -> None:
    inventory = inventory_with(tmp_path / "app", "src\n*.pyc\nsrc/m.pyc\n", make_tree, FACTS_TREE)

    by_path = {app_file.path: app_file.excluded_by for app_file in inventory.files}
    assert by_path["src/m.pyc"] == ".slugignore: src"
    assert by_path["a.pyc"] == ".slugignore: *.pyc"
    assert [(rule.pattern, rule.matched_paths) for rule in inventory.slugignore] == [
        ("src", 3),
        ("*.pyc", 1),
        ("src/m.pyc", 0),
    ]
    assert inventory.bytes == sum(f.bytes for f in inventory.files if f.path not in removed(inventory))


def test_whitespace_splits_a_line_into_patterns(tmp_path: Path, make_tree: MakeTree) -> None:
    inventory = inventory_with(
        tmp_path / "app", "spec img/\r\n\n\t/a.pyc\x0b keep.py \n", make_tree, FACTS_TREE
    )

    assert [(rule.line, rule.pattern) for rule in inventory.slugignore] == [
        (1, "spec"),
        (1, "img/"),
        (3, "/a.pyc"),
        (3, "keep.py"),
    ]
    assert removed(inventory) == {"spec/s.py", "src/spec/s.py", "img/i.png", "a.pyc", "keep.py"}
    spec_note = inventory.slugignore[0].note
    assert spec_note is not None and "pattern of its own" in spec_note


def test_words_after_a_hash_are_still_patterns() -> None:
    # The example from Heroku's own docs: only the word holding the '#' is cut.
    patterns = parse_slugignore("# Heres a comment\n*.psd # design files\n")

    assert [(p.line, p.token) for p in patterns] == [
        (1, "Heres"),
        (1, "a"),
        (1, "comment"),
        (2, "*.psd"),
        (2, "design"),
        (2, "files"),
    ]
    assert patterns[3].note is None
    for pattern in (patterns[0], patterns[1], patterns[2], patterns[4], patterns[5]):
        assert pattern.note is not None and "Follows a '#'" in pattern.note


def test_notes_name_the_mistakes() -> None:
    notes = {
        p.token: p.note for p in parse_slugignore("!keep.py\ntests/\n/tests/\n*.txt\nPipfile.lock\n*.log\n")
    }

    assert notes["!keep.py"] is not None and "negation" in notes["!keep.py"]
    assert notes["tests/"] is not None and "src/tests" in notes["tests/"] and "'tests'" in notes["tests/"]
    assert notes["/tests/"] is None  # anchored on purpose
    assert notes["*.txt"] is not None and "requirements.txt, runtime.txt" in notes["*.txt"]
    assert notes["Pipfile.lock"] is not None and "build" in notes["Pipfile.lock"]
    assert notes["*.log"] is None


def test_a_pattern_matching_the_app_folder_removes_everything(tmp_path: Path, make_tree: MakeTree) -> None:
    inventory = inventory_with(tmp_path / "app", "/\n", make_tree, FACTS_TREE)

    assert inventory.included == ()
    (rule,) = inventory.slugignore
    assert rule.matched_paths == len(FACTS_TREE) + 1  # and .slugignore itself
    assert rule.note is not None and "whole app" in rule.note


def test_dot_star_is_flagged_for_what_the_published_compiler_does() -> None:
    (pattern,) = parse_slugignore(".*")
    assert pattern.note is not None and "'.'" in pattern.note and ".python-version" in pattern.note
    (anchored,) = parse_slugignore("**/.*")  # `**/` never lists '.', so only the build file is flagged
    assert anchored.note is not None and "'.'" not in anchored.note and ".python-version" in anchored.note


@pytest.mark.parametrize(
    "content",
    [b"spec\n\xff\xfe bad\xc3\n", b"\x00\x01\x02\xff\x00 spec \x00\n"],
    ids=["not-utf-8", "binary"],
)
def test_a_slugignore_that_is_not_text_does_not_raise(
    tmp_path: Path, make_tree: MakeTree, content: bytes
) -> None:
    inventory = inventory_with(tmp_path / "app", content, make_tree, FACTS_TREE)

    assert removed(inventory) == {"spec/s.py", "src/spec/s.py"}
    (problem,) = [p for p in inventory.problems if p.path == ".slugignore"]
    assert "replaced" in problem.reason


def test_only_the_top_level_slugignore_counts(tmp_path: Path, make_tree: MakeTree) -> None:
    root = tmp_path / "app"
    make_tree(root, [*FACTS_TREE, "src/.slugignore"])
    (root / "src" / ".slugignore").write_text("*\n")

    inventory = collect_app_files(root)

    assert removed(inventory) == set()
    assert inventory.slugignore == ()


def test_pattern_matches_directly() -> None:
    assert pattern_matches("test", "src/test", is_dir=True)
    assert not pattern_matches("test", ".hidden/test", is_dir=True)
    assert pattern_matches(".hidden", "src/.hidden", is_dir=False)
    assert pattern_matches("tests/", "tests", is_dir=True)
    assert not pattern_matches("tests/", "tests", is_dir=False)
    assert not pattern_matches("tests/", "src/tests", is_dir=True)
    assert pattern_matches("a/**/", "a/b/c", is_dir=True)
    assert not pattern_matches("a/**/", "a/.b/c", is_dir=True)
    # `**/` never descends through a symlink, but a trailing '/' matches a link to a folder.
    assert not pattern_matches("a/**/", "a/link", is_dir=True, is_symlink=True)
    assert pattern_matches("a/*/", "a/link", is_dir=True, is_symlink=True)
    assert pattern_matches(r"\*.py", "*.py", is_dir=False)
    assert not pattern_matches(r"\*.py", "x.py", is_dir=False)
    assert pattern_matches("[z-a].py", "a.py", is_dir=False)  # Ruby keeps the ends of a reversed range
    assert pattern_matches("[!]x", "-x", is_dir=False)  # '[!]' is any one character in Ruby
    assert not pattern_matches("[]]x", "]x", is_dir=False)  # '[]' is an empty set
    assert pattern_matches("a{,b}c", "ac", is_dir=False)
    assert pattern_matches("a{,b}c", "abc", is_dir=False)
    assert pattern_matches("{a,{b,{c,d}}}", "x/d", is_dir=False)
    assert not pattern_matches("a[bc", "ab", is_dir=False)  # an unclosed '[' never matches
    assert pattern_matches("src/.", "src", is_dir=True)
    assert not pattern_matches("src/.", "src", is_dir=False)
    assert pattern_matches("caf\u00e9", "x/caf\u00e9", is_dir=False)
    assert pattern_matches("*", "line\nbreak", is_dir=False)


@pytest.mark.parametrize(
    ("pattern", "expanded"),
    [
        ("plain", ["plain"]),
        ("a{b,c}d", ["abd", "acd"]),
        ("{a,{b,c}}x{1,2}", ["ax1", "ax2", "bx1", "bx2", "cx1", "cx2"]),
        ("a{,b}", ["a", "ab"]),
        (r"a\{b,c}", [r"a\{b,c}"]),  # an escaped '{' opens nothing; the lone '}' is literal
        (r"{a\,b,c}", [r"a\,b", "c"]),  # nor does an escaped ',' split
        ("x}{a,b}", ["x}a", "x}b"]),
        ("{a,b", []),  # unbalanced: Ruby globs nothing
        ("{a,{b}", []),
        ("{}", [""]),
    ],
)
def test_braces_expand_in_rubys_order(pattern: str, expanded: list[str]) -> None:
    assert list(_expand_braces(pattern)) == expanded


@pytest.mark.parametrize(
    ("bracket", "regex", "end"),
    [
        ("[abc]x", "(?!/)[abc]", 5),
        ("[!a-c]", "[^/a-c]", 6),
        ("[^z-a]", "[^/za]", 6),  # a reversed range keeps its two ends
        (r"[\]]", r"(?!/)[\]]", 4),
        ("[]", "(?!)", 2),
        ("[!]", "[^/]", 3),
        ("[a-]", r"(?!/)[a\-]", 4),  # a '-' before ']' is itself
        ("[ab", None, 3),
        ("[a-", None, 3),
    ],
)
def test_a_bracket_becomes_one_class_that_never_matches_a_slash(
    bracket: str, regex: str | None, end: int
) -> None:
    assert _bracket_regex(bracket, 1) == (regex, end)
