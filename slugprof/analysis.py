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
from slugprof.errors import UsageError
from slugprof.measure.compress import estimate_compressed
from slugprof.measure.distributions import measure_dependencies
from slugprof.model import (
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
)
from slugprof.progress import NoProgress, Progress
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.buildpack import (
    PROFILE_D_SCRIPTS,
    buildpack_parts,
    choose_package_manager,
    choose_python_version,
)
from slugprof.sources.environment import find_environment

APP_GROUP = "app"
# Parts sized from settings rather than measured carry this share of their size as stated error.
UNMEASURED_ALLOWANCE = 0.25


@dataclass(frozen=True)
class AnalyzeOptions:
    app_root: Path
    settings: Settings
    environment: str | None = None  # --env
    exact: bool = False
    cache_dir: Path | None = None
    workers: int | None = None


def analyze(
    options: AnalyzeOptions, environ: Mapping[str, str], progress: Progress | None = None
) -> AnalyzeReport:
    progress = progress or NoProgress()
    root = options.app_root
    if not root.exists():
        raise UsageError(f"{root}: no such folder; give the path of your app (the folder with the Procfile)")
    if not root.is_dir():
        raise UsageError(f"{root}: is a file; give the folder of your app, not a file in it")
    root = root.resolve()

    app = collect_app_files(root, progress)
    python = choose_python_version(root, options.settings)
    manager = choose_package_manager(root)
    notes: list[str] = [*manager.build_errors, *python.notes]
    if not (root / "Procfile").is_file():
        notes.append("no Procfile: Heroku will not know how to start the web process")

    environment = find_environment(root, options.environment, environ)
    if environment is None:
        dependencies = DependencyInventory(
            source="none",
            notes=(
                "dependencies not measured: no virtualenv found (.venv, venv or env in the app, or "
                "$VIRTUAL_ENV); install the app's requirements into one, or pass --env PATH",
            ),
        )
    else:
        dependencies = measure_dependencies(root, environment, progress)
        env_minor = ".".join(environment.version.split(".")[:2])
        if env_minor != python.minor:
            notes.append(
                f"the environment runs Python {environment.version} but Heroku will install Python "
                f"{python.version} ({python.source}): compiled packages and bytecode may differ in size"
            )
    if manager.name not in ("pip", "none") and environment is not None:
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


def display_path(path: str) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        relative = Path(path).relative_to(Path.cwd())
    except ValueError:
        return path
    return relative.as_posix() or "."


def dependency_group(name: str) -> str:
    return f"dep:{name}"


def buildpack_group(name: str) -> str:
    return f"buildpack:{name}"


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

    runtime = [part for part in parts if part.name == "python"]
    tools = [part for part in parts if part.name != "python"]
    unmeasured_compressed = sum(part.compressed_bytes or 0 for part in parts)
    tools_compressed = sum(p.compressed_bytes or 0 for p in tools) + group_compressed("buildpack:")
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
            group_compressed("dep:"),
            measured=dependencies.source != "none",
        ),
        SlugComponent("buildpack tools", sum(p.bytes for p in tools), tools_compressed, measured=False),
    )
    # The tar stream's end-of-archive padding belongs to no group; count it in the total.
    compressed = compression.compressed_bytes + unmeasured_compressed
    error = compression.error_bytes + round(UNMEASURED_ALLOWANCE * unmeasured_compressed)
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
