"""The one reader of which program a Procfile command runs, with which arguments: its Launch.

The command is split by the project's shell reader; the program is the one the last command of the list
runs (what runs after `cd app &&` or `python manage.py migrate &&`), past `VAR=value` assignments, `exec`
and the wrappers that exec what they are given (`ddtrace-run gunicorn ...`). Its server is the console
script (`gunicorn`), `python -m MODULE`, `python FILE.py` or `python manage.py`. Nothing is expanded:
`$PORT` stays as written.

A Launch is read from a Procfile line (for the fixes that rewrite the line) or from a bare command
(the one a profile stores).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from slugprof.shell import ShellSyntaxError, Word, command_list
from slugprof.sources.procfile import ProcfileLine

# Console scripts and the name this module knows each server by.
SERVERS = {
    "gunicorn": "gunicorn",
    "uvicorn": "uvicorn",
    "hypercorn": "hypercorn",
    "daphne": "daphne",
    "waitress-serve": "waitress",
    "flask": "flask",
    "celery": "celery",
    "django-admin": "django",
}
# The servers `python -m SERVER` runs: each module has the server's name.
MODULES = frozenset({"gunicorn", "uvicorn", "hypercorn", "daphne", "waitress", "flask", "celery", "django"})
# Programs that set something up and then exec the command they are given.
EXEC_WRAPPERS = (("ddtrace-run",), ("newrelic-admin", "run-program"))
_PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON_FLAGS_WITH_VALUE = {"-W", "-X", "--check-hash-based-pycs"}


class NotOneProgram(ValueError):
    """The command runs a pipeline (`|`), `||` or a job in the background (`&`): not one program run
    after the commands before it."""


class NoProgram(ValueError):
    """The command runs no program: nothing, only `VAR=value` assignments, or `exec` alone."""


@dataclass(frozen=True)
class Launch:
    """The program a command runs last, as this module reads it."""

    command: str  # the command text (the words' positions are in it)
    words: tuple[Word, ...]  # the words of the command's last simple command
    program: int  # the index in `words` of the program's own word (`gunicorn`, or `python` of `-m`)
    server: str  # a value of SERVERS, "script" (python FILE.py), or "" (another program)
    args: tuple[Word, ...]  # the words after the server (after `-m MODULE` or the script)
    script: str | None = None  # python FILE.py: the file as written (relative to `folder`)
    assigned: dict[str, str] = field(default_factory=dict)  # VAR=value before it, and `export`s
    folder: str = ""  # where a `cd FOLDER &&` before it moves to, relative to the app root

    @property
    def values(self) -> list[str]:
        """The arguments' values, in the order (and at the indexes) of `args`."""
        return [word.value for word in self.args]

    @property
    def program_name(self) -> str:
        """The program as a process is named: `gunicorn` for `.venv/bin/gunicorn`."""
        return os.path.basename(self.words[self.program].value)

    @property
    def runs_python(self) -> bool:
        return _PYTHON.fullmatch(self.program_name) is not None

    @property
    def python_flags(self) -> tuple[Word, ...]:
        """python's own flags (and their values) before the script, `-m` or `-c`; () for another
        program."""
        if not self.runs_python:
            return ()
        rest = self.words[self.program + 1 :]
        return rest[: python_program_index(rest)]

    def in_folder(self, path: str) -> str:
        """The app-relative path of `path` as the program, run in `folder`, names it."""
        return posixpath.normpath(posixpath.join(self.folder, path)) if self.folder else path


@dataclass(frozen=True, kw_only=True)
class ProcfileLaunch(Launch):
    """A Launch read from a Procfile line, which a fix rewrites."""

    line: ProcfileLine

    def names(self) -> str:
        """The line for a title: "web: flask run" at "Procfile:2"."""
        return f"`{self.line.text.strip()}` (Procfile line {self.line.number})"


class _Read(NamedTuple):
    """A Launch's fields after `command`, in its order."""

    words: tuple[Word, ...]
    program: int
    server: str
    args: tuple[Word, ...]
    script: str | None
    assigned: dict[str, str]
    folder: str


def read_launch(command: str) -> Launch:
    """The program `command` runs last. Raises ShellSyntaxError when the shell reader cannot read the
    command, NotOneProgram for a pipeline or a background job, NoProgram when it runs no program."""
    return Launch(command, *_read(command))


def launch_of_command(command: str) -> Launch | None:
    """The program `command` runs last; None when the command cannot be read or runs none."""
    try:
        return read_launch(command)
    except (ShellSyntaxError, NotOneProgram, NoProgram):
        return None


def launch_of_line(line: ProcfileLine) -> ProcfileLaunch | None:
    """The program a Procfile line runs last; None when its command cannot be read or runs none."""
    command = line.process.command
    try:
        return ProcfileLaunch(command, *_read(command), line=line)
    except (ShellSyntaxError, NotOneProgram, NoProgram):
        return None


def _read(command: str) -> _Read:
    commands = command_list(command)
    if commands is None:
        raise NotOneProgram(command)
    if not commands:
        raise NoProgram(command)
    before, words = commands[:-1], commands[-1]
    assigned = _exported(before)
    position = _program_position(words, assigned)
    inner = _unwrapped(words, position)
    while inner is not None:
        position = _program_position(words, assigned, start=inner)
        inner = _unwrapped(words, position)
    if position >= len(words):
        raise NoProgram(command)
    server, args, script = _server(words, position)
    return _Read(words, position, server, args, script, assigned, _folder(before))


def _exported(commands: Sequence[tuple[Word, ...]]) -> dict[str, str]:
    """The variables `export VAR=value` sets in the commands before the last."""
    assigned: dict[str, str] = {}
    for words in commands:
        if words and words[0].value == "export":
            for word in words[1:]:
                if _ASSIGNMENT.match(word.value):
                    name, _, value = word.value.partition("=")
                    assigned[name] = value
    return assigned


def _folder(commands: Sequence[tuple[Word, ...]]) -> str:
    """Where `cd FOLDER` commands before the last move to, relative to the app root."""
    folder = ""
    for words in commands:
        if len(words) != 2 or words[0].value != "cd" or "$" in words[1].value:
            continue
        target = words[1].value
        if target == "/app" or target.startswith("/app/"):  # the app's root on the dyno
            folder, target = "", target[len("/app") :].lstrip("/")
        folder = posixpath.normpath(posixpath.join(folder, target))
    return "" if folder == "." else folder


def _program_position(words: Sequence[Word], assigned: dict[str, str], start: int = 0) -> int:
    """Where the program's word is, past `VAR=value` assignments (recorded in `assigned`) and `exec`."""
    position = start
    while position < len(words) and _ASSIGNMENT.match(words[position].value):
        name, _, value = words[position].value.partition("=")
        assigned[name] = value
        position += 1
    if position < len(words) and words[position].value == "exec":
        position += 1
    return position


def _unwrapped(words: Sequence[Word], position: int) -> int | None:
    """Where the command an exec wrapper runs starts (`ddtrace-run gunicorn ...`), or None."""
    values = [os.path.basename(words[position].value)] if position < len(words) else []
    values += [word.value for word in words[position + 1 :]]
    for wrapper in EXEC_WRAPPERS:
        if tuple(values[: len(wrapper)]) == wrapper and len(values) > len(wrapper):
            return position + len(wrapper)
    return None


def _server(words: Sequence[Word], position: int) -> tuple[str, tuple[Word, ...], str | None]:
    """(the server's name, its arguments, the script python runs) for the program at `position`."""
    name = os.path.basename(words[position].value)
    rest = tuple(words[position + 1 :])
    if name in SERVERS:
        return SERVERS[name], rest, None
    if not _PYTHON.fullmatch(name):
        return "", rest, None
    index = python_program_index(rest)
    if index + 1 < len(rest) and rest[index].value == "-m":
        module = rest[index + 1].value
        return (module if module in MODULES else ""), rest[index + 2 :], None
    if index < len(rest) and rest[index].value.endswith(".py"):
        script = rest[index].value
        if os.path.basename(script) == "manage.py":
            return "django", rest[index + 1 :], script
        return "script", rest[index + 1 :], script
    return "", rest, None


def python_program_index(rest: Sequence[Word]) -> int:
    """Where python's own flags (and their values) end in the words after `python`: the script, `-m`
    or `-c`; len(rest) if none."""
    index = 0
    while index < len(rest) and rest[index].value.startswith("-") and rest[index].value not in ("-m", "-c"):
        if rest[index].value in _PYTHON_FLAGS_WITH_VALUE and index + 1 < len(rest):
            index += 1
        index += 1
    return index


# --- options and flags -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    indexes: tuple[int, ...]  # the indexes in the arguments of the option's words
    value: str


def options(args: Sequence[str], names: Collection[str]) -> list[Option]:
    """Each occurrence of an option with a value among the argument values `args`: `-b X`, `-bX`
    (one-letter names), `--bind X`, `--bind=X`."""
    found = []
    index = 0
    while index < len(args):
        value = args[index]
        for name in names:
            if value == name and index + 1 < len(args):
                found.append(Option((index, index + 1), args[index + 1]))
                index += 1
                break
            if value.startswith(name) and name.startswith("--") and value[len(name) :].startswith("="):
                found.append(Option((index,), value[len(name) + 1 :]))
                break
            if len(name) == 2 and value.startswith(name) and len(value) > 2:
                found.append(Option((index,), value[2:]))
                break
        index += 1
    return found


def last_option(args: Sequence[str], names: Collection[str]) -> str | None:
    """The value of the last occurrence of the option (the one a parser keeps), or None."""
    found = options(args, names)
    return found[-1].value if found else None


def flag_indexes(args: Sequence[str], names: Collection[str]) -> list[int]:
    """The indexes of the flags among the argument values `args`."""
    return [index for index, value in enumerate(args) if value in names]
