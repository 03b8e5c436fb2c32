"""A module's `.pyc` as pip writes it, by whichever interpreter runs this file.

It imports nothing of slugprof, so that an interpreter of the dyno's Python version, without slugprof
installed, can run it by its path: `python3.12 pyc_worker.py MANIFEST`, where MANIFEST is a JSON list
of [source file, name on the dyno, output file]; each module that compiles gets its `.pyc` written to
its output file, one that does not (a syntax error, as pip's compileall reports and skips) gets none.
slugprof's own interpreter imports `timestamp_pyc` instead.

pip compiles with `compileall.compile_file`, that is `py_compile`: `compile()` of the source's bytes
under the file's name, optimisation level 0, then the timestamp layout (the magic number, four bytes
of flags, the source's mtime and size) and the marshalled code.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import sys
import threading
import warnings

_COMPILING = threading.Lock()  # warnings' filters are process-wide: one compile at a time holds them


def timestamp_pyc(source: bytes, dyno_path: str) -> bytes | None:
    """The `.pyc` of `source` compiled under the name `dyno_path`; None when it does not compile."""
    with _COMPILING, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings of the package's code: compileall's quiet mode
        try:
            code = compile(source, dyno_path, "exec", dont_inherit=True, optimize=0)
        except Exception:  # SyntaxError, ValueError for NUL bytes, RecursionError...
            return None
    header = importlib.util.MAGIC_NUMBER + bytes(8) + (len(source) & 0xFFFFFFFF).to_bytes(4, "little")
    return header + marshal.dumps(code)


def main(manifest: str) -> int:
    with open(manifest, encoding="utf-8") as handle:
        modules = json.load(handle)
    for source_file, dyno_path, output_file in modules:
        with open(source_file, "rb") as source:
            compiled = timestamp_pyc(source.read(), dyno_path)
        if compiled is not None:
            with open(output_file, "wb") as output:
                output.write(compiled)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
