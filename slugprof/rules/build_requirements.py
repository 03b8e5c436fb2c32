"""BUILD14x: what `pip install -r requirements.txt` refuses or cannot build (lib/pip.sh; heroku-facts 3.4).

The requirements are read again here through the files the build sees, so a line that is fine on disk
but not committed, or an include that .slugignore removes, is judged as the build will judge it.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from slugprof.heroku import (
    DEFAULT_ARCH,
    DEFAULT_STACK,
    GEO_BUILDPACK_URL,
    GEO_LIBRARIES,
    SDIST_SYSTEM_LIBRARIES,
)
from slugprof.model import Edit, Evidence, Fix, Location, Severity
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.sources.buildpack import choose_package_manager
from slugprof.sources.requirement_reasons import explain
from slugprof.sources.requirements import RequirementProblem, read_build_requirements
from slugprof.sources.target import make_target, target_marker_environment


def marker_environment(inputs: RuleInputs) -> dict[str, str]:
    """The dyno's marker values: the resolution's target, else the default stack with the app's Python."""
    target = inputs.report.dependencies.target or make_target(
        DEFAULT_STACK, DEFAULT_ARCH, inputs.report.python.version, "pip"
    )
    return target_marker_environment(target)


def requirement_problems(inputs: RuleInputs) -> tuple[RequirementProblem, ...]:
    """The lines of the app's requirements pip refuses, when pip is the manager the build selects."""
    if choose_package_manager(inputs.files).name != "pip":
        return ()
    return read_build_requirements(inputs.files, marker_environment(inputs)).problems


@rule(
    "BUILD140",
    "invalid-requirement",
    Severity.ERROR,
    summary="A line of requirements.txt, or of a file it includes, that pip refuses.",
    why="pip reads the whole file before installing anything: one line it cannot read stops "
    "`pip install -r requirements.txt`, and the build with it.",
    fix="Write the line as pip reads it: a package name, optional [extras], version specifiers with "
    'their operator (`flask==3.0`) and an optional marker after `;` (`; python_version < "3.12"`).',
    source="heroku-facts 3.4 (lib/pip.sh: pip install -r requirements.txt)",
)
def invalid_requirement(inputs: RuleInputs) -> Iterator[Hit]:
    for problem in requirement_problems(inputs):
        edits: tuple[Edit, ...] = ()
        if problem.replacement is not None:
            edits = (Edit(path=problem.file, old=problem.text, new=problem.replacement),)
        yield Hit(
            title=f"{problem.file} line {problem.line}: {problem.reason}; pip refuses the line and the "
            "build fails",
            evidence=(f"{problem.file}, line {problem.line}, reads: {problem.text}",),
            location=Location(problem.file, problem.line),
            fix=Fix(summary=problem.reason, edits=edits),
        )


@rule(
    "BUILD141",
    "invalid-dependency-metadata",
    Severity.ERROR,
    summary="A dependency whose metadata pip refuses: a Requires-Dist line of its wheel that is not PEP 508.",
    why="pip 24.1 and later parse every dependency's metadata strictly and stop the install at one they "
    "cannot read (old releases such as celery 5.2.0 wrote `pytz (>dev)`); the buildpack's pip is newer.",
    fix="Upgrade the package to a release with valid metadata (its newer versions), or replace it.",
    source="heroku-facts 3.4 (lib/pip.sh; bin/warnings: the buildpack's hint for broken metadata)",
)
def invalid_dependency_metadata(inputs: RuleInputs) -> Iterator[Hit]:
    dependencies = inputs.report.dependencies
    evidence_class = Evidence.MEASURED if dependencies.source.value == "environment" else Evidence.RESOLVED
    for package in dependencies.packages:
        if not package.invalid_requires:
            continue
        first = package.invalid_requires[0]
        try:
            Requirement(first)
            reason = "not valid"
        except InvalidRequirement as error:
            reason = explain(first, str(error)).text
        asked = ", ".join(package.requested_by) or "the app"
        yield Hit(
            title=f"{package.name} {package.version} has metadata pip refuses (Requires-Dist `{first}`: "
            f"{reason}): the install stops there",
            evidence=(
                *(
                    f"{package.name} {package.version} METADATA: Requires-Dist: {line}"
                    for line in package.invalid_requires
                ),
                f"{package.name} is required by {asked}",
            ),
            evidence_class=evidence_class,
            location=_requested_at(inputs, package.name),
            fix=Fix(summary=f"upgrade {package.name} to a release whose metadata pip reads"),
        )


def _requested_at(inputs: RuleInputs, name: str) -> Location | None:
    """The requirements line that names the package, when one does."""
    if choose_package_manager(inputs.files).name != "pip":
        return None
    for line in read_build_requirements(inputs.files, marker_environment(inputs)).requirements:
        if line.name == name:
            return Location(line.file, line.line)
    return None


def _system_libraries(name: str, version: str) -> str | None:
    """What the sdist of this package needs from the system to build, if it is a known case."""
    for package, versions, libraries in SDIST_SYSTEM_LIBRARIES:
        if package != name:
            continue
        try:
            concerned = not versions or SpecifierSet(versions).contains(Version(version), prereleases=True)
        except InvalidVersion:
            concerned = True  # an unknown version: the sdist still builds from source
        if concerned:
            return libraries
    return None


@rule(
    "BUILD142",
    "sdist-needs-system-libraries",
    Severity.ERROR,
    summary="A package installs from its source distribution and needs system libraries the stack lacks "
    "(GDAL, GEOS, PROJ; the SQLite headers).",
    why="No wheel fits the dyno, so pip builds the sdist during the build; GDAL, GEOS and PROJ come only "
    "with Heroku's geo buildpack, and the SQLite headers are no longer installed: the build fails.",
    fix="Add the heroku-geo-buildpack before the Python buildpack, or pin a version that ships wheels.",
    source="heroku-facts 3.4 (lib/pip.sh); bin/warnings (the buildpack's GDAL and SQLite hints)",
)
def sdist_needs_system_libraries(inputs: RuleInputs) -> Iterator[Hit]:
    for package in inputs.report.dependencies.packages:
        libraries = _system_libraries(package.name, package.version) if package.from_sdist else None
        if libraries is None:
            continue
        evidence = (
            f"{package.name} {package.version}: the resolution found only its sdist for the dyno",
            f"building {package.name} needs {libraries}",
            f"{package.name} is required by {', '.join(package.requested_by) or 'the app'}",
        )
        if libraries in GEO_LIBRARIES:
            fix = Fix(
                summary=f"add the geo buildpack before the Python one (or pin a {package.name} release "
                "with wheels for the dyno)",
                command=f"heroku buildpacks:add --index 1 {GEO_BUILDPACK_URL}",
            )
        else:
            fix = Fix(summary=f"pin a {package.name} release with wheels for the dyno (or pysqlite3-binary)")
        yield Hit(
            title=f"{package.name} {package.version} builds from source on Heroku and needs {libraries}, "
            "which the build does not have: the build fails",
            evidence=evidence,
            evidence_class=Evidence.RESOLVED,
            location=_requested_at(inputs, package.name),
            fix=fix,
        )
