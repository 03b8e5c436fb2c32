"""The app's dependencies as they will be in the slug: measured installed, or resolved for the dyno."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from slugprof.model.codec import transient
from slugprof.model.resolution import SizeMethod, Target
from slugprof.model.slug import FileStat


class DependencySource(str, Enum):
    ENVIRONMENT = "environment"  # measured from an installed environment (`environment` says which)
    RESOLVED = "resolved"  # resolved for the dyno and sized from the wheels (`target` says for what)
    NONE = "none"  # nothing measured (the notes say why)


@dataclass(frozen=True, kw_only=True)
class Package:
    """One distribution in the slug: its installed size (with __pycache__) and its compressed share."""

    name: str  # canonical (PEP 503 normalised) name
    version: str
    bytes: int
    compressed_bytes: int = 0  # its share of the compressed slug
    file_count: int
    measured: bool = True  # False: estimated (an unbuilt sdist, an offline guess)
    size_method: SizeMethod = SizeMethod.INSTALLED_FILES
    size_note: str | None = None  # why it is estimated or not measured
    requires: tuple[str, ...] = ()  # canonical names of the packages it depends on
    requested_by: tuple[str, ...] = ()  # who pulls it in: canonical names, or the requirements file
    top_level: bool = False  # named directly by the app's requirements
    # Top-level only: what would leave the slug if this requirement alone were removed.
    exclusive_bytes: int | None = None
    exclusive_compressed_bytes: int | None = None
    exclusive_packages: tuple[str, ...] = ()
    # The top-level modules it installs (import names: `dateutil` for python-dateutil), read from its
    # RECORD or its wheel's members; None when they were not read (a size estimated without the wheel).
    modules: tuple[str, ...] | None = None
    # Installed packages only, in memory: where the files are, to read them into the tar stream.
    location: str = transient("")  # the site-packages folder it is installed in
    files: tuple[str, ...] = transient(())  # absolute paths of every file it owns on disk
    file_stats: tuple[FileStat, ...] = transient(())  # their lstat, in the same order, when measured
    # In memory, for the rules: Requires-Dist values of its metadata that pip refuses (not PEP 508).
    invalid_requires: tuple[str, ...] = transient(())
    from_sdist: bool = transient(False)  # resolved: the dyno's build installs it from a source distribution


@dataclass(frozen=True, kw_only=True)
class DependencyInventory:
    source: DependencySource
    environment: str | None = None  # the environment measured: relative to the app root, or absolute
    interpreter: str | None = None  # its Python, the same way
    python_version: str | None = None  # the environment's own version (e.g. "3.12.4"), or the target's
    target: Target | None = None  # set when resolved for the dyno instead of measured installed
    resolver: str | None = None  # what resolved them, e.g. "uv 0.13.8" or "uv.lock"
    requirements_files: tuple[str, ...] = ()  # relative to the app root
    requirements: tuple[str, ...] = ()  # top-level requirement names that apply (markers evaluated)
    bytes: int = field(init=False, default=0)  # of `packages`; derived
    compressed_bytes: int = field(init=False, default=0)  # of `packages`; derived
    packages: tuple[Package, ...] = ()  # the closure of the app's requirements
    not_required: tuple[Package, ...] = ()  # installed but outside that closure: not in the slug
    missing: tuple[str, ...] = ()  # required but not installed in the environment
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "bytes", sum(p.bytes for p in self.packages))
        object.__setattr__(self, "compressed_bytes", sum(p.compressed_bytes for p in self.packages))
