""".slugignore, read the way Heroku's published slug compiler reads it.

The only public implementation is the deprecated open-source compiler (heroku/slug-compiler,
lib/slug_compiler.rb, `prune_slugignore`). It splits the whole file on whitespace, cuts each word at
its first '#', and hands what is left to Ruby's `Dir.glob`: anchored at the app root when the word
contains '/', otherwise at the root and at any depth (`root/word` and `root/**/word`). Every match is
`rm -rf`'d. This module reproduces that reading, and Ruby's glob rules, over relative POSIX paths:

- `*`, `?` and `[...]` never match a name's leading '.', and `**/` never descends into a dot-folder
  nor through a symlink (Ruby's glob without FNM_DOTMATCH);
- a pattern ending in '/' matches folders only (and symlinks to folders), at the root if it has no
  other '/';
- braces expand before anything else, nested ones too; an unbalanced '{' makes the pattern match
  nothing, as in Ruby.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Ruby's String#split without arguments splits on ASCII whitespace only (not on NUL, not on U+00A0).
_RUBY_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")

# Files the Python buildpack reads. .slugignore is applied before the buildpack runs, so a pattern
# that removes one of them changes or breaks the build.
BUILD_FILES = (
    "requirements.txt",
    ".python-version",
    "runtime.txt",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "pyproject.toml",
    "Procfile",
)

# A few words of '{a,b}' can expand to millions of patterns; nobody writes that on purpose.
_MAX_BRACE_EXPANSIONS = 4096


@dataclass(frozen=True)
class SlugignorePattern:
    line: int  # 1-based line in .slugignore
    token: str  # the pattern as Heroku reads it
    note: str | None  # a mistake worth telling the user, else None
    from_comment: bool = False  # a word after '#' on its line, which Heroku still reads as a pattern


def parse_slugignore(text: str) -> tuple[SlugignorePattern, ...]:
    """The patterns of a .slugignore file, in file order, each with a note when it is likely a mistake."""
    patterns: list[SlugignorePattern] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        words = [word for word in _RUBY_WHITESPACE.split(line) if word]
        # Heroku splits on whitespace *before* it cuts comments, so only the word holding the '#'
        # is cut: the words after it on the same line are patterns.
        before_comment: list[str] = []
        after_comment: list[str] = []
        comment_seen = False
        for word in words:
            token = word.split("#", 1)[0]
            if token:
                (after_comment if comment_seen else before_comment).append(token)
            if "#" in word:
                comment_seen = True
        for token in before_comment:
            notes = []
            if len(before_comment) > 1:
                notes.append(_split_line_note(token, line_number))
            notes.extend(_token_notes(token))
            patterns.append(SlugignorePattern(line_number, token, " ".join(notes) or None))
        for token in after_comment:
            notes = [_comment_word_note(token, line_number), *_token_notes(token)]
            patterns.append(SlugignorePattern(line_number, token, " ".join(notes), from_comment=True))
    return tuple(patterns)


def pattern_matches(token: str, path: str, is_dir: bool, *, is_symlink: bool = False) -> bool:
    """Whether Heroku's glob for `token` matches `path` (POSIX, relative to the app root; "" is the root).

    `is_dir` says whether the path is a folder; for a symlink (`is_symlink=True`) whether it points to
    one: a trailing-'/' pattern matches such a link, but `**/` never descends through it.
    A match on a folder removes everything under it; callers check a file's folders as well.
    """
    return _compile(token).matches(path, is_dir=is_dir, is_symlink=is_symlink)


# --- notes -----------------------------------------------------------------------------------


def _token_notes(token: str) -> list[str]:
    compiled = _compile(token)
    notes = []
    if token.startswith("!"):
        notes.append(
            f"Heroku does not support '!' negation: '{token}' matches only a file literally named"
            f" '{token}', so this line keeps nothing that other lines remove."
        )
    bare_name = token.rstrip("/")
    if token.endswith("/") and bare_name and "/" not in bare_name:
        notes.append(
            f"A pattern containing '/' is anchored at the app root: '{token}' removes only the top-level"
            f" folder '{bare_name}', not '{bare_name}' folders deeper down (such as 'src/{bare_name}');"
            f" write '{bare_name}' to remove it at any depth."
        )
    if compiled.matches_root:
        notes.append(
            "This pattern matches the app folder itself: Heroku's published slug compiler deletes the"
            " whole app for it."
        )
    elif compiled.matches_dot_entry:
        notes.append(
            "In Heroku's published slug compiler this wildcard also matches '.', the folder itself,"
            " and so deletes the whole folder (at the top level, the whole app); slugprof counts only"
            " the names it matches. Safer: list the dot-files by name."
        )
    if compiled.has_parent_segment:
        notes.append(
            "'..' climbs out of the folder it names; slugprof treats this pattern as matching nothing."
        )
    if compiled.truncated:
        notes.append(f"Its braces expand to more than {_MAX_BRACE_EXPANSIONS} patterns; only those are used.")
    removed_build_files = [name for name in BUILD_FILES if compiled.matches(name, is_dir=False)]
    if removed_build_files and not compiled.matches_root:
        names = ", ".join(removed_build_files)
        notes.append(
            f"It removes {names}, which the build needs: Heroku applies .slugignore before the buildpack"
            " runs, so the build breaks or ignores settings."
        )
    return notes


def _split_line_note(token: str, line_number: int) -> str:
    return (
        f"Line {line_number} holds several words and Heroku splits .slugignore at every space, so"
        f" '{token}' is a pattern of its own; to match a name with a space, put '?' in its place."
    )


def _comment_word_note(token: str, line_number: int) -> str:
    return (
        f"Follows a '#' on line {line_number}: Heroku's published slug compiler splits the file at spaces"
        f" before it drops comments, so '{token}' is read as a pattern."
    )


# --- the matcher -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Glob:
    """One brace alternative of a pattern, as a regex over "seg/seg/.../" (the path plus a slash)."""

    regex: re.Pattern[str]
    symlink_regex: re.Pattern[str]  # the same, minus a trailing `**/`: Ruby never descends through links
    dir_only: bool  # the pattern ended with '/'


@dataclass(frozen=True)
class _CompiledToken:
    globs: tuple[_Glob, ...]
    matches_dot_entry: bool  # Ruby's glob would also return '.' for a wildcard in it
    has_parent_segment: bool
    truncated: bool

    def matches(self, path: str, *, is_dir: bool, is_symlink: bool = False) -> bool:
        subject = f"{path}/" if path else ""
        for glob in self.globs:
            if glob.dir_only and not is_dir:
                continue
            regex = glob.symlink_regex if is_symlink else glob.regex
            if regex.fullmatch(subject):
                return True
        return False

    @property
    def matches_root(self) -> bool:
        return self.matches("", is_dir=True)


_RECURSIVE = object()  # the `**/` element: zero or more folders whose names do not start with '.'
_RECURSIVE_REGEX = r"(?:(?!\.)[^/]+/)*"
_NEVER = "(?!)"


@functools.lru_cache(maxsize=2048)
def _compile(token: str) -> _CompiledToken:
    anchored = "/" in token
    alternatives = list(itertools.islice(_expand_braces(token), _MAX_BRACE_EXPANSIONS + 1))
    truncated = len(alternatives) > _MAX_BRACE_EXPANSIONS
    globs: list[_Glob] = []
    matches_dot_entry = False
    has_parent_segment = False
    for alternative in alternatives[:_MAX_BRACE_EXPANSIONS]:
        segments = _split_segments(alternative)
        dir_only = alternative.endswith("/")
        if any(not _is_magic(segment) and _unescape(segment) == ".." for segment in segments):
            has_parent_segment = True
            continue
        # Ruby globs the anchored form `root/token` for every token; for a token without '/', also
        # `root/**/token`, which includes the first (zero folders) except for a bare '.'.
        glob = _glob_of(segments, dir_only, after_recursive=False)
        if glob is not None:
            matches_dot_entry = matches_dot_entry or _has_wildcard_matching_dot(segments, dir_only)
            if anchored or _is_current_dir(segments):
                globs.append(glob)
        if not anchored:
            recursive_glob = _glob_of(segments, dir_only, after_recursive=True)
            if recursive_glob is not None:
                globs.append(recursive_glob)
    return _CompiledToken(tuple(globs), matches_dot_entry, has_parent_segment, truncated)


def _glob_of(segments: list[str], dir_only: bool, *, after_recursive: bool) -> _Glob | None:
    """Segments as a glob (led by `**/` when `after_recursive`); None when it can match nothing."""
    elements: list[object] = [_RECURSIVE] if after_recursive else []
    for position, segment in enumerate(segments):
        if _is_recursive(segments, position, dir_only):
            if not elements or elements[-1] is not _RECURSIVE:  # Ruby folds `**/**/` into one
                elements.append(_RECURSIVE)
            continue
        if not _is_magic(segment) and _unescape(segment) == ".":
            # Ruby finds `dir/.` with lstat, so it is `dir` itself, and only if `dir` is a folder.
            # Once a `**/` is under way Ruby reads folders instead, and never lists '.': no match.
            if _RECURSIVE in elements:
                return None
            if position == len(segments) - 1:
                dir_only = True
            continue
        elements.append(_segment_regex(segment))
    return _make_glob(elements, dir_only)


def _make_glob(elements: list[object], dir_only: bool) -> _Glob:
    def regex_of(parts: list[object]) -> re.Pattern[str]:
        return re.compile("".join(_RECURSIVE_REGEX if part is _RECURSIVE else f"{part}/" for part in parts))

    symlink_elements = list(elements)
    while symlink_elements and symlink_elements[-1] is _RECURSIVE:
        symlink_elements.pop()
    return _Glob(regex_of(elements), regex_of(symlink_elements), dir_only)


def _split_segments(pattern: str) -> list[str]:
    """Split at '/' the way Ruby's glob does: not inside '[...]', not an escaped '\\/'; no empty parts."""
    segments: list[str] = []
    current: list[str] = []
    in_bracket = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            current.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[":
            in_bracket = True
        elif char == "]":
            in_bracket = False
        elif char == "/" and not in_bracket:
            if current:
                segments.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    if current:
        segments.append("".join(current))
    # Ruby finds a segment without wildcards with lstat, where an escaped '\/' is a separator too.
    return [
        part
        for segment in segments
        for part in (segment.split("\\/") if not _is_magic(segment) else [segment])
        if part
    ]


def _is_magic(segment: str) -> bool:
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "\\":
            index += 2
            continue
        if char in "*?[":
            return True
        index += 1
    return False


def _unescape(segment: str) -> str:
    """A non-magic segment as Ruby compares it: backslashes removed, a trailing one dropped."""
    return re.sub(r"\\(.?)", r"\1", segment, flags=re.DOTALL)


def _is_current_dir(segments: list[str]) -> bool:
    return len(segments) == 1 and not _is_magic(segments[0]) and _unescape(segments[0]) == "."


def _is_recursive(segments: list[str], position: int, dir_only: bool) -> bool:
    """`**` is recursive only when a '/' follows it; a final `**` is a plain `*`."""
    is_last = position == len(segments) - 1
    return segments[position] == "**" and (not is_last or dir_only)


def _has_wildcard_matching_dot(segments: list[str], dir_only: bool) -> bool:
    # Outside a `**/` recursion Ruby's directory listing includes '.', and `.*` matches it.
    previous_recursive = False
    for position, segment in enumerate(segments):
        if _is_recursive(segments, position, dir_only):
            previous_recursive = True
            continue
        if not previous_recursive and _is_magic(segment) and re.fullmatch(_segment_regex(segment), "."):
            return True
        previous_recursive = False
    return False


def _segment_regex(segment: str) -> str:
    """One path segment's glob as a regex that matches one name (never a '/')."""
    if not _is_magic(segment):
        return re.escape(_unescape(segment))
    parts = _glob_parts(segment)
    if parts is None:
        return _NEVER
    # Without FNM_DOTMATCH a leading '.' must be matched by a literal '.'.
    starts_with_literal_dot = segment.startswith(".") or segment.startswith("\\.")
    guard = "" if starts_with_literal_dot else r"(?!\.)"
    return guard + "".join(parts)


def _glob_parts(segment: str) -> list[str] | None:
    """The regex of each character, wildcard and bracket of a magic segment, in order; None when the
    segment can never match a name."""
    parts: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "\\":
            escaped = _escaped_regex(segment, index + 1)
            if escaped is None:
                return None
            parts.append(escaped)
            index += 2
        elif char == "*":
            if parts[-1:] != ["[^/]*"]:  # consecutive stars match what one does
                parts.append("[^/]*")
            index += 1
        elif char == "?":
            parts.append("[^/]")
            index += 1
        elif char == "[":
            bracket, index = _bracket_regex(segment, index + 1)
            if bracket is None:
                return None  # an unclosed '[' never matches in Ruby's fnmatch
            parts.append(bracket)
        else:
            parts.append(re.escape(char))
            index += 1
    return parts


def _escaped_regex(segment: str, index: int) -> str | None:
    """The character a backslash escapes, at `index`, as a regex; None for a '/'."""
    if index >= len(segment):
        return ""  # a trailing backslash is dropped, as in Ruby
    if segment[index] == "/":
        return None  # compared with one name, which never holds a '/'
    return re.escape(segment[index])


def _bracket_regex(segment: str, index: int) -> tuple[str | None, int]:
    """Ruby's `bracket()`: '[!...]'/'[^...]' negate, 'a-z' ranges, '\\' escapes, no POSIX classes.

    Returns the regex and the index after the closing ']', or None when the bracket is not closed.
    A ']' right after '[' closes an empty set: '[]' matches nothing and '[!]' any one character.
    """
    negated = index < len(segment) and segment[index] in "!^"
    if negated:
        index += 1
    items, index = _bracket_items(segment, index)
    if items is None:
        return None, index
    if not items:
        return ("[^/]" if negated else _NEVER), index
    # Names never contain '/', so a class must not match one either.
    if negated:
        return f"[^/{''.join(items)}]", index
    return f"(?!/)[{''.join(items)}]", index


def _bracket_items(segment: str, index: int) -> tuple[list[str] | None, int]:
    """A bracket's characters and ranges as regex class items, read from `index` (past '[' and '!'),
    and the index after the closing ']'; None when the bracket is not closed."""
    items: list[str] = []
    while index < len(segment):
        if segment[index] == "]":
            return items, index + 1
        first, index = _bracket_char(segment, index)
        if first is None:
            return None, index
        if index + 1 < len(segment) and segment[index] == "-" and segment[index + 1] != "]":
            last, index = _bracket_char(segment, index + 1)
            if last is None:
                return None, index
            items.extend(_range_items(first, last))
        else:
            items.append(re.escape(first))
    return None, index


def _bracket_char(segment: str, index: int) -> tuple[str | None, int]:
    """The character at `index` in a bracket, a backslash escaping it, and the index after it."""
    if index < len(segment) and segment[index] == "\\":
        index += 1
    if index >= len(segment):
        return None, index
    return segment[index], index + 1


def _range_items(first: str, last: str) -> list[str]:
    if first <= last:
        return [f"{re.escape(first)}-{re.escape(last)}"]
    return [re.escape(first), re.escape(last)]  # Ruby still matches the two ends of a reversed range


def _expand_braces(pattern: str) -> Iterator[str]:
    """Ruby's `ruby_brace_expand`: the first balanced '{...}' splits at its top-level commas.

    An unbalanced '{' yields nothing at all (Ruby globs nothing); a lone '}' is literal.
    """
    left, right = _first_braces(pattern)
    if left < 0 and right < 0:
        yield pattern
        return
    if left < 0 or right < 0:
        return
    prefix, suffix = pattern[:left], pattern[right + 1 :]
    for alternative in _alternatives(pattern, left, right):
        yield from _expand_braces(prefix + alternative + suffix)


def _first_braces(pattern: str) -> tuple[int, int]:
    """The indices of the first '{' and of the '}' that balances it; -1 for one not found."""
    left = -1
    depth = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "{":
            if depth == 0:
                left = index
            depth += 1
        elif char == "}" and left >= 0:
            depth -= 1
            if depth == 0:
                return left, index
        elif char == "\\":
            index += 1
            if index >= len(pattern):
                break
        index += 1
    return left, -1


def _alternatives(pattern: str, left: int, right: int) -> Iterator[str]:
    """The alternatives between the braces at `left` and `right`, split at their top-level commas."""
    position = left
    while position < right:
        start = position + 1
        position = _alternative_end(pattern, start, right)
        yield pattern[start:position]


def _alternative_end(pattern: str, position: int, right: int) -> int:
    """The index of the top-level ',' (or the closing brace at `right`) that ends an alternative."""
    depth = 0
    while position < right and not (pattern[position] == "," and depth == 0):
        if pattern[position] == "{":
            depth += 1
        elif pattern[position] == "}":
            depth -= 1
        elif pattern[position] == "\\":
            position += 1
            if position == right:
                break
        position += 1
    return position
