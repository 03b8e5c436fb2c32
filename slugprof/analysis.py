"""`analyze` as a pipeline: app files + dependencies + buildpack parts -> tar members -> slug."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from slugprof import __version__
from slugprof.config import Settings
from slugprof.errors import ToolFailure
from slugprof.heroku import DEFAULT_ARCH, DEFAULT_GENERATION, DEFAULT_STACK, FIR_ARCH, IMAGE_GZIP_LEVEL
from slugprof.measure.build_output import BuildOutput, build_output
from slugprof.measure.bytecode import note_for as bytecode_note_for
from slugprof.measure.distributions import measure_dependencies
from slugprof.measure.graph import exclusive_sets
from slugprof.measure.image import image_of, image_parts
from slugprof.measure.runtime import RuntimeRequest, measure_runtime, temporary_scratch
from slugprof.measure.slug import SLUG_LEVEL, SizedSlug, SlugInventory, SlugLimits, size_slug
from slugprof.model import (
    AnalyzeReport,
    AppInventory,
    DependencyInventory,
    DependencySource,
    Edit,
    Package,
    PythonVersionChoice,
    Resolution,
    SizeMethod,
    ToolInfo,
)
from slugprof.progress import NoProgress, Progress
from slugprof.sources.appfiles import collect_app_files
from slugprof.sources.approot import app_root, path_in_report
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.buildpack import (
    PackageManagerChoice,
    buildpack_parts,
    choose_package_manager,
    choose_python_version,
    reaches_install,
)
from slugprof.sources.dotenv import read_dotenv
from slugprof.sources.environment import find_environment
from slugprof.sources.project_toml import fir_app_files, read_project_toml, slugignore_note
from slugprof.sources.requirements import read_build_requirements, read_requirements_txt


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
    stack: str = DEFAULT_STACK
    arch: str = DEFAULT_ARCH
    build_sdists: bool = False
    ignore: tuple[str, ...] = ()  # --ignore: rule ids to silence, with the settings' own
    generation: str = DEFAULT_GENERATION  # "fir": an image for arm64 dynos, not a slug


def analyze(
    options: AnalyzeOptions, environ: Mapping[str, str], progress: Progress | None = None
) -> AnalyzeReport:
    if options.cache_dir is not None:
        return _analyze(options, environ, progress or NoProgress(), None)
    # No cache to keep the runtime's unpacked files in: a folder of this run's own, while it needs them.
    with temporary_scratch() as scratch:
        return _analyze(options, environ, progress or NoProgress(), Path(scratch))


def _analyze(
    options: AnalyzeOptions, environ: Mapping[str, str], progress: Progress, scratch: Path | None
) -> AnalyzeReport:
    root = options.app_root
    root = app_root(root)
    fir = options.generation == "fir"
    if fir:
        options = replace(options, arch=FIR_ARCH)  # Fir dynos are arm64 (heroku-facts 9.4)

    notes: list[str] = []
    app = collect_app_files(root, progress)
    if fir:
        app = _fir_app(root, app, notes)
    files = BuildFiles.of(root, app)
    manager = choose_package_manager(files)
    python = choose_python_version(files, options.settings, manager.name)

    environment = None
    if not options.resolve:
        environment = find_environment(root, options.environment, environ)
    if environment is not None:
        dependencies = replace(
            measure_dependencies(
                read_requirements_txt(root, environment.marker_environment), environment, progress
            ),
            environment=path_in_report(environment.prefix, root),
            interpreter=path_in_report(environment.interpreter, root),
        )
        app = _without_environment(app, root, Path(environment.prefix), notes)
        env_minor = ".".join(environment.version.split(".")[:2])
        if env_minor != python.minor:
            notes.append(
                f"the environment runs Python {environment.version} but Heroku will install Python "
                f"{python.version} ({python.source}): compiled packages and bytecode may differ in size"
            )
    else:
        dependencies = _dependencies_for_the_dyno(
            root, options, files, manager, python.version, environ, progress
        )
    if manager.name not in ("pip", "none") and environment is not None and not options.resolve:
        notes.append(
            f"{manager.file} is not read yet: the closure comes from requirements.txt only, so "
            "dependencies may be missing from the figures"
        )

    if options.exact and dependencies.source == DependencySource.RESOLVED:
        notes.append(
            "--exact compressed only the app's files for real: the resolved dependencies are not on this "
            "machine, so their share of the slug comes from the wheel model"
        )
    installed = {package.name for package in dependencies.packages}
    built = build_output(root, app, environment, environ, progress, django_resolved="django" in installed)
    with built as output:  # the build's files stay on disk until the findings' savings are measured
        notes.extend(output.notes)
        found = _Found(root, options, environ, files, manager, python, output.with_files(app), output)
        return _sized_report(found, dependencies, tuple(notes), progress, scratch)


@dataclass(frozen=True)
class _Found:
    """What the analysis found before sizing the slug: the app's files with the build's."""

    root: Path
    options: AnalyzeOptions
    environ: Mapping[str, str]
    files: BuildFiles
    manager: PackageManagerChoice
    python: PythonVersionChoice
    app: AppInventory
    output: BuildOutput


def _sized_report(
    found: _Found,
    dependencies: DependencyInventory,
    notes: tuple[str, ...],
    progress: Progress,
    scratch: Path | None,
) -> AnalyzeReport:
    """The slug sized from the app's files (the build's too), the dependencies and the buildpack's
    parts, with the rules' findings."""
    options, python, manager = found.options, found.python, found.manager
    fir = options.generation == "fir"
    installed = {package.name for package in dependencies.packages}
    runtime = measure_runtime(
        RuntimeRequest(
            version=python.version,
            stack=options.stack,
            arch=options.arch,
            base_url=options.settings.python_runtime_url,
            cache_dir=options.cache_dir,
            offline=options.offline,
        ),
        progress,
        scratch,
    )
    parts = tuple(
        part
        for part in buildpack_parts(python, manager, options.settings, runtime)
        if part.name not in installed
    )
    level = IMAGE_GZIP_LEVEL if fir else SLUG_LEVEL
    inventory = SlugInventory(
        app=found.app,
        dependencies=dependencies,
        buildpack=image_parts(parts, level) if fir else parts,
        python_minor=python.minor,
        compression_level=level,
        build_folder=found.output.folder,
    )
    limits = SlugLimits(limit_bytes=options.settings.slug_limit, soft_limit_bytes=options.settings.soft_limit)
    sized = size_slug(
        inventory,
        limits,
        exact=options.exact,
        cache_dir=options.cache_dir,
        workers=options.workers,
        progress=progress,
    )
    report = AnalyzeReport(
        tool=ToolInfo(version=__version__),
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        app=sized.app,
        python=python,
        package_manager=manager.name,
        dependencies=sized.dependencies,
        buildpack=sized.buildpack,
        slug=sized.slug,
        notes=notes,
        generation=options.generation,
        image=image_of(sized.slug, level) if fir else None,
        build_steps=found.output.steps,
    )
    resolve_edited = None
    if dependencies.source == DependencySource.RESOLVED:
        resolve_edited = _EditedResolution(
            found.root, options, python.version, manager, found.environ, found.files
        )
    measured = _Measured(inventory, limits, sized, resolve_edited)
    return _with_findings(report, found.files, options, measured, progress)


def _fir_app(root: Path, app: AppInventory, notes: list[str]) -> AppInventory:
    """The app's files as a Fir build takes them: project.toml's rules, never .slugignore (said)."""
    note = slugignore_note(app)
    if note is not None:
        notes.append(note)
    return fir_app_files(app, read_project_toml(root))


def _without_environment(app: AppInventory, root: Path, prefix: Path, notes: list[str]) -> AppInventory:
    """The app's files less the environment's folder when it lies in the app (a committed .venv): its
    files are measured once, as the dependencies, never also as app files."""
    try:
        folder = prefix.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return app
    prefix_text = f"{folder}/"
    inside = [f for f in app.files if f.path.startswith(prefix_text)]
    if inside:
        notes.append(
            f"{prefix_text} is the measured environment and is pushed too: its {len(inside)} files are "
            "counted once, as the dependencies"
        )
    return replace(
        app,
        files=tuple(f for f in app.files if not f.path.startswith(prefix_text)),
        # Not "will not deploy until committed": an environment is not meant to be committed.
        untracked=tuple(path for path in app.untracked if not path.startswith(prefix_text)),
    )


@dataclass(frozen=True)
class _Measured:
    """What the slug model was run on, and what it said: the savings run it again on edits of it."""

    inventory: SlugInventory
    limits: SlugLimits
    sized: SizedSlug
    resolve_edited: _EditedResolution | None = None  # None: the dependencies were not resolved


@dataclass(frozen=True)
class _EditedResolution:
    """The dependencies resolved again for the same dyno with a fix's requirement edits: how a swap is
    sized (the same resolver and cache as the analysis)."""

    root: Path
    options: AnalyzeOptions
    python_version: str
    manager: PackageManagerChoice
    environ: Mapping[str, str]
    files: BuildFiles

    def __call__(self, edits: tuple[Edit, ...]) -> DependencyInventory:
        edited = self.files.edited_texts(edits)
        return _resolved_dependencies(
            self.root, self.options, self.python_version, self.manager, self.environ, NoProgress(), edited
        )


def _with_findings(
    report: AnalyzeReport, files: BuildFiles, options: AnalyzeOptions, measured: _Measured, progress: Progress
) -> AnalyzeReport:
    from slugprof.measure.savings import with_measured_savings
    from slugprof.rules import RuleInputs, run_rules

    inputs = RuleInputs(files=files, analysis=report, settings=options.settings)
    findings, build, rules_run = run_rules(inputs, (*options.settings.ignore, *options.ignore))
    findings = with_measured_savings(
        findings,
        measured.inventory,
        measured.limits,
        measured.sized,
        exact=options.exact,
        cache_dir=options.cache_dir,
        workers=options.workers,
        resolve_edited=measured.resolve_edited,
        progress=progress,
    )
    return replace(report, findings=findings, build=build, rules=rules_run)


def _dependencies_for_the_dyno(
    root: Path,
    options: AnalyzeOptions,
    files: BuildFiles,
    manager: PackageManagerChoice,
    python_version: str,
    environ: Mapping[str, str],
    progress: Progress,
) -> DependencyInventory:
    """Resolved for the dyno, unless the build stops before installing them (the verdict says why)."""
    if not reaches_install(files, manager):
        return DependencyInventory(
            source=DependencySource.NONE,
            notes=("dependencies not resolved: the Heroku build would fail first (see the build verdict)",),
        )
    refused = _refused_requirement(files, manager, options, python_version)
    if refused is not None:
        return DependencyInventory(
            source=DependencySource.NONE,
            notes=(
                f"dependencies not resolved: pip refuses {refused}, so the Heroku build would fail "
                "there (see the build verdict)",
            ),
        )
    try:
        return _resolved_dependencies(root, options, python_version, manager, environ, progress)
    except ToolFailure as failure:
        if not options.offline:
            raise
        return DependencyInventory(
            source=DependencySource.NONE,
            notes=(f"dependencies not measured: offline, and nothing usable is cached ({failure})",),
        )


def _refused_requirement(
    files: BuildFiles, manager: PackageManagerChoice, options: AnalyzeOptions, python_version: str
) -> str | None:
    """The first requirement line pip refuses, as "requirements.txt line 3", or None."""
    if manager.name != "pip":
        return None
    from slugprof.sources.target import make_target, target_marker_environment

    target = make_target(options.stack, options.arch, python_version, "pip")
    problems = read_build_requirements(files, target_marker_environment(target)).problems
    return f"{problems[0].file} line {problems[0].line}" if problems else None


def _resolved_dependencies(
    root: Path,
    options: AnalyzeOptions,
    python_version: str,
    manager: PackageManagerChoice,
    environ: Mapping[str, str],
    progress: Progress,
    edited: Mapping[str, str] | None = None,
) -> DependencyInventory:
    """Dependencies as the buildpack will install them on the dyno, resolved and sized remotely; with
    `edited`, as they would be with those requirement files changed (a fix's saving)."""
    # Imported here: the resolver, the index client and the wheel listings are not needed to measure
    # an installed environment, and importing them costs a warm run about a tenth of its time.
    from slugprof.resolve import resolve
    from slugprof.sources.target import make_target

    target = make_target(
        options.stack,
        options.arch,
        python_version,
        manager.name,
        {"heroku-26": options.settings.heroku_26_glibc},
    )
    dotenv, dotenv_notes = read_dotenv(root)
    resolution = resolve(
        root,
        target,
        manager,
        environ=environ,
        dotenv=dotenv,
        cache_dir=options.cache_dir,
        offline=options.offline,
        build_sdists=options.build_sdists,
        edited=edited,
        progress=progress,
    )
    return _sized_resolution(resolution, options, dotenv_notes, progress)


def _sized_resolution(
    resolution: Resolution, options: AnalyzeOptions, dotenv_notes: Sequence[str], progress: Progress
) -> DependencyInventory:
    """The resolution's packages with their sizes, exclusive shares and notes."""
    from slugprof.measure.sizing import size_packages

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
    borrowed_table = bytecode_note_for(resolution.target.python_minor)
    if borrowed_table:
        notes.append(borrowed_table)
    packages = []
    for resolved in resolution.packages:
        size = sized.get(resolved.name)
        method = size.method if size else SizeMethod.NOT_MEASURED
        method_note = size.method_note if size else "not sized"
        if not method.measured:
            notes.append(f"{resolved.name} {resolved.version}: {_size_description(method, method_note)}")
        top = resolved.name in exclusive
        packages.append(
            Package(
                name=resolved.name,
                version=resolved.version,
                bytes=size.installed_bytes if size else 0,
                file_count=size.file_count if size else 0,
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
                measured=method.measured,
                size_method=method,
                size_note=method_note,
                invalid_requires=size.invalid_requires if size else (),
                modules=size.modules if size else None,
                from_sdist=resolved.file is not None and resolved.file.kind == "sdist",
            )
        )
    installed = {package.name for package in resolution.packages}
    return DependencyInventory(
        source=DependencySource.RESOLVED,
        python_version=resolution.target.python,
        requirements_files=resolution.manager_files,
        requirements=resolution.top_level,
        packages=tuple(packages),
        missing=tuple(sorted(set(resolution.top_level) - installed)),
        notes=tuple(notes),
        target=resolution.target,
        resolver=resolution.resolver + (" (cached)" if resolution.from_cache else ""),
    )


def _size_description(method: SizeMethod, note: str | None) -> str:
    if method == SizeMethod.NOT_MEASURED:
        return f"not measured: {note}" if note else "not measured"
    return f"{method.value} ({note})" if note else method.value
