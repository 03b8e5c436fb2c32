"""An interpreter of the dyno's Python version, to compile a package's modules as pip compiles them.

Bytecode differs between Python versions (see `bytecode`), so only an interpreter of the target's
minor version measures it: slugprof's own when it is that version (compiled in this process), else a
`python3.X` on PATH (compiled by `pyc_worker` in a child process, a package at a time). Without one,
`compiler_for` gives None and the fitted model stands in.
"""

from __future__ import annotations

import functools
import json
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from slugprof.errors import ToolFailure
from slugprof.measure import pyc_worker
from slugprof.processes import run_command

COMPILE_TIMEOUT_SECONDS: Final = 300.0  # one package's modules: the largest small wheel takes about 1 s
_VERSION_TIMEOUT_SECONDS: Final = 20.0
_WORKER: Final = Path(pyc_worker.__file__)

Module = tuple[str, bytes]  # (its name on the dyno, its source)


@dataclass(frozen=True)
class Compiler:
    """Compiles modules with one interpreter: this process's (`executable` None) or another one."""

    python_minor: str  # "3.12"
    version: str  # what compiled: "CPython 3.12.1"
    executable: str | None = None  # None: this process's interpreter

    def compile(self, modules: Sequence[Module]) -> list[bytes | None]:
        """Each module's `.pyc` (None: it does not compile), in the order given.

        Raises ToolFailure when the other interpreter cannot run.
        """
        if self.executable is None:
            return [pyc_worker.timestamp_pyc(source, name) for name, source in modules]
        with tempfile.TemporaryDirectory(prefix="slugprof-pyc-") as scratch:
            folder = Path(scratch)
            manifest = []
            for index, (name, source) in enumerate(modules):
                (folder / f"{index}.py").write_bytes(source)
                manifest.append([str(folder / f"{index}.py"), name, str(folder / f"{index}.pyc")])
            (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            command = [self.executable, "-I", str(_WORKER), str(folder / "manifest.json")]
            result = run_command(command, cwd=scratch, timeout=COMPILE_TIMEOUT_SECONDS)
            if result.returncode != 0:
                last = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
                raise ToolFailure(f"{self.executable} could not compile: {last[0][:200]}")
            outputs = [folder / f"{index}.pyc" for index in range(len(modules))]
            return [path.read_bytes() if path.is_file() else None for path in outputs]


@functools.cache
def compiler_for(python_minor: str) -> Compiler | None:
    """The compiler of this Python minor version ("3.12") at hand, or None."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if here == python_minor and platform.python_implementation() == "CPython":  # the dyno's Python
        version = f"{platform.python_implementation()} {platform.python_version()}"
        return Compiler(python_minor, version)
    executable = shutil.which(f"python{python_minor}")
    if executable is None:
        return None
    probe = "import platform, sys; print(platform.python_implementation(), platform.python_version())"
    try:
        result = run_command([executable, "-I", "-c", probe], timeout=_VERSION_TIMEOUT_SECONDS)
    except ToolFailure:
        return None
    words = result.stdout.decode("utf-8", "replace").split()
    if result.returncode != 0 or len(words) != 2 or not words[1].startswith(f"{python_minor}."):
        return None  # a shim without that version behind it, or another interpreter of that name
    return Compiler(python_minor, f"{words[0]} {words[1]}", executable)
