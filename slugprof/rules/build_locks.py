"""BUILD124-BUILD129: the lock file against the project file and the Python the build installs, read as
uv, Poetry and Pipenv read them before installing anything (heroku-facts 3.3, 3.4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from slugprof.heroku import LATEST_PYTHON_PATCH
from slugprof.model import Edit, Fix, Location, Severity
from slugprof.rules.build_manager import unseen_manager_files
from slugprof.rules.registry import Hit, RuleInputs, rule
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.buildpack import choose_package_manager, lone_project_file, reaches_install
from slugprof.sources.locks.content_hashes import (
    parse_json,
    parse_toml,
    pipfile_hash,
    pipfile_lock_hash,
    poetry_content_hash,
    poetry_lock_is_fresh,
    table_of,
)
from slugprof.sources.locks.poetry_python import (
    PythonConstraint,
    parse_poetry_constraint,
    poetry_python_constraints,
)
from slugprof.sources.locks.uv_drift import declared_dependencies, declared_groups, uv_lock_drift
from slugprof.sources.python_version import (
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    VersionRequest,
    full_version,
    read_version_request,
)

PYPROJECT = "pyproject.toml"
PIPFILE = "Pipfile"
_MOST_EVIDENCE = 12  # lines of differences shown; the rest are counted


def _document(
    files: BuildFiles, path: str, parse: Callable[[str], dict[str, Any] | None]
) -> dict[str, Any] | None:
    text = files.read_text(path)
    return None if text is None else parse(text)


def _manager(inputs: RuleInputs, name: str) -> bool:
    """Whether the build gets to installing with this package manager: it is the one selected, and the
    buildpack's earlier checks (environments, the manager, the Python version) pass, so the lock is read."""
    choice = choose_package_manager(inputs.files)
    return choice.name == name and reaches_install(inputs.files, choice)


def _build_python(inputs: RuleInputs, manager: str) -> tuple[str, VersionRequest] | None:
    """The full Python version the build installs and the request it comes from; None when the
    buildpack refuses the request (BUILD110, BUILD111 say why)."""
    request = read_version_request(inputs.files, manager)
    if request.origin is None:
        return full_version(inputs.settings.default_python), request
    if request.problem is not None or request.requested is None:
        return None
    return full_version(request.requested), request


def _where(request: VersionRequest) -> str:
    return f"{request.origin} asks for {request.requested}" if request.origin else "no version is named"


def _newest_allowed(allows: Callable[[str], bool]) -> str | None:
    """The newest supported minor whose latest patch the project accepts."""
    allowed = [minor for minor, latest in LATEST_PYTHON_PATCH.items() if allows(latest)]
    return max(allowed, key=lambda minor: tuple(int(part) for part in minor.split(".")), default=None)


def _python_fix(request: VersionRequest, minor: str | None, constraint_file: str, relock: str) -> Fix:
    if minor is None:
        return Fix(
            summary=f"no Python the buildpack offers is accepted: widen the Python range in "
            f"{constraint_file}, then run `{relock}`",
            command=relock,
        )
    if request.origin == RUNTIME_TXT and request.text:  # it wins over .python-version: change it there
        edit = Edit(path=RUNTIME_TXT, old=request.text, new=f"python-{minor}")
        return Fix(summary=f"ask for Python {minor} in runtime.txt", edits=(edit,))
    if request.origin == PYTHON_VERSION_FILE and request.text:
        edit = Edit(path=PYTHON_VERSION_FILE, old=request.text, new=minor)
    else:
        edit = Edit(path=PYTHON_VERSION_FILE, old=None, new=f"{minor}\n")
    return Fix(summary=f"ask for Python {minor} in .python-version", edits=(edit,))


def _location(request: VersionRequest) -> Location | None:
    return Location(request.origin, request.line) if request.origin else None


@rule(
    "BUILD124",
    "python-outside-uv-requires-python",
    Severity.ERROR,
    summary="The Python the build installs is outside uv.lock's requires-python.",
    why="The buildpack installs the Python of .python-version (N.N gets its latest patch), then runs "
    '`uv sync --locked`, which refuses an interpreter the lock does not admit: "The Python request from '
    "`.python-version` resolved to Python ..., which is incompatible with the project's Python "
    'requirement".',
    fix="Ask for a Python the project accepts in .python-version, or widen requires-python and run "
    "`uv lock`.",
    source="heroku-facts 3.3, 3.4 (lib/uv.sh: uv sync --locked)",
)
def python_outside_uv_range(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    # Without .python-version, or with runtime.txt, the build stops before uv runs (BUILD123).
    if not _manager(inputs, "uv") or not files.exists(PYTHON_VERSION_FILE) or files.exists(RUNTIME_TXT):
        return
    lock = _document(files, "uv.lock", parse_toml)
    chosen = _build_python(inputs, "uv")
    if lock is None or chosen is None or not isinstance(lock.get("requires-python"), str):
        return
    version, request = chosen
    try:
        allowed = SpecifierSet(lock["requires-python"])
    except InvalidSpecifier:
        return
    if allowed.contains(version, prereleases=True):
        return
    yield Hit(
        title=f"Python {version} is outside uv.lock's requires-python ({lock['requires-python']}): "
        "`uv sync --locked` refuses it",
        evidence=(
            f"{_where(request)}: the buildpack installs {version}",
            f"uv.lock: requires-python = {lock['requires-python']!r}",
        ),
        location=_location(request),
        fix=_python_fix(
            request,
            _newest_allowed(lambda latest: allowed.contains(latest, prereleases=True)),
            PYPROJECT,
            "uv lock",
        ),
    )


@rule(
    "BUILD125",
    "python-outside-poetry-constraint",
    Severity.ERROR,
    summary="The Python the build installs is outside the Poetry project's Python constraint.",
    why="The buildpack runs Poetry with virtualenv creation disabled, so Poetry must use the Python the "
    'buildpack installed, and refuses one the project does not allow: "Current Python version (...) is not '
    'allowed by the project (...)", then "Poetry cannot switch to a compatible Python version".',
    fix="Ask for a Python the project allows in .python-version, or widen the project's Python constraint "
    "and run `poetry lock`.",
    source="heroku-facts 3.1 (POETRY_VIRTUALENVS_CREATE=false), 3.3, 3.4 (lib/poetry.sh)",
)
def python_outside_poetry_range(inputs: RuleInputs) -> Iterator[Hit]:
    if not _manager(inputs, "poetry"):
        return
    pyproject = _document(inputs.files, PYPROJECT, parse_toml)
    chosen = _build_python(inputs, "poetry")
    if pyproject is None or chosen is None:
        return
    version, request = chosen
    stated = [
        (where, text, parse_poetry_constraint(text)) for where, text in poetry_python_constraints(pyproject)
    ]
    constraints = [(where, text, parsed) for where, text, parsed in stated if parsed is not None]
    refusing = [(where, text, parsed) for where, text, parsed in constraints if not parsed.allows(version)]
    if not refusing:
        return
    text = refusing[0][1]
    yield Hit(
        title=f"Python {version} is outside the project's Python constraint ({text}): Poetry refuses it",
        evidence=(
            f"{_where(request)}: the buildpack installs {version}",
            *(f"pyproject.toml {w}: {t!r}, that is {p.as_pep440}" for w, t, p in refusing),
        ),
        location=_location(request) or Location(PYPROJECT),
        fix=_python_fix(request, _newest_allowed(_all_allow(constraints)), PYPROJECT, "poetry lock"),
    )


def _all_allow(constraints: list[tuple[str, str, PythonConstraint]]) -> Callable[[str], bool]:
    return lambda version: all(parsed.allows(version) for _, _, parsed in constraints)


def _evidence(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if len(lines) <= _MOST_EVIDENCE:
        return tuple(lines)
    shown = lines[: _MOST_EVIDENCE - 1]
    return (*shown, f"and {len(lines) - len(shown)} more differences")


@rule(
    "BUILD126",
    "uv-lock-stale",
    Severity.ERROR,
    summary="uv.lock no longer matches pyproject.toml.",
    why='The buildpack installs with `uv sync --locked`, which fails when the lock would change: "The '
    'lockfile at `uv.lock` needs to be updated, but `--locked` was provided".',
    fix="Run `uv lock` and commit uv.lock.",
    source="heroku-facts 3.4 (lib/uv.sh: uv sync --locked)",
)
def uv_lock_stale(inputs: RuleInputs) -> Iterator[Hit]:
    if not _manager(inputs, "uv"):
        return
    lock = _document(inputs.files, "uv.lock", parse_toml)
    pyproject = _document(inputs.files, PYPROJECT, parse_toml)
    if lock is None or pyproject is None:
        return
    drift = uv_lock_drift(lock, pyproject)
    if not drift:
        return
    yield Hit(
        title="uv.lock is out of date with pyproject.toml: `uv sync --locked` fails the build",
        evidence=_evidence(drift),
        location=Location(PYPROJECT),
        fix=Fix(summary="update the lock and commit it", command="uv lock && git add uv.lock"),
    )


@rule(
    "BUILD127",
    "poetry-lock-stale",
    Severity.ERROR,
    summary="poetry.lock's content-hash does not match pyproject.toml.",
    why='`poetry sync` refuses a lock made from other declarations: "pyproject.toml changed significantly '
    'since poetry.lock was last generated. Run `poetry lock` to fix the lock file."',
    fix="Run `poetry lock` and commit poetry.lock.",
    source="heroku-facts 3.4 (lib/poetry.sh: poetry sync)",
)
def poetry_lock_stale(inputs: RuleInputs) -> Iterator[Hit]:
    if not _manager(inputs, "poetry"):
        return
    lock_text = inputs.files.read_text("poetry.lock")
    lock = None if lock_text is None else parse_toml(lock_text)
    pyproject = _document(inputs.files, PYPROJECT, parse_toml)
    if lock_text is None or lock is None or pyproject is None:
        return
    computed = poetry_content_hash(pyproject)
    if computed is None or poetry_lock_is_fresh(lock_text, lock, pyproject):
        return
    metadata = table_of(lock.get("metadata"))
    recorded = metadata.get("content-hash")
    evidence = [
        f"poetry.lock content-hash: {recorded}"
        if isinstance(recorded, str)
        else "poetry.lock has no content-hash",
        f"pyproject.toml hashes to {computed}",
        *_poetry_hints(pyproject, lock, metadata),
    ]
    yield Hit(
        title="poetry.lock is out of date with pyproject.toml: `poetry sync` fails the build",
        evidence=tuple(evidence),
        location=Location(PYPROJECT),
        fix=Fix(summary="update the lock and commit it", command="poetry lock && git add poetry.lock"),
    )


def _poetry_hints(pyproject: dict[str, Any], lock: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """What may have changed: requirements the lock does not list, and the Python the lock was made for."""
    packages = lock.get("package")
    locked = {
        canonicalize_name(str(p.get("name", "")))
        for p in (packages if isinstance(packages, list) else [])
        if isinstance(p, dict)
    }
    hints = [
        f"pyproject.toml asks for {name}, which poetry.lock does not list"
        for name in sorted(_poetry_declared_names(pyproject) - locked)
    ]
    stated = poetry_python_constraints(pyproject)
    made_for = metadata.get("python-versions")
    if stated and isinstance(made_for, str) and made_for != stated[-1][1]:
        hints.append(
            f"poetry.lock was made for Python {made_for!r}; pyproject.toml now says {stated[-1][1]!r}"
        )
    return hints


def _poetry_declared_names(pyproject: dict[str, Any]) -> set[str]:
    """The names pyproject.toml asks for, in any table Poetry locks."""
    project = pyproject.get("project")
    names = {d.name for d in declared_dependencies(project)} if isinstance(project, dict) else set()
    names |= {d.name for group in declared_groups(pyproject).values() for d in group}
    tool = pyproject.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry = poetry if isinstance(poetry, dict) else {}
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    groups = poetry.get("group")
    tables += (
        [g.get("dependencies") for g in groups.values() if isinstance(g, dict)]
        if isinstance(groups, dict)
        else []
    )
    for table in tables:
        if isinstance(table, dict):
            names |= {canonicalize_name(str(name)) for name in table if str(name).lower() != "python"}
    return names


@rule(
    "BUILD128",
    "pipfile-lock-stale",
    Severity.ERROR,
    summary="Pipfile.lock's hash does not match the Pipfile.",
    why="The buildpack installs with `pipenv install --deploy`, which aborts when the Pipfile changed since "
    'the lock: "Your Pipfile.lock (...) is out of date. Expected: (...)", then "Aborting deploy".',
    fix="Run `pipenv lock` and commit Pipfile.lock.",
    source="heroku-facts 3.4 (lib/pipenv.sh: pipenv install --deploy)",
)
def pipfile_lock_stale(inputs: RuleInputs) -> Iterator[Hit]:
    if not _manager(inputs, "pipenv"):
        return
    lock = _document(inputs.files, "Pipfile.lock", parse_json)
    pipfile = _document(inputs.files, PIPFILE, parse_toml)
    if lock is None or pipfile is None:
        return
    recorded, computed = pipfile_lock_hash(lock), pipfile_hash(pipfile)
    if computed is None or recorded == computed:
        return
    evidence = [
        f"Pipfile.lock _meta.hash.sha256: {recorded}" if recorded else "Pipfile.lock records no hash",
        f"the Pipfile hashes to {computed}",
        *_pipenv_hints(pipfile, lock),
    ]
    yield Hit(
        title="Pipfile.lock is out of date with the Pipfile: `pipenv install --deploy` fails the build",
        evidence=tuple(evidence),
        location=Location(PIPFILE),
        fix=Fix(summary="update the lock and commit it", command="pipenv lock && git add Pipfile.lock"),
    )


def _pipenv_hints(pipfile: dict[str, Any], lock: dict[str, Any]) -> list[str]:
    hints = []
    for section, locked_section in (("packages", "default"), ("dev-packages", "develop")):
        declared, locked = pipfile.get(section), lock.get(locked_section)
        if not isinstance(declared, dict):
            continue
        have = {canonicalize_name(str(name)) for name in locked} if isinstance(locked, dict) else set()
        hints += [
            f"Pipfile [{section}] names {name}, which Pipfile.lock's {locked_section!r} section does not have"
            for name in sorted({canonicalize_name(str(n)) for n in declared} - have)
        ]
    meta = table_of(lock.get("_meta"))
    if meta.get("requires", {}) != pipfile.get("requires", {}):
        hints.append(
            f"Pipfile [requires] {pipfile.get('requires', {})}; Pipfile.lock {meta.get('requires', {})}"
        )
    if "source" not in pipfile:
        hints.append(
            "the Pipfile names no [[source]]: Pipenv hashes its default (PyPI) with the indexes of the pip "
            "configuration of the machine that locks (pip.conf, PIP_INDEX_URL, PIP_EXTRA_INDEX_URL); "
            "naming the [[source]] makes the hash the same everywhere"
        )
    return hints


@rule(
    "BUILD129",
    "project-file-without-lock",
    Severity.ERROR,
    summary="A setup.py or pyproject.toml is pushed without a package manager file.",
    why='Neither selects a package manager: for setup.py alone the buildpack says "Implicit setup.py file '
    'support has been sunset"; for pyproject.toml alone it asks for a requirements.txt, Pipfile.lock, '
    "poetry.lock or uv.lock.",
    fix="For setup.py, commit a requirements.txt containing `--editable .`; for pyproject.toml, commit the "
    "lock of the tool you use (`uv lock`, `poetry lock`).",
    source="heroku-facts 3.4 (lib/package_manager.sh)",
)
def project_file_without_lock(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    alone = lone_project_file(files, choose_package_manager(files))
    if alone is None:
        return
    evidence = (
        f"{alone} is committed; no requirements.txt, Pipfile.lock, poetry.lock or uv.lock is",
        *unseen_manager_files(files),
    )
    if alone == "setup.py":
        yield Hit(
            title="setup.py alone does not select a package manager: the buildpack's implicit setup.py "
            "support has been sunset",
            evidence=evidence,
            location=Location(alone),
            fix=Fix(
                summary="install the project with pip: a requirements.txt with `--editable .`",
                edits=(Edit(path="requirements.txt", old=None, new="--editable .\n"),),
            ),
        )
        return
    pyproject = _document(files, PYPROJECT, parse_toml) or {}
    tool = table_of(pyproject.get("tool"))
    lock_with = "poetry lock && git add poetry.lock" if "poetry" in tool else "uv lock && git add uv.lock"
    yield Hit(
        title="pyproject.toml alone does not select a package manager: the build fails",
        evidence=evidence,
        location=Location(alone),
        fix=Fix(summary="lock the project's dependencies and commit the lock file", command=lock_with),
    )
