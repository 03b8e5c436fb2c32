"""The one reader of shell command text (a Procfile command, as the dyno's `sh -c` reads it) and the
one way to quote a word for it.

It follows the POSIX shell's token rules (quotes, backslashes, `$( )`, `${ }` and backticks kept whole,
comments, operators, redirections with their file descriptor number), without expanding anything:
a word's value keeps `$PORT` as written. Here-documents, `case` and `( )` subshells are not read.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

# Longest first: the lexer takes the longest operator that the text starts with.
CONTROL_OPERATORS = ("&&", "||", ";", "|", "&", "\n", "(", ")")
REDIRECTIONS = ("&>>", "<<-", "&>", ">>", ">&", ">|", "<<", "<&", "<>", ">", "<")
_OPERATORS = sorted((*CONTROL_OPERATORS, *REDIRECTIONS), key=len, reverse=True)
_DOUBLE_QUOTE_ESCAPES = '$`"\\\n'  # what a backslash escapes inside double quotes (POSIX 2.2.3)
LIST_SEPARATORS = ("&&", ";", "\n")


class ShellSyntaxError(ValueError):
    """The text is not a command the shell would run (or not one this reader knows)."""


@dataclass(frozen=True)
class Word:
    start: int  # where it is in the text: text[start:end] is the word as written
    end: int
    value: str  # as the shell would pass it, but with $VARIABLES and $(commands) left unexpanded


@dataclass(frozen=True)
class Operator:
    start: int
    end: int
    text: str  # one of CONTROL_OPERATORS or REDIRECTIONS, with its descriptor number: "2>&"

    @property
    def is_redirection(self) -> bool:
        return self.text.lstrip("0123456789") in REDIRECTIONS


Token: TypeAlias = Word | Operator


def quote(value: str) -> str:
    """The value as one shell word."""
    return shlex.quote(value)


def join(values: Iterable[str]) -> str:
    """The values as shell words, one each."""
    return " ".join(quote(value) for value in values)


def tokens(text: str) -> list[Token]:
    """The words and operators of `text`, in order. Raises ShellSyntaxError for an unclosed quote."""
    found: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\n" and char.isspace():
            index += 1
        elif text.startswith("\\\n", index):  # a line continuation
            index += 2
        elif char == "#":  # a comment, to the end of the line
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif operator := _operator_at(text, index):
            found.append(Operator(index, index + len(operator), operator))
            index += len(operator)
        else:
            start = index
            index, value = _scan_word(text, index)
            redirection = _operator_at(text, index)
            if text[start:index].isdigit() and redirection in REDIRECTIONS:  # "2" of "2>&1"
                index += len(redirection)
                found.append(Operator(start, index, text[start:index]))
            else:
                found.append(Word(start, index, value))
    return found


def command_list(text: str) -> list[tuple[Word, ...]] | None:
    """The words of each command of a list joined by `;`, `&&` or new lines, redirections left out.

    None when the text runs a pipeline (`|`), `||` or a job in the background (`&`): it is not one
    command after another. Empty commands (a trailing `;`) are dropped.
    """
    commands: list[list[Word]] = [[]]
    redirected = False  # the previous token was a redirection: this word is its file
    for token in tokens(text):
        if isinstance(token, Word):
            if not redirected:
                commands[-1].append(token)
            redirected = False
            continue
        if redirected:
            raise ShellSyntaxError(f"a redirection has no file before {token.text!r}")
        if token.is_redirection:
            redirected = True
        elif token.text in ("(", ")"):
            raise ShellSyntaxError("subshells in ( ) are not supported")
        elif token.text in LIST_SEPARATORS:
            commands.append([])
        else:
            return None
    if redirected:
        raise ShellSyntaxError("a redirection has no file")
    return [tuple(command) for command in commands if command]


def _operator_at(text: str, index: int) -> str:
    return next((operator for operator in _OPERATORS if text.startswith(operator, index)), "")


def _scan_word(text: str, index: int) -> tuple[int, str]:
    """(where the word that starts at `index` ends, its value)."""
    value: list[str] = []
    while index < len(text):
        char = text[index]
        if char.isspace() or _operator_at(text, index):
            break
        if char == "\\":
            if index + 1 == len(text):
                raise ShellSyntaxError("the command ends with a backslash")
            if text[index + 1] != "\n":
                value.append(text[index + 1])
            index += 2
        elif char == "'":
            close = _closing(text, "'", index + 1)
            value.append(text[index + 1 : close])
            index = close + 1
        elif char == '"':
            index = _scan_double_quoted(text, index + 1, value)
        elif _expansion_at(text, index):
            index = _take_expansion(text, index, value)
        else:
            value.append(char)
            index += 1
    return index, "".join(value)


def _take_expansion(text: str, index: int, value: list[str]) -> int:
    """Keep a `$...` expansion (or a backquoted one) as written; returns the index after it."""
    end = _skip_expansion(text, index)
    value.append(text[index:end])
    return end


def _closing(text: str, quote_char: str, index: int) -> int:
    close = text.find(quote_char, index)
    if close < 0:
        raise ShellSyntaxError("a quote is not closed")
    return close


def _scan_double_quoted(text: str, index: int, value: list[str]) -> int:
    """Read from just after an opening `"`; returns the index after the closing one."""
    while index < len(text):
        char = text[index]
        if char == '"':
            return index + 1
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _DOUBLE_QUOTE_ESCAPES:
            if text[index + 1] != "\n":
                value.append(text[index + 1])
            index += 2
        elif _expansion_at(text, index):
            index = _take_expansion(text, index, value)
        else:
            value.append(char)
            index += 1
    raise ShellSyntaxError("a quote is not closed")


def _expansion_at(text: str, index: int) -> bool:
    return text[index] == "`" or (text[index] == "$" and text[index + 1 : index + 2] in ("(", "{"))


def _skip_expansion(text: str, index: int) -> int:
    """The index after the `...`, $( ... ) or ${ ... } that starts at `index`, nested ones included."""
    if text[index] == "`":
        return _skip_backquoted(text, index + 1)
    return _skip_bracketed(text, index + 1)


def _skip_backquoted(text: str, position: int) -> int:
    """From just after an opening backquote: the index after the closing one (backslashes escape)."""
    while position < len(text):
        if text[position] == "\\":
            position += 2
        elif text[position] == "`":
            return position + 1
        else:
            position += 1
    raise ShellSyntaxError("a ` is not closed")


def _skip_bracketed(text: str, position: int) -> int:
    """From the `(` or `{` after a `$`: the index after its match; quotes and nested expansions inside
    are skipped whole, so their brackets do not count."""
    opening, closing = ("(", ")") if text[position] == "(" else ("{", "}")
    depth = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
        elif char == "'":
            position = _closing(text, "'", position + 1) + 1
        elif char == '"':
            position = _scan_double_quoted(text, position + 1, [])
        elif _expansion_at(text, position):
            position = _skip_expansion(text, position)
        else:
            if char == opening:
                depth += 1
            elif char == closing:
                depth -= 1
                if depth == 0:
                    return position + 1
            position += 1
    raise ShellSyntaxError(f"a ${opening} is not closed")
