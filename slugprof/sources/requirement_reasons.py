"""Why pip refuses a requirement line, in words, and the line it most likely meant.

packaging's parser says where it stopped ("Expected semicolon (after name with no version specifier)
or end"); people need what to write instead. Each check below recognises one common mistake; the last
resort is packaging's own message, never the echo of the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = r"(?:\s*\[[^\]]*\])?"
_OPERATOR = r"(?:===|==|!=|~=|>=|<=|>|<)"
_VERSION_LIKE = r"v?\d[\w.*+!-]*"
_MARKER_VARIABLES = (
    "python_version",
    "python_full_version",
    "os_name",
    "sys_platform",
    "platform_release",
    "platform_system",
    "platform_version",
    "platform_machine",
    "platform_python_implementation",
    "implementation_name",
    "implementation_version",
    "extra",
)
_MARKER_VALUE = re.compile(
    rf"\b(?P<variable>{'|'.join(_MARKER_VARIABLES)})\s*(?P<operator>{_OPERATOR}|not in|in)\s*"
    r"(?P<value>[^'\"\s()<>=!~]+)"
)


@dataclass(frozen=True)
class Reason:
    """What is wrong with a requirement, and the line to write instead when there is an obvious one."""

    text: str
    replacement: str | None = None


def explain(requirement: str, parser_message: str) -> Reason:
    """Why `requirement` (the requirement part of a line, options and comment removed) is refused."""
    for check in _CHECKS:
        reason = check(requirement.strip())
        if reason is not None:
            return reason
    first = parser_message.splitlines()[0].strip() if parser_message.strip() else "not valid"
    return Reason(f"pip cannot read it as a requirement ({first[:1].lower()}{first[1:]})")


def _pip_command(text: str) -> Reason | None:
    match = re.match(r"^(?:python3?\s+-m\s+)?pip3?\s+install\s+(?P<rest>.+)$", text)
    if match is None:
        return None
    rest = match.group("rest").strip()
    return Reason(f"a pip command, not a requirement: write only the package (`{rest}`)", rest)


def _version_without_operator(text: str) -> Reason | None:
    match = re.match(rf"^(?P<name>{_NAME}{_EXTRAS})\s+(?P<version>{_VERSION_LIKE})$", text)
    if match is None:
        return None
    fixed = f"{match.group('name')}=={match.group('version').removeprefix('v')}"
    return Reason(f"a version specifier needs an operator: write `{fixed}`", fixed)


def _single_equals(text: str) -> Reason | None:
    match = re.match(rf"^(?P<name>{_NAME}{_EXTRAS})\s*=\s*(?P<version>{_VERSION_LIKE})$", text)
    if match is None:
        return None
    fixed = f"{match.group('name')}=={match.group('version')}"
    return Reason(f"`=` is not a version operator: write `{fixed}`", fixed)


def _parenthesised(text: str) -> Reason | None:
    match = re.match(rf"^(?P<name>{_NAME}{_EXTRAS})\s*\((?P<inside>[^)]*)\)$", text)
    if match is None:
        return None
    inside = match.group("inside").replace(" ", "")
    specifier = inside if re.match(_OPERATOR, inside) else f"=={inside}"
    fixed = f"{match.group('name')}{specifier}"
    return Reason(f"versions are not written in parentheses: write `{fixed}`", fixed)


def _operator_without_version(text: str) -> Reason | None:
    match = re.match(rf"^(?P<name>{_NAME}{_EXTRAS})\s*(?:[^;]*,\s*)?(?P<operator>{_OPERATOR})\s*$", text)
    if match is None:
        return None
    return Reason(f"`{match.group('operator')}` has no version after it: name the version it compares with")


def _missing_comma(text: str) -> Reason | None:
    match = re.match(
        rf"^(?P<name>{_NAME}{_EXTRAS})\s*(?P<first>{_OPERATOR}\s*[^,;\s<>=!~]+)\s*"
        rf"(?P<second>{_OPERATOR}\s*[^,;\s<>=!~]+)$",
        text,
    )
    if match is None:
        return None
    fixed = f"{match.group('name')}{match.group('first')},{match.group('second')}".replace(" ", "")
    return Reason(f"version specifiers are separated by commas: write `{fixed}`", fixed)


def _invalid_version(text: str) -> Reason | None:
    match = re.match(rf"^{_NAME}{_EXTRAS}\s*(?P<specifiers>{_OPERATOR}[^;]*?)\s*(?:;.*)?$", text)
    if match is None:
        return None
    for specifier in match.group("specifiers").split(","):
        try:
            Specifier(specifier.strip())
        except InvalidSpecifier:
            shown = specifier.strip()
            version = re.sub(rf"^{_OPERATOR}\s*", "", shown)
            if " " in version:
                return None  # words after the version: another check says so
            return Reason(f"`{version}` is not a version pip understands (PEP 440), in `{shown}`")
    return None


def _unclosed_extras(text: str) -> Reason | None:
    head = text.split(";", 1)[0]
    if "[" in head and "]" not in head:
        return Reason("the `[` that opens the extras is never closed with `]`")
    return None


def _bad_marker(text: str) -> Reason | None:
    if ";" not in text:
        return None
    requirement, _, marker = text.partition(";")
    if not _parses(requirement):
        return None
    marker = marker.strip()
    unquoted = _MARKER_VALUE.search(marker)
    if unquoted is not None:
        variable, operator, value = unquoted.group("variable", "operator", "value")
        quoted = f'{variable} {operator} "{value}"'
        fixed = f"{requirement.strip()}; {marker[: unquoted.start()]}{quoted}{marker[unquoted.end() :]}"
        return Reason(f"a marker compares with a quoted string: write `{quoted}`", fixed)
    first = re.match(r"^\(*\s*(?P<word>[A-Za-z_][A-Za-z0-9_.]*)", marker)
    if first is not None and first.group("word") not in (*_MARKER_VARIABLES, "and", "or", "not", "in"):
        return Reason(
            f"`{first.group('word')}` is not an environment marker variable (such as python_version, "
            "sys_platform or platform_system)"
        )
    if not marker:
        return Reason("nothing follows the `;` that starts an environment marker")
    return Reason("the environment marker after `;` is not valid PEP 508")


def _url_missing(text: str) -> Reason | None:
    if re.match(rf"^{_NAME}{_EXTRAS}\s*@\s*$", text):
        return Reason("`@` must be followed by the URL of the package")
    return None


def _words_after(text: str) -> Reason | None:
    head, _, rest = text.partition(" ")
    rest = rest.strip()
    if not rest or ";" in text or not _parses(head):
        return None
    if not re.search(_OPERATOR, head):
        return Reason("a package name has no spaces: write one requirement per line")
    return Reason(
        f"`{rest}` after `{head}` is not part of a requirement: write one requirement per line, "
        "and a comment after ` #`",
        head,
    )


def _bad_name(text: str) -> Reason | None:
    match = re.match(rf"^{_NAME}", text)
    if match is None:
        return Reason("a requirement starts with a package name (letters, digits, `.`, `_` or `-`)")
    rest = text[match.end() :]
    if rest and not (rest[0] in " \t[(;@" or re.match(_OPERATOR, rest)):
        return Reason(f"`{rest[0]}` cannot be part of a package name")
    return None


def _parses(text: str) -> bool:
    try:
        Requirement(text.strip())
    except InvalidRequirement:
        return False
    return True


_CHECKS: tuple[Callable[[str], Reason | None], ...] = (
    _pip_command,
    _version_without_operator,
    _single_equals,
    _parenthesised,
    _operator_without_version,
    _missing_comma,
    _url_missing,
    _unclosed_extras,
    _bad_marker,
    _invalid_version,
    _words_after,
    _bad_name,
)
