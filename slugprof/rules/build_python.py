"""BUILD11x: the Python version, read as the buildpack reads it (lib/python_version.sh; heroku-facts 3.3,
9.5)."""

from __future__ import annotations

from collections.abc import Iterator

from slugprof.heroku import (
    BUILDPACK_RELEASE,
    DEFAULT_PYTHON,
    LATEST_PYTHON_PATCH,
    PYTHON_REMOVAL_DATES,
    SUPPORTED_PYTHON_MINORS,
)
from slugprof.model import Edit, Fix, Location, Severity
from slugprof.rules.registry import Hit, RuleInputs, rule, unseen
from slugprof.sources.buildfiles import Absence
from slugprof.sources.buildpack import choose_package_manager
from slugprof.sources.python_version import (
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    VersionProblem,
    VersionRequest,
    read_version_request,
)

_SUPPORTED = ", ".join(SUPPORTED_PYTHON_MINORS)


def _request(inputs: RuleInputs) -> VersionRequest:
    return read_version_request(inputs.files, choose_package_manager(inputs.files).name)


def _location(request: VersionRequest) -> Location | None:
    return Location(request.origin, request.line) if request.origin else None


def _write_python_version(minor: str) -> Fix:
    return Fix(
        summary=f"name the Python version in .python-version ({minor})",
        edits=(Edit(path=PYTHON_VERSION_FILE, old=None, new=f"{minor}\n"),),
    )


_SYNTAX = {
    VersionProblem.INVALID: "is not a version the buildpack reads",
    VersionProblem.SEVERAL: "names more than one version",
    VersionProblem.EMPTY: "names no version",
    VersionProblem.ENCODING: "cannot be read: save it as UTF-8 without a byte-order mark",
}
_SYNTAX_FIX = {
    ".python-version": "write one version such as 3.14 alone on its line (comments on their own lines)",
    "runtime.txt": "write one line such as python-3.14, or move the version to .python-version",
    "Pipfile.lock": "set python_version in the Pipfile to N.N (no wildcards) and run `pipenv lock`",
}


@rule(
    "BUILD110",
    "invalid-python-version",
    Severity.ERROR,
    summary="The Python version file cannot be read as the buildpack reads it.",
    why="The buildpack stops at the first version file it finds; one it cannot parse fails the build. "
    ".python-version takes one `N.N` or `N.N.N`, with comments only on their own line, as UTF-8 without "
    "a byte-order mark; runtime.txt one `python-N.N` or `python-N.N.N`; Pipfile.lock's python_version / "
    "python_full_version `N.N` or `N.N.N`.",
    fix="Write one version, like `3.13`, alone on its line.",
    source="heroku-facts 3.3, 9.5 (lib/python_version.sh)",
)
def invalid_version(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    if request.problem not in _SYNTAX or request.origin is None:
        return
    shown = f" ({request.text!r})" if request.text else ""
    yield Hit(
        title=f"{request.origin} {_SYNTAX[request.problem]}{shown}: the build fails",
        evidence=(
            f"{request.origin}, line {request.line}: {request.text!r}" if request.line else request.origin,
        ),
        location=_location(request),
        fix=Fix(summary=f"write a single version such as {DEFAULT_PYTHON} in {request.origin}"),
    )


@rule(
    "BUILD111",
    "unsupported-python-version",
    Severity.ERROR,
    summary="The requested Python is end-of-life, not yet known to the buildpack, or a patch newer than "
    "the latest it knows.",
    why="The buildpack installs only the versions it lists; any other request fails the build.",
    fix="Ask for a supported minor, such as the default, without a patch number.",
    source="heroku-facts 3.3, 9.5 (lib/python_version.sh)",
)
def unsupported_version(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    if request.requested is None or request.origin is None:
        return
    evidence = [f"{request.origin} asks for {request.requested}", f"supported: {_SUPPORTED}"]
    if request.problem == VersionProblem.END_OF_LIFE:
        title = f"Python {request.minor} has reached end-of-life: the buildpack refuses it"
    elif request.problem == VersionProblem.UNKNOWN_MINOR:
        title = f"Python {request.minor} is not known to the buildpack: the build fails"
    elif request.problem == VersionProblem.UNKNOWN_PATCH:
        latest = LATEST_PYTHON_PATCH[request.minor or ""]
        title = (
            f"Python {request.requested} is newer than the latest the buildpack knows ({latest}): "
            "the build fails"
        )
        evidence.append(
            f"the latest {request.minor} as of buildpack {BUILDPACK_RELEASE}; the build downloads only "
            "the patches the buildpack knows"
        )
    else:
        return
    yield Hit(
        title=title,
        evidence=tuple(evidence),
        location=_location(request),
        fix=_replace_version(request, DEFAULT_PYTHON),
    )


def _replace_version(request: VersionRequest, version: str) -> Fix:
    if request.origin == PYTHON_VERSION_FILE and request.text:
        edit = Edit(path=PYTHON_VERSION_FILE, old=request.text, new=version)
        return Fix(summary=f"ask for Python {version} in .python-version", edits=(edit,))
    return Fix(summary=f"ask for Python {version} in {request.origin}")


@rule(
    "BUILD112",
    "python-version-not-specified",
    Severity.WARNING,
    summary="The app names no Python version.",
    why="The buildpack uses its default (and, on later builds, the cached version), so the Python on the "
    "dyno changes without a commit; the buildpack says this will become an error.",
    fix="Commit a .python-version with the major version, like `3.13`.",
    source="heroku-facts 3.3, 9.5 (lib/python_version.sh)",
)
def version_not_specified(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    if request.origin is not None:
        return
    evidence = [f"none of {RUNTIME_TXT}, {PYTHON_VERSION_FILE} or Pipfile.lock names a version"]
    evidence += unseen(inputs.files, [PYTHON_VERSION_FILE], consequence=": it will not deploy")
    yield Hit(
        title=f"no Python version is specified: the build uses the buildpack's default ({DEFAULT_PYTHON})",
        evidence=tuple(evidence),
        fix=_write_python_version(inputs.report.python.minor),
    )


@rule(
    "BUILD113",
    "runtime-txt-deprecated",
    Severity.WARNING,
    summary="The Python version comes from runtime.txt, which the buildpack deprecates.",
    why="The buildpack warns about runtime.txt on every build and recommends .python-version.",
    fix="Move the version to .python-version (`N.N`) and delete runtime.txt.",
    source="heroku-facts 3.3 (runtime.txt deprecation, changelog 3141)",
)
def runtime_txt_deprecated(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    if request.origin != RUNTIME_TXT or choose_package_manager(inputs.files).name == "uv":
        return
    minor = request.minor or inputs.report.python.minor
    yield Hit(
        title="runtime.txt is deprecated: name the version in .python-version instead",
        evidence=(f"runtime.txt: {request.text!r}",),
        location=_location(request),
        fix=Fix(
            summary=f"write {minor} to .python-version and delete runtime.txt",
            command="git rm runtime.txt",
            edits=(Edit(path=PYTHON_VERSION_FILE, old=None, new=f"{minor}\n"),),
        ),
    )


@rule(
    "BUILD114",
    "python-version-deprecated",
    Severity.WARNING,
    summary="The requested Python minor is deprecated by the buildpack, with a date its support ends.",
    why="After that date the buildpack refuses the version and builds fail.",
    fix="Upgrade to a newer supported minor before the date.",
    source="heroku-facts 3.3, 9.5 (3.10: removed on 6 January 2027)",
)
def version_deprecated(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    minor = request.minor
    if request.problem is not None or minor is None or minor not in PYTHON_REMOVAL_DATES:
        return
    removal = PYTHON_REMOVAL_DATES[minor]
    days = (removal - inputs.today).days
    when = f"in {days} days" if days > 0 else "now"
    yield Hit(
        title=f"Python {minor} is deprecated: the buildpack drops it on {removal:%-d %B %Y} ({when})",
        evidence=(
            f"{request.origin} asks for {request.requested}",
            f"support removed on {removal.isoformat()}",
        ),
        location=_location(request),
        fix=_replace_version(request, DEFAULT_PYTHON),
    )


@rule(
    "BUILD115",
    "python-patch-outdated",
    Severity.WARNING,
    summary="The app pins a Python patch release older than the latest the buildpack offers.",
    why="A pinned patch misses security fixes; naming only the minor gets the latest patch on each build.",
    fix="Name only the minor (`3.13`), or the latest patch.",
    source="heroku-facts 3.3, 9.5 (latest patches at buildpack v351)",
)
def patch_outdated(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    if request.problem is not None or request.requested is None or request.requested.count(".") != 2:
        return
    latest = LATEST_PYTHON_PATCH.get(request.minor or "")
    if latest is None or request.requested == latest:
        return
    yield Hit(
        title=f"Python {request.requested} is pinned: {latest} is available",
        evidence=(
            f"{request.origin} asks for {request.requested}",
            f"the buildpack's latest {request.minor}: {latest}",
        ),
        location=_location(request),
        fix=_replace_version(request, request.minor or latest),
    )


@rule(
    "BUILD116",
    "python-version-file-not-deployed",
    Severity.WARNING,
    summary="A .python-version or runtime.txt on disk is not committed, is git-ignored, or is left out of "
    "the build (.slugignore; on Fir, project.toml's [io.buildpacks] exclude or include).",
    why="The buildpack sees only what is pushed and kept (after .slugignore, or on Fir project.toml's "
    "rules): the file does not choose the version.",
    fix="Commit the file (`git add -f .python-version`), and keep it out of .slugignore (on Fir, out of "
    "project.toml's exclude, or in its include).",
    source="heroku-facts 2.1 (.slugignore runs before the build), 3.3, 6 (project.toml on Fir)",
)
def version_file_not_deployed(inputs: RuleInputs) -> Iterator[Hit]:
    for name in (PYTHON_VERSION_FILE, RUNTIME_TXT):
        absence = inputs.files.absence(name)
        if absence is None:
            continue
        yield Hit(
            title=f"{name} is {absence.value}: the build will not see it",
            evidence=(f"{name} is on disk but {absence.value}",),
            location=Location(name),
            fix=_deploy_fix(name, absence),
        )


def _deploy_fix(name: str, absence: Absence) -> Fix:
    """How to get the file into the build, by what keeps it out."""
    if absence == Absence.SLUGIGNORED:
        return Fix(summary=f"remove the .slugignore pattern that matches {name}")
    if absence == Absence.PROJECT_EXCLUDED:
        return Fix(
            summary=f"keep {name} in the image: out of project.toml's [io.buildpacks] exclude, or in its "
            "include"
        )
    return Fix(summary=f"commit {name}", command=f"git add -f {name}")


@rule(
    "BUILD117",
    "misspelled-python-version-file",
    Severity.ERROR,
    summary="A file named like a misspelling of .python-version (`python-version`, `.python_version`, "
    "`.python-version.txt`, a trailing space...).",
    why="The buildpack refuses the build when it finds one of the misspellings it knows, even beside a "
    "correct .python-version (it does not look when runtime.txt exists).",
    fix="Rename the file to `.python-version` (or delete it when a correct one exists).",
    source="heroku-facts 9.5 (lib/python_version.sh, since buildpack v320)",
)
def misspelled_version_file(inputs: RuleInputs) -> Iterator[Hit]:
    request = _request(inputs)
    if request.problem != VersionProblem.MISSPELLED or request.origin is None:
        return
    name = request.origin
    correct = inputs.files.exists(PYTHON_VERSION_FILE)
    yield Hit(
        title=f"{name!r} is a misspelling of .python-version: the buildpack refuses the build",
        evidence=(f"{name!r} is committed" + ("; a correct .python-version is too" if correct else ""),),
        location=Location(name),
        fix=Fix(
            summary=f"remove {name!r}" if correct else f"rename {name!r} to .python-version",
            command=f"git rm -- {_quoted(name)}" if correct else f"git mv -- {_quoted(name)} .python-version",
        ),
    )


def _quoted(name: str) -> str:
    return "'" + name.replace("'", "'\\''") + "'"


@rule(
    "BUILD118",
    "runtime-txt-with-uv",
    Severity.ERROR,
    summary="A uv app with a runtime.txt.",
    why="The buildpack refuses runtime.txt when the package manager is uv: uv reads .python-version.",
    fix="Move the version to .python-version (`uv python pin N.N`) and delete runtime.txt.",
    source="heroku-facts 3.3 (lib/python_version.sh)",
)
def runtime_txt_with_uv(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    if not files.exists(RUNTIME_TXT) or choose_package_manager(files).name != "uv":
        return
    request = _request(inputs)
    minor = request.minor or inputs.report.python.minor
    yield Hit(
        title="runtime.txt is not supported with uv: the build fails",
        evidence=("uv.lock selects uv", f"runtime.txt asks for {request.text or 'a version'}"),
        location=Location(RUNTIME_TXT, request.line),
        fix=Fix(
            summary=f"pin Python {minor} in .python-version and delete runtime.txt",
            command=f"uv python pin {minor} && git rm runtime.txt",
        ),
    )
