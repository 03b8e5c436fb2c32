"""A small fake of the buildpack's Python runtime, packed as the buildpack packs it (`.tar.zst`).

    tree = write_runtime(tmp_path / "tree")             # bin/, include/, lib/ with a symlink and an
                                                        #  empty folder
    pack_runtime(tree, store / "python-3.13.5-ubuntu-24.04-amd64.tar.zst")
    installed_bytes(tree)                               # what `du --apparent-size` of its files says
    slug_tar_gzip(tree)                                 # a real `tar | gzip -6` of it under .heroku/python/

The tests serve the store folder with `indexserver.serve_index` (its `/files/`) or as a file:// URL.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import sys
import tarfile
from pathlib import Path


def _source(seed: int, lines: int) -> str:
    rng = random.Random(seed)
    words = ["path", "name", "value", "buffer", "stream", "codec", "module", "encoding"]
    return "\n".join(
        f"def {rng.choice(words)}_{i}(x):\n    return x.{rng.choice(words)}({rng.randint(0, 999)})"
        for i in range(lines)
    )


def write_runtime(root: Path, seed: int = 3) -> Path:
    """A runtime tree: an interpreter and a shared library (incompressible bytes), standard library
    modules and bytecode, a header, `bin/python3` and `bin/python` as symlinks, and an empty folder."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {
        "bin/python3.13": rng.randbytes(40_000),
        "lib/libpython3.13.so.1.0": rng.randbytes(60_000),
        "include/python3.13/Python.h": b"#include <stddef.h>\n" * 300,
        "lib/python3.13/os.py": _source(seed, 400).encode(),
        "lib/python3.13/json/__init__.py": _source(seed + 1, 200).encode(),
        "lib/python3.13/json/decoder.py": _source(seed + 2, 250).encode(),
        "lib/python3.13/__pycache__/os.cpython-313.pyc": rng.randbytes(8_000) + b"\0" * 4_000,
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "bin" / "python3.13").chmod(0o755)
    (root / "bin" / "python3").symlink_to("python3.13")
    (root / "bin" / "python").symlink_to("python3")
    (root / "lib" / "python3.13" / "site-packages").mkdir()
    return root


def installed_bytes(tree: Path) -> int:
    """The tree's files' sizes, symlinks counted as links (the length of their target), folders not."""
    total = 0
    for folder, folders, names in os.walk(tree):
        for name in names + [f for f in folders if os.path.islink(os.path.join(folder, f))]:
            total += os.lstat(os.path.join(folder, name)).st_size
    return total


def zstd_compress(data: bytes) -> bytes:
    """zstd as the archives use it: the standard library's from Python 3.14, else zstandard's."""
    if sys.version_info >= (3, 14):  # pragma: no cover
        from compression import zstd

        return zstd.compress(data, level=19)
    import zstandard

    return zstandard.ZstdCompressor(level=19).compress(data)


def pack_runtime(tree: Path, archive: Path) -> Path:
    """`tar -C tree . | zstd`: names as the buildpack's archives have them, "./bin/python3"."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(tree, arcname=".")
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(zstd_compress(buffer.getvalue()))
    return archive


def slug_tar_gzip(tree: Path) -> int:
    """The compressed size of a real tar of the tree laid out under `.heroku/python/`, through gzip -6."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar,
    ):
        tar.add(tree, arcname=".heroku/python")
    return len(buffer.getvalue())
