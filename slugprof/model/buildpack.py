"""What the Python buildpack adds to the slug besides the app and its dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from slugprof.model.codec import transient
from slugprof.model.slug import TarMember


@dataclass(frozen=True)
class PythonVersionChoice:
    version: str  # as requested, "3.12" or "3.12.4"
    source: str  # ".python-version", "runtime.txt", "Pipfile.lock", "buildpack default"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class BuildpackPart:
    """Something the buildpack puts in the slug besides the app and its dependencies."""

    name: str  # "python", "pip", "setuptools", "pipenv", "profile.d"
    description: str
    bytes: int
    measured: bool  # True: measured from files on disk; False: a setting with its source
    source: str  # where the figure comes from
    files: tuple[str, ...] = transient(())  # files on disk when measured
    compressed_bytes: int | None = None  # a setting's figure, or the compressor's once it ran
    # Its files in the slug's tar stream when they were measured (the runtime unpacked from its archive):
    # the compressor then measures its compressed share.
    members: tuple[TarMember, ...] = transient(())
