"""Whose import caused an allocation, from the Python stack memray recorded for it.

The allocations still held at a process's heap peak are walked from the outermost frame. Where a frame
runs the module-level code of a module being imported (a `<module>` frame entered through importlib's
bootstrap), an import starts. The bytes go to the first import that the app's own code performed (from
its innermost frame): `import pandas` in the app costs "pandas", numpy included; a module of the app's
own that allocates at import (its globals) costs its own name; imports no app code caused (the server's
own) go to their outermost top-level module ("gunicorn"). A module imported by two packages is paid for
by the first one to import it.

Nothing here imports memray: a stack is a sequence of (function, file name, line) frames.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from slugprof.model import ImportCost, ProcessRole

Frame = tuple[str, str, int]  # (function, file name, line) as memray gives them
_SITE_PACKAGES = re.compile(r"[\\/](?:site|dist)-packages[\\/]")
_STANDARD_LIBRARY = re.compile(r"[\\/]lib(?:64)?[\\/](?:python|pypy)\d(?:\.\d+)?t?[\\/]")
_IMPORT_MACHINERY = ("<frozen importlib._bootstrap", "<frozen zipimport>")


def _is_import_machinery(file_name: str) -> bool:
    return file_name.startswith(_IMPORT_MACHINERY) or file_name.endswith(
        ("importlib/_bootstrap.py", "importlib/_bootstrap_external.py")
    )


class SourceFiles:
    """Which file names are the app's own code, and the top-level module each belongs to (cached)."""

    def __init__(self, app_dir: Path | None) -> None:
        # Frames carry the path the interpreter imported from: the app's folder as given, or resolved.
        self._app_dirs = (Path(os.path.abspath(app_dir)), app_dir.resolve()) if app_dir is not None else ()
        self._is_app: dict[str, bool] = {}
        self._module: dict[str, str] = {}

    def is_app(self, file_name: str) -> bool:
        if file_name not in self._is_app:
            self._is_app[file_name] = self._classify(file_name)
        return self._is_app[file_name]

    def _classify(self, file_name: str) -> bool:
        if file_name.startswith("<") or _library_part(file_name) is not None:
            return False
        path = Path(file_name)
        return not self._app_dirs or not path.is_absolute() or self._below_app(path) is not None

    def _below_app(self, path: Path) -> tuple[Path, Path] | None:
        """(the app's folder, the path relative to it) when the path is in the app's folder."""
        for app_dir in self._app_dirs:
            if app_dir in path.parents:
                return app_dir, path.relative_to(app_dir)
        return None

    def module(self, file_name: str) -> str:
        if file_name not in self._module:
            self._module[file_name] = self._top_level_module(file_name)
        return self._module[file_name]

    def _top_level_module(self, file_name: str) -> str:
        if file_name.startswith("<frozen "):
            return file_name[len("<frozen ") :].rstrip(">").split(".")[0]
        if file_name.startswith("<"):
            return file_name
        library_part = _library_part(file_name)
        if library_part is not None:
            return _module_name(library_part.split("/")[0])
        path = Path(file_name)
        if self._app_dirs and not path.is_absolute():
            path = self._app_dirs[0] / path
        top = path
        while (top.parent / "__init__.py").exists() and top.parent != top.parent.parent:
            top = top.parent
        if top != path:
            return top.name  # a regular package
        below = self._below_app(path)
        if below is not None and len(below[1].parts) > 1:
            return below[1].parts[0]  # a namespace package of the app
        return _module_name(path.name)

    def display(self, file_name: str) -> str:
        """A file name without this machine's folders where they say nothing: the app's, site-packages'."""
        library_part = _library_part(file_name)
        if library_part is not None:
            return library_part
        below = self._below_app(Path(file_name))
        return below[1].as_posix() if below is not None else file_name


def _library_part(file_name: str) -> str | None:
    """The path below site-packages or the standard library's folder; None for other files."""
    normal = file_name.replace("\\", "/")
    match = _SITE_PACKAGES.search(normal) or _STANDARD_LIBRARY.search(normal)
    if match is None:
        return None
    return normal[match.end() :]


def _module_name(entry: str) -> str:
    """The module a top-level entry provides: "heavy.py" -> "heavy", "_x.cpython-311-(...).so" -> "_x"."""
    return entry.removesuffix(".py") if entry.endswith(".py") else entry.split(".")[0]


def attribute_import(frames: Sequence[Frame], classifier: SourceFiles) -> str | None:
    """The top-level module whose import caused an allocation, from its stack (outermost frame first).

    None when no import is on the stack (the allocation is the app's running, not its loading).
    """
    imports = [
        index
        for index in range(1, len(frames))
        if frames[index][0] == "<module>" and _is_import_machinery(frames[index - 1][1])
    ]
    if not imports:
        return None
    app_frames = [index for index, frame in enumerate(frames) if classifier.is_app(frame[1])]
    if app_frames:
        innermost_app = app_frames[-1]
        performed_by_app = [index for index in imports if index > innermost_app]
        if performed_by_app:
            return classifier.module(frames[performed_by_app[0]][1])
        app_modules = [index for index in imports if classifier.is_app(frames[index][1])]
        if app_modules:
            return classifier.module(frames[app_modules[-1]][1])
    return classifier.module(frames[imports[0]][1])


def largest_import_costs(costs: Iterable[ImportCost]) -> tuple[ImportCost, ...]:
    """One row per (module, role): the largest cost a process of that role paid for it.

    Under --preload the master pays for the app's imports once and the workers share them; without it,
    each worker pays, and a row says what one worker pays.
    """
    largest: dict[tuple[str, ProcessRole], int] = {}
    for cost in costs:
        key = (cost.module, cost.role)
        largest[key] = max(largest.get(key, 0), cost.bytes)
    rows = [ImportCost(module, size, role) for (module, role), size in largest.items()]
    return tuple(sorted(rows, key=lambda row: (-row.bytes, row.module, row.role)))
