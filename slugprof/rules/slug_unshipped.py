"""SLUG230: files the app's code imports or opens by name that are on disk but not pushed (not committed,
or ignored by git): they work locally and are missing on the dyno.

The committed `.py` files are parsed (never run): an absolute import names a module of the app's root,
a relative one a module beside its file, and a string literal that reads as a relative path names a
file. Only what exists on disk and is not pushed is reported; files `.slugignore` removes are SLUG223's,
and `.env` files are config vars (Heroku reads none: SEC400 and MEM501 say so).
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from slugprof.model import Fix, Location, Severity
from slugprof.rules.registry import Hit, Needs, RuleInputs, rule
from slugprof.sources.buildfiles import Absence, BuildFiles

_READ_LIMIT = 2_000_000  # .py files larger than this are generated data, not the app's code: not read
# A relative path to a file, as code writes it: "data/model.pkl", "config/local.json", "./templates/x".
_FILE_PATH = re.compile(r"^(?:\./)?[\w.\-]+(?:/[\w.\-]+)*\.[A-Za-z0-9]{1,8}$")
_ENV_FILE = re.compile(r"(?:^|/)\.env(?:\.[\w.\-]+)?$")
MAX_SHOWN = 10  # files named in one finding's evidence; the rest are counted


@dataclass(frozen=True)
class _Named:
    path: str  # the file on disk, relative to the app root
    by: str  # "app.py:3"
    absence: Absence


def _module_paths(module: str, folder: str) -> list[str]:
    base = posixpath.join(folder, *module.split(".")) if folder else posixpath.join(*module.split("."))
    return [f"{base}.py", f"{base}/__init__.py"]


def _imported(node: ast.AST, folder: str) -> list[str]:
    """The candidate files of an import: `import a.b` is a/b.py or a/b/__init__.py (and a's)."""
    if isinstance(node, ast.Import):
        paths = []
        for alias in node.names:
            parts = alias.name.split(".")
            for depth in range(1, len(parts) + 1):
                paths += _module_paths(".".join(parts[:depth]), "")
        return paths
    if isinstance(node, ast.ImportFrom):
        base = folder
        for _ in range(max(node.level - 1, 0)):
            base = posixpath.dirname(base)
        if node.level == 0:
            base = ""
        module = node.module or ""
        paths = _module_paths(module, base) if module else []
        paths += [p for alias in node.names for p in _module_paths(f"{module}.{alias.name}".strip("."), base)]
        return paths
    return []


def _named_paths(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _FILE_PATH.fullmatch(node.value):
        return [posixpath.normpath(node.value)]
    return []


def _unshipped(files: BuildFiles) -> list[_Named]:
    found: dict[str, _Named] = {}
    for path in sorted(files.visible):
        if not path.endswith(".py"):
            continue
        data = files.read_bytes(path)
        if data is None or len(data) > _READ_LIMIT:
            continue
        try:
            tree = ast.parse(data, filename=path)
        except (SyntaxError, ValueError, RecursionError):  # ValueError: a NUL byte
            continue
        folder = posixpath.dirname(path)
        for node in ast.walk(tree):
            for candidate in (*_imported(node, folder), *_named_paths(node)):
                if candidate in found or candidate in files.visible or _ENV_FILE.search(candidate):
                    continue
                absence = files.absence(candidate)
                if absence in (Absence.NOT_COMMITTED, Absence.IGNORED):
                    found[candidate] = _Named(candidate, f"{path}:{getattr(node, 'lineno', 0)}", absence)
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
