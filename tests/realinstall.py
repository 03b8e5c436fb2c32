"""The ground truth of a package's size: a real `pip install --target`, and gzip -6 of a real tar of its
files named as in the slug."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class Installed:
    bytes: int
    pyc_bytes: int
    files: int
    compressed: int  # gzip -6 of a real tar of the install, named as in the slug


def pip_install(target: Path, *arguments: str, python: str = sys.executable) -> None:
    """`pip install --no-deps --target target ARGUMENTS` with `python`, isolated from any configuration."""
    command = [python, "-m", "pip", "install", "--isolated", "--no-input", "-q", "--no-deps"]
    completed = subprocess.run(
        [*command, "--target", str(target), *arguments], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


def measure_install(site: Path, minor: str = MINOR) -> Installed:
    """The install's files, and gzip -6 of a tar of them under the slug's names (Python `minor`)."""
    paths = sorted(site.rglob("*"))
    files = [path for path in paths if path.is_file()]
    slug_site = f".heroku/python/lib/python{minor}/site-packages"  # where the buildpack installs packages
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path in paths:
            relative = path.relative_to(site).as_posix()
            # pip --target puts scripts in <target>/bin, the buildpack's pip in .heroku/python/bin
            in_bin = relative.split("/")[0] == "bin"
            name = f".heroku/python/{relative}" if in_bin else f"{slug_site}/{relative}"
            archive.add(path, arcname=f"./{name}", recursive=False)
    return Installed(
        bytes=sum(path.stat().st_size for path in files),
        pyc_bytes=sum(path.stat().st_size for path in files if path.suffix == ".pyc"),
        files=len(files),
        compressed=len(gzip.compress(stream.getvalue(), compresslevel=6, mtime=0)),
    )
