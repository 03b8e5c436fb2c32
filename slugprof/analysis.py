"""`analyze` as a pipeline: app files + dependencies + buildpack parts -> tar members -> slug."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from slugprof import __version__
from slugprof.config import Settings
from slugprof.errors import ToolFailure
from slugprof.measure.compress import estimate_compressed
from slugprof.measure.distributions import measure_dependencies
from slugprof.measure.graph import exclusive_sets
from slugprof.measure.wheels import size_packages
from slugprof.model import (
    APP_GROUP,
    BUILDPACK_GROUP_PREFIX,
    DEPENDENCY_GROUP_PREFIX,
    SCHEMA_VERSION,
    AnalyzeReport,
    AppInventory,
    BuildpackPart,
    CompressionEstimate,
    DependencyInventory,
    Package,
    Slug,
    SlugComponent,
    SlugStatus,
    TarMember,
    buildpack_group,
    dependency_group,
)
from slugprof.progress import NoProgress, Progress
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.approot import app_root, display_path
from slugprof.sources.buildpack import (
    PROFILE_D_SCRIPTS,
    buildpack_parts,
    choose_package_manager,
    choose_python_version,
)
from slugprof.sources.dotenv import read_dotenv
from slugprof.sources.environment import find_environment
from slugprof.sources.resolve import resolve
from slugprof.sources.target import make_target

# Parts sized from settings rather than measured carry this share of their size as stated error.
UNMEASURED_ALLOWANCE = 0.25
# Resolved wheels: the stated error of the wheel-contents model (slugprof.measure.wheels). Measured:
# the validation set (numpy, pandas, scipy, scikit-learn, django, requests, flask) +0.9% compressed;
# single packages typically within 8%; sets of generated API clients up to +20% (an upper bound).
RESOLVED_MODEL_ERROR = 0.10


@dataclass(frozen=True)
class AnalyzeOptions:
    app_root: Path
    settings: Settings
    environment: str | None = None  # --env
    exact: bool = False
    cache_dir: Path | None = None
    workers: int | None = None
    resolve: bool = False  # resolve for the dyno even when an environment is found
    offline: bool = False  # no network: resolution only from the cache
    stack: str = "heroku-24"
    arch: str = "amd64"
    build_sdists: bool = False


def analyze(
    options: AnalyzeOptions, environ: Mapping[str, str], progress: Progress | None = None
) -> AnalyzeReport:
    progress = progress or NoProgress()
    root = options.app_root
    root = app_root(root)

    app = collect_app_files(root, progress)
    python = choose_python_version(root, options.settings)
    manager = choose_package_manager(root)
    notes: list[str] = [*manager.build_errors, *python.notes]
    if not (root / "Procfile").is_file():
        notes.append("no Procfile: Heroku will not know how to start the web process")

    environment = None
    if not options.resolve:
        environment = find_environment(root, options.environment, environ)
    if environment is not None:
        dependencies = measure_dependencies(root, environment, progress)
        env_minor = ".".join(environment.version.split(".")[:2])
        if env_minor != python.minor:
            notes.append(
                f"the environment runs Python {environment.version} but Heroku will install Python "
                f"{python.version} ({python.source}): compiled packages and bytecode may differ in size"
            )
    elif manager.build_errors:
        dependencies = DependencyInventory(
            source="none",
            notes=("dependencies not resolved: the Heroku build would fail first (see the notes)",),
        )
    else:
        try:
            dependencies = _resolved_dependencies(
                root, options, python.version, manager.name, environ, progress
            )
        except ToolFailure as failure:
            if not options.offline:
                raise
            dependencies = DependencyInventory(
                source="none",
                notes=(f"dependencies not measured: offline, and nothing usable is cached ({failure})",),
            )
    if manager.name not in ("pip", "none") and environment is not None and not options.resolve:
        notes.append(
            f"{manager.file} is not read yet: the closure comes from requirements.txt only, so "
            "dependencies may be missing from the figures"
        )

    installed = {package.name for package in dependencies.packages}
    if "django" in installed and any(
        f.path.count("/") < 3 and f.path.endswith("manage.py") for f in app.included
    ):
        notes.append(
            "the buildpack runs `manage.py collectstatic` for Django apps: its output (STATIC_ROOT) will be "
            "in the slug too, and is not counted here"
        )
    parts = tuple(
        part for part in buildpack_parts(python, manager, options.settings) if part.name not in installed
    )

    members = _tar_members(app, dependencies, python.minor)
    compression = estimate_compressed(
        members,
        exact=options.exact,
        cache_dir=options.cache_dir,
        workers=options.workers,
        progress=progress,
    )
    slug = _slug(app, dependencies, parts, compression, options.settings)
    app = replace(app, root=display_path(app.root))
    if environment is not None:
        dependencies = replace(
            dependencies,
            source=f"environment:{display_path(environment.prefix)}",
            interpreter=display_path(environment.interpreter),
        )
    return AnalyzeReport(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        app=app,
        python=python,
        package_manager=manager.name,
        dependencies=dependencies,
        buildpack=parts,
        compression=compression,
        slug=slug,
        notes=tuple(notes),
    )


def _resolved_dependencies(
    root: Path,
    options: AnalyzeOptions,
    python_version: str,
    manager: str,
    environ: Mapping[str, str],
    progress: Progress,
) -> DependencyInventory:
    """Dependencies as the buildpack will install them on the dyno, resolved and sized remotely."""
    target = make_target(
        options.stack,
        options.arch,
        python_version,
        manager,
        {"heroku-26": options.settings.heroku_26_glibc},
    )
    dotenv, dotenv_notes = read_dotenv(root)
    resolution = resolve(
        root,
        target,
        environ=environ,
        dotenv=dotenv,
        cache_dir=options.cache_dir,
        offline=options.offline,
        progress=progress,
    )
    sized = {
        package.name: package
        for package in size_packages(
            resolution.packages,
            resolution.target,
            cache_dir=options.cache_dir,
            offline=options.offline,
            build_sdists=options.build_sdists,
            progress=progress,
        )
    }
    edges = {package.name: package.requires for package in resolution.packages}
    exclusive = exclusive_sets(resolution.top_level, edges)
    notes = [*dotenv_notes, *resolution.notes]
    packages = []
    for resolved in resolution.packages:
        size = sized.get(resolved.name)
        if size is None or not size.measured:
            reason = size.method if size else "not sized"
            notes.append(f"{resolved.name} {resolved.version}: {reason}")
        top = resolved.name in exclusive
        packages.append(
            Package(
                name=resolved.name,
                version=resolved.version,
                bytes=size.installed_bytes if size else 0,
                file_count=size.file_count if size else 0,
                location="",
                files=(),
                requires=resolved.requires,
                requested_by=resolved.requested_by,
                top_level=top,
                exclusive_bytes=(
                    sum(sized[n].installed_bytes for n in exclusive[resolved.name] if n in sized)
                    if top
                    else None
                ),
                exclusive_packages=tuple(sorted(exclusive[resolved.name])) if top else (),
                compressed_bytes=size.compressed_bytes if size else 0,
                measured=bool(size and size.measured),
                size_method=size.method if size else "not sized",
            )
        )
    installed = {package.name for package in resolution.packages}
    return DependencyInventory(
        source="resolved",
        python_version=resolution.target.python,
        requirements_files=resolution.manager_files,
        requirements=resolution.top_level,
        packages=tuple(packages),
        missing=tuple(sorted(set(resolution.top_level) - installed)),
        notes=tuple(notes),
        target=resolution.target,
        resolver=resolution.resolver + (" (cached)" if resolution.from_cache else ""),
    )


def _tar_members(app: AppInventory, dependencies: DependencyInventory, minor: str) -> list[TarMember]:
    members: list[TarMember] = []
    for file in app.included:
        disk_path = os.path.join(app.root, file.path)
        link_target = None
        if file.kind == "symlink":
            try:
                link_target = os.readlink(disk_path)
            except OSError:
                link_target = ""
        members.append(
            TarMember(
                arcname=file.path,
                group=APP_GROUP,
                size=file.bytes if file.kind == "file" else 0,
                path=disk_path if file.kind == "file" else None,
                kind=file.kind,
                link_target=link_target,
            )
        )
    site_packages = f".heroku/python/lib/python{minor}/site-packages"
    for package in dependencies.packages:
        members.extend(_package_members(package, site_packages))
    for name, content in PROFILE_D_SCRIPTS.items():
        members.append(
            TarMember(arcname=name, group=buildpack_group("profile.d"), size=len(content), content=content)
        )
    return members


def _package_members(package: Package, site_packages: str) -> list[TarMember]:
    members = []
    location = package.location.rstrip(os.sep) + os.sep
    # site-packages is <prefix>/lib/pythonX.Y/site-packages: bin scripts sit under <prefix>.
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(package.location.rstrip(os.sep)))) + os.sep
    for file in package.files:
        if file.startswith(location):
            arcname = f"{site_packages}/{_posix(file[len(location) :])}"
        elif file.startswith(prefix):
            arcname = f".heroku/python/{_posix(file[len(prefix) :])}"
        else:
            arcname = f".heroku/python/{os.path.basename(file)}"
        try:
            status = os.lstat(file)
            is_link = stat.S_ISLNK(status.st_mode)
            link_target = os.readlink(file) if is_link else None
        except OSError:
            continue
        members.append(
            TarMember(
                arcname=arcname,
                group=dependency_group(package.name),
                size=0 if is_link else status.st_size,
                path=None if is_link else file,
                kind="symlink" if is_link else "file",
                link_target=link_target,
            )
        )
    return members


def _posix(relative: str) -> str:
    return relative.replace(os.sep, "/")


def _slug(
    app: AppInventory,
    dependencies: DependencyInventory,
    parts: tuple[BuildpackPart, ...],
    compression: CompressionEstimate,
    settings: Settings,
) -> Slug:
    def group_compressed(prefix: str) -> int:
        return sum(g.compressed_bytes for g in compression.groups if g.group.startswith(prefix))

    # Resolved packages are not on disk: their compressed share comes from the wheel model.
    resolved_compressed = sum(p.compressed_bytes or 0 for p in dependencies.packages)

    runtime = [part for part in parts if part.name == "python"]
    tools = [part for part in parts if part.name != "python"]
    unmeasured_compressed = sum(part.compressed_bytes or 0 for part in parts)
    tools_compressed = sum(p.compressed_bytes or 0 for p in tools) + group_compressed(BUILDPACK_GROUP_PREFIX)
    components = (
        SlugComponent("app", app.bytes, group_compressed(APP_GROUP), measured=True),
        SlugComponent(
            "python",
            sum(p.bytes for p in runtime),
            sum(p.compressed_bytes or 0 for p in runtime),
            measured=False,
        ),
        SlugComponent(
            "dependencies",
            dependencies.bytes,
            group_compressed(DEPENDENCY_GROUP_PREFIX) + resolved_compressed,
            measured=dependencies.source != "none" and all(p.measured for p in dependencies.packages),
        ),
        SlugComponent("buildpack tools", sum(p.bytes for p in tools), tools_compressed, measured=False),
    )
    # The tar stream's end-of-archive padding belongs to no group; count it in the total.
    compressed = compression.compressed_bytes + unmeasured_compressed + resolved_compressed
    estimated_resolved = sum(p.compressed_bytes or 0 for p in dependencies.packages if not p.measured)
    error = (
        compression.error_bytes
        + round(UNMEASURED_ALLOWANCE * (unmeasured_compressed + estimated_resolved))
        + round(RESOLVED_MODEL_ERROR * (resolved_compressed - estimated_resolved))
    )
    status: SlugStatus = "ok"
    if compressed > settings.slug_limit:
        status = "over"
    elif compressed > settings.soft_limit or compressed + error > settings.slug_limit:
        status = "warn"
    return Slug(
        bytes=sum(c.bytes for c in components),
        compressed_bytes=compressed,
        compressed_error=error,
        compressed_method=compression.method,
        limit_bytes=settings.slug_limit,
        soft_limit_bytes=settings.soft_limit,
        status=status,
        components=components,
    )
