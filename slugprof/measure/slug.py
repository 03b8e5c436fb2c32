"""The slug model: an inventory (app files, dependencies, buildpack parts) in, the sized slug out.

This is the one place the slug is assembled and compressed. Everything that asks "what would the slug
weigh if..." (a file removed, a package swapped) edits the inventory and runs `size_slug` again, so a
saving is measured the same way as a size.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from slugprof.measure.compress import estimate_compressed
from slugprof.model import (
    AppInventory,
    BuildpackPart,
    CompressionEstimate,
    DependencyInventory,
    DependencySource,
    FileStat,
    Package,
    SizeMethod,
    Slug,
    SlugComponent,
    SlugStatus,
    TarGroup,
    TarMember,
)
from slugprof.progress import NoProgress, Progress
from slugprof.sources.approot import real_path
from slugprof.sources.buildpack import PROFILE_D_SCRIPTS

# Parts sized from settings rather than measured carry this share of their size as stated error.
UNMEASURED_ALLOWANCE = 0.25
# Resolved wheels: the stated error of the wheel-contents model (slugprof.measure.wheels). Measured:
# the validation set (numpy, pandas, scipy, scikit-learn, django, requests, flask) +0.9% compressed;
# single packages typically within 8%; sets of generated API clients up to +20% (an upper bound).
RESOLVED_MODEL_ERROR = 0.10
# Small wheels installed and measured (slugprof.measure.installed_tree): on benchmarks/bench_dependencies.py
# their 47 shares summed were within 0.1% of the real ones, 42 of them each within 2% (the others, of 12
# to 44 kB, within 4.3%, but click-didyoumean's 4 kB, +15%); their stated error:
INSTALLED_WHEEL_ERROR = 0.02
SLUG_LEVEL = 6  # `tar czf`: gzip's default level (heroku-facts 1.3)
# The wheel model predicts shares of gzip -6 (slugprof.measure.stream_model). At another level a resolved
# package's share is scaled by the ratio of the two levels, measured: tar streams of an installed
# site-packages (569 MB: 198.1 MB at level 1 against 175.2 MB at 6, 1.131), a standard library (53 MB:
# 1.137), matplotlib alone 1.110, django alone 1.206 (its translations). Ratio and spread, per level:
LEVEL_RATIO_TO_SLUG: dict[int, float] = {1: 1.135, 6: 1.0}
LEVEL_RATIO_ERROR: dict[int, float] = {1: 0.07, 6: 0.0}  # django's +6%, matplotlib's -2%: within 7%


@dataclass(frozen=True)
class SlugInventory:
    """What the slug will hold."""

    app: AppInventory
    dependencies: DependencyInventory
    buildpack: tuple[BuildpackPart, ...]  # the runtime, parts sized from settings, the profile.d scripts
    python_minor: str  # "3.13": names the site-packages folder
    # gzip's level: 6 for the slug (heroku-facts 1.3), 1 for a Fir image's layers (heroku-facts 9.4).
    compression_level: int = SLUG_LEVEL
    # Where the app files the build wrote (`built_by`) are on disk: slugprof's copy of the slug.
    build_folder: Path | None = None


@dataclass(frozen=True)
class SlugLimits:
    limit_bytes: int
    soft_limit_bytes: int


@dataclass(frozen=True)
class SizedSlug:
    """The inventory with every compressed share filled in, and the slug against its limits."""

    app: AppInventory
    dependencies: DependencyInventory
    buildpack: tuple[BuildpackPart, ...]
    compression: CompressionEstimate
    slug: Slug


def size_slug(
    inventory: SlugInventory,
    limits: SlugLimits,
    *,
    exact: bool = False,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SizedSlug:
    """Compress the slug's tar stream (or estimate it) and attribute the bytes to who put them there."""
    compression = estimate_compressed(
        tar_members(inventory),
        level=inventory.compression_level,
        exact=exact,
        cache_dir=cache_dir,
        workers=workers,
        progress=progress or NoProgress(),
    )
    # Parts sized from settings are outside the tar stream: their compressed size is added to it.
    outside_stream = sum(part.compressed_bytes or 0 for part in inventory.buildpack if not part.members)
    app = replace(inventory.app, compressed_bytes=_group_compressed(compression, TarGroup.app()))
    dependencies = _with_compressed_shares(inventory.dependencies, compression, inventory.compression_level)
    buildpack = tuple(
        replace(part, compressed_bytes=_group_compressed(compression, TarGroup.buildpack(part.name)))
        if part.compressed_bytes is None or part.members
        else part
        for part in inventory.buildpack
    )
    slug = _slug(
        app, dependencies, buildpack, compression, limits, outside_stream, inventory.compression_level
    )
    return SizedSlug(app, dependencies, buildpack, compression, slug)


def tar_members(inventory: SlugInventory) -> list[TarMember]:
    """The slug's tar stream: the app's included files, the installed packages, the buildpack's files
    (the runtime's when it was measured, and the .profile.d scripts)."""
    app = inventory.app
    root = str(real_path(app.root))
    built = str(inventory.build_folder) if inventory.build_folder is not None else root
    members: list[TarMember] = []
    for file in app.included:
        disk_path = os.path.join(built if file.built_by else root, file.path)
        link_target = None
        if file.kind == "symlink":
            try:
                link_target = os.readlink(disk_path)
            except OSError:
                link_target = ""
        members.append(
            TarMember(
                arcname=file.path,
                group=TarGroup.app(),
                size=file.bytes if file.kind == "file" else 0,
                path=disk_path if file.kind == "file" else None,
                kind=file.kind,
                link_target=link_target,
            )
        )
    site_packages = f".heroku/python/lib/python{inventory.python_minor}/site-packages"
    for package in inventory.dependencies.packages:
        members.extend(_package_members(package, site_packages))
    for part in inventory.buildpack:
        members.extend(part.members)  # the runtime's files, when they were measured
    if any(part.name == "profile.d" for part in inventory.buildpack):
        group = TarGroup.buildpack("profile.d")
        for name, content in PROFILE_D_SCRIPTS.items():
            members.append(TarMember(arcname=name, group=group, size=len(content), content=content))
    return members


def _package_members(package: Package, site_packages: str) -> list[TarMember]:
    members = []
    location = package.location.rstrip(os.sep) + os.sep
    # site-packages is <prefix>/lib/pythonX.Y/site-packages: bin scripts sit under <prefix>.
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(package.location.rstrip(os.sep)))) + os.sep
    group = TarGroup.dependency(package.name)
    # The lister's stats when it kept them (installed packages), else one lstat here.
    stats = package.file_stats if len(package.file_stats) == len(package.files) else None
    for index, file in enumerate(package.files):
        if file.startswith(location):
            arcname = f"{site_packages}/{_posix(file[len(location) :])}"
        elif file.startswith(prefix):
            arcname = f".heroku/python/{_posix(file[len(prefix) :])}"
        else:
            arcname = f".heroku/python/{os.path.basename(file)}"
        status = stats[index] if stats is not None else _lstat(file)
        if status is None:
            continue
        if stat.S_ISLNK(status.mode):
            try:
                link_target = os.readlink(file)
            except OSError:
                continue
            members.append(TarMember(arcname, group, 0, None, "symlink", link_target=link_target))
        else:
            members.append(TarMember(arcname, group, status.size, file, stat=status))
    return members


def _lstat(path: str) -> FileStat | None:
    try:
        return FileStat.of(os.lstat(path))
    except OSError:
        return None


def _posix(relative: str) -> str:
    return relative.replace(os.sep, "/")


def _group_compressed(compression: CompressionEstimate, group: TarGroup) -> int:
    estimate = compression.group(group)
    return estimate.compressed_bytes if estimate else 0


def _with_compressed_shares(
    dependencies: DependencyInventory, compression: CompressionEstimate, level: int = SLUG_LEVEL
) -> DependencyInventory:
    """Each package's compressed share (installed: the compressor's, resolved: the wheel model's, scaled
    to `level`), and each top-level requirement's exclusive share: what removing it alone would take off
    the slug."""
    packages = dependencies.packages
    if dependencies.source == DependencySource.RESOLVED and level != SLUG_LEVEL:
        ratio = LEVEL_RATIO_TO_SLUG[level]
        packages = tuple(
            replace(package, compressed_bytes=round(package.compressed_bytes * ratio)) for package in packages
        )
    if dependencies.source == DependencySource.ENVIRONMENT:
        groups = {estimate.group: estimate.compressed_bytes for estimate in compression.groups}
        packages = tuple(
            replace(package, compressed_bytes=groups.get(TarGroup.dependency(package.name), 0))
            for package in packages
        )
    compressed = {package.name: package.compressed_bytes for package in packages}
    packages = tuple(
        replace(
            package,
            exclusive_compressed_bytes=sum(compressed.get(name, 0) for name in package.exclusive_packages),
        )
        if package.top_level
        else package
        for package in packages
    )
    return replace(dependencies, packages=packages)


def _slug(
    app: AppInventory,
    dependencies: DependencyInventory,
    parts: tuple[BuildpackPart, ...],
    compression: CompressionEstimate,
    limits: SlugLimits,
    unmeasured_compressed: int,
    level: int = SLUG_LEVEL,
) -> Slug:
    # Resolved packages are not on disk: their compressed share comes from the wheel model.
    resolved = dependencies.source == DependencySource.RESOLVED
    resolved_compressed = dependencies.compressed_bytes if resolved else 0
    runtime = [part for part in parts if part.name == "python"]
    tools = [part for part in parts if part.name != "python"]
    components = (
        SlugComponent("app", app.bytes, app.compressed_bytes, measured=True),
        SlugComponent(
            "python",
            sum(p.bytes for p in runtime),
            sum(p.compressed_bytes or 0 for p in runtime),
            measured=bool(runtime) and all(p.measured for p in runtime),
        ),
        SlugComponent(
            "dependencies",
            dependencies.bytes,
            dependencies.compressed_bytes,
            measured=dependencies.source != DependencySource.NONE
            and all(p.measured for p in dependencies.packages),
        ),
        SlugComponent(
            "buildpack tools",
            sum(p.bytes for p in tools),
            sum(p.compressed_bytes or 0 for p in tools),
            measured=False,
        ),
    )
    # The tar stream's end-of-archive padding belongs to no group; count it in the total.
    compressed = compression.compressed_bytes + unmeasured_compressed + resolved_compressed
    estimated_resolved = (
        sum(p.compressed_bytes for p in dependencies.packages if not p.measured) if resolved else 0
    )
    installed_resolved = (
        sum(p.compressed_bytes for p in dependencies.packages if p.size_method == SizeMethod.INSTALLED_WHEEL)
        if resolved
        else 0
    )
    modelled_resolved = resolved_compressed - estimated_resolved - installed_resolved
    error = (
        compression.error_bytes
        + round(UNMEASURED_ALLOWANCE * (unmeasured_compressed + estimated_resolved))
        + round((RESOLVED_MODEL_ERROR + LEVEL_RATIO_ERROR[level]) * modelled_resolved)
        + round((INSTALLED_WHEEL_ERROR + LEVEL_RATIO_ERROR[level]) * installed_resolved)
    )
    return Slug(
        compressed_bytes=compressed,
        compressed_error=error,
        compressed_method=compression.method,
        sampled_bytes=compression.sampled_bytes,
        limit_bytes=limits.limit_bytes,
        soft_limit_bytes=limits.soft_limit_bytes,
        status=_status(compressed, error, limits, complete=dependencies.source != DependencySource.NONE),
        components=components,
    )


def _status(compressed: int, error: int, limits: SlugLimits, *, complete: bool) -> SlugStatus:
    """over: past the limit (even a part of the slug can be); incomplete: dependencies were not
    measured, so no "ok" can be said; warn: past the soft limit, or the limit within the error."""
    if compressed > limits.limit_bytes:
        return "over"
    if not complete:
        return "incomplete"
    if compressed > limits.soft_limit_bytes or compressed + error > limits.limit_bytes:
        return "warn"
    return "ok"
