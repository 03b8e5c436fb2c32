"""SLUG230: files the app's code imports or opens by name that are on disk but not pushed (not committed,
or ignored by git): they work locally and are missing on the dyno.

The committed `.py` files are read (never run): an absolute import names a module of the app's root,
a relative one a module beside its file, and a quoted relative path with an extension names a file.
Only what exists on disk and is not pushed is reported; files `.slugignore` removes are SLUG223's, and
`.env` files are config vars (Heroku reads none: SEC400 and MEM501 say so).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from slugprof.model import Fix, Location, Severity
from slugprof.rules.registry import Hit, Needs, RuleInputs, rule
from slugprof.sources.buildfiles import Absence, BuildFiles

_READ_LIMIT = 2_000_000  # .py files larger than this are generated data, not the app's code: not read
_ENV_FILE = re.compile(r"(?:^|/)\.env(?:\.[\w.\-]+)?$")
MAX_SHOWN = 10  # files named in one finding's evidence; the rest are counted


@dataclass(frozen=True)
class _Named:
    path: str  # the file on disk, relative to the app root
    by: str  # "app.py:3"
    absence: Absence


# What the code names, read with regular expressions (parsing every file with `ast` costs seconds on a
# large tree; a match here is only a candidate, kept when that file is on disk and not pushed):
# `import a.b, c`, `from .a import b, c`, and a quoted relative path with an extension.
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.MULTILINE)
_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+\(?([\w., \t]+)", re.MULTILINE)
_QUOTED_PATH = re.compile(r"""["']((?:\./)?[\w.\-]+(?:/[\w.\-]+)*\.[A-Za-z0-9]{1,8})["']""")
# Third-party code committed with the app (a virtualenv's packages): BUILD130's, not the app's code.
_THIRD_PARTY = re.compile(r"(?:^|/)(?:site-packages|dist-packages|node_modules)/")


def _module_paths(module: str, folder: str) -> list[str]:
    if not module:
        return []
    base = posixpath.join(folder, *module.split("."))
    return [f"{base}.py", f"{base}/__init__.py"]


def _names(text: str, folder: str) -> Iterator[tuple[str, int]]:
    """(candidate path, offset in `text`) for each import and quoted path of a file in `folder`."""
    for match in _IMPORT.finditer(text):
        for alias in match.group(1).split(","):
            parts = alias.split()[0].split(".") if alias.split() else []
            for depth in range(1, len(parts) + 1):
                for path in _module_paths(".".join(parts[:depth]), ""):
                    yield path, match.start()
    for match in _FROM_IMPORT.finditer(text):
        dots, module = len(match.group(1)), match.group(2)
        base = folder if dots else ""
        for _ in range(max(dots - 1, 0)):
            base = posixpath.dirname(base)
        names = [alias.split()[0] for alias in match.group(3).split(",") if alias.split()]
        for dotted in (module, *(f"{module}.{name}".strip(".") for name in names)):
            for path in _module_paths(dotted, base):
                yield path, match.start()
    for match in _QUOTED_PATH.finditer(text):
        yield posixpath.normpath(match.group(1)), match.start()


def _unshipped(files: BuildFiles) -> list[_Named]:
    found: dict[str, _Named] = {}
    checked: set[str] = set()
    for path in sorted(files.visible):
        if not path.endswith(".py") or _THIRD_PARTY.search(path):
            continue
        text = files.read_text(path)
        if text is None or len(text) > _READ_LIMIT:
            continue
        folder = posixpath.dirname(path)
        for candidate, offset in _names(text, folder):
            if candidate in checked:
                continue
            checked.add(candidate)
            if candidate in files.visible or _ENV_FILE.search(candidate):
                continue
            absence = files.absence(candidate)
            if absence in (Absence.NOT_COMMITTED, Absence.IGNORED):
                line = text.count("\n", 0, offset) + 1
                found[candidate] = _Named(candidate, f"{path}:{line}", absence)
    return list(found.values())


@rule(
    "SLUG230",
    "app-file-not-deployed",
    Severity.WARNING,
    summary="The app's code imports or opens a file that is on disk but not pushed (not committed, or "
    "ignored by git): it is missing on the dyno.",
    why="Heroku builds what git pushes; a module or data file that exists only in the work tree works "
    "locally and raises ImportError or FileNotFoundError on the dyno.",
    fix="Commit the file (or stop ignoring it), or make the code not need it on the dyno.",
    source="heroku-facts 1.2 (the slug is built from the pushed code), 2.1",
    needs=Needs.FILES,
)
def app_file_not_deployed(inputs: RuleInputs) -> Iterator[Hit]:
    missing = _unshipped(inputs.files)
    if not missing:
        return
    shown = [f"{named.path} ({named.absence.value}) is named at {named.by}" for named in missing[:MAX_SHOWN]]
    if len(missing) > MAX_SHOWN:
        shown.append(f"and {len(missing) - MAX_SHOWN} more")
    first = missing[0]
    file, _, line = first.by.rpartition(":")
    commands = " ".join(f"'{named.path}'" for named in missing if named.absence == Absence.NOT_COMMITTED)
    yield Hit(
        title=f"{len(missing)} {'file' if len(missing) == 1 else 'files'} the app's code names "
        f"{'is' if len(missing) == 1 else 'are'} not pushed: {', '.join(n.path for n in missing[:3])}"
        + (" ..." if len(missing) > 3 else ""),
        evidence=tuple(shown),
        location=Location(file, int(line) if line.isdigit() else None),
        fix=Fix(
            summary="commit them (and stop ignoring them), or make the code not need them on the dyno",
            command=f"git add -- {commands}" if commands else None,
        ),
    )
