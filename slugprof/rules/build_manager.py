"""BUILD12x: the package manager, chosen by the buildpack from the files it sees (lib/package_manager.sh;
heroku-facts 3.4)."""

from __future__ import annotations

from collections.abc import Iterator

from slugprof.model import Fix, Location, Severity
from slugprof.rules.registry import Hit, RuleInputs, rule, unseen
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.buildpack import MANAGER_FILES, choose_package_manager, lone_project_file
from slugprof.sources.python_version import PYTHON_VERSION_FILE, read_version_request

_MANAGER_NAMES = ", ".join(file for file, _ in MANAGER_FILES)


@rule(
    "BUILD120",
    "no-package-manager",
    Severity.ERROR,
    summary="None of requirements.txt, Pipfile.lock, poetry.lock or uv.lock is pushed.",
    why="The buildpack needs exactly one package manager file to know what to install.",
    fix="Commit the requirements file (`pip freeze > requirements.txt` or your manager's lock file).",
    source="heroku-facts 3.4 (lib/package_manager.sh)",
)
def no_package_manager(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    choice = choose_package_manager(files)
    # A lone setup.py or pyproject.toml is BUILD129's, which says what to add for it.
    if choice.file is not None or choice.pipfile_without_lock or lone_project_file(files, choice):
        return
    evidence = [f"looked for: {_MANAGER_NAMES}", *unseen_manager_files(files)]
    yield Hit(
        title="no package manager file is pushed: the buildpack does not know what to install",
        evidence=tuple(evidence),
        fix=Fix(
            summary="commit a requirements.txt (or the lock file of uv, Poetry or Pipenv)",
            command="git add requirements.txt",
        ),
    )


def unseen_manager_files(files: BuildFiles) -> list[str]:
    """A line for each package manager file on disk that the build does not see, and why."""
    return unseen(files, (file for file, _ in MANAGER_FILES))


@rule(
    "BUILD121",
    "several-package-managers",
    Severity.ERROR,
    summary="More than one package manager file is pushed.",
    why='The buildpack refuses to guess: "Multiple Python package manager files were found".',
    fix="Keep the one file of the manager you use; delete the others from git.",
    source="heroku-facts 3.4 (lib/package_manager.sh)",
)
def several_managers(inputs: RuleInputs) -> Iterator[Hit]:
    choice = choose_package_manager(inputs.files)
    if len(choice.present) < 2:
        return
    keep, *others = choice.present
    yield Hit(
        title=f"several package manager files are pushed ({', '.join(choice.present)}): the build fails",
        evidence=tuple(f"{file} is committed" for file in choice.present),
        location=Location(others[0]),
        fix=Fix(
            summary=f"keep only the file of the manager you use (for example {keep})",
            command="git rm " + " ".join(others),
        ),
    )


@rule(
    "BUILD122",
    "pipfile-without-lock",
    Severity.ERROR,
    summary="A Pipfile is pushed without its Pipfile.lock.",
    why="The buildpack installs with `pipenv install --deploy`, which needs the lock file.",
    fix="Run `pipenv lock` and commit Pipfile.lock.",
    source="heroku-facts 3.4 (lib/package_manager.sh)",
)
def pipfile_without_lock(inputs: RuleInputs) -> Iterator[Hit]:
    choice = choose_package_manager(inputs.files)
    if not choice.pipfile_without_lock:
        return
    evidence = ["Pipfile is committed; Pipfile.lock is not"]
    evidence += unseen(inputs.files, ["Pipfile.lock"], consequence="")
    yield Hit(
        title="a Pipfile without Pipfile.lock: the build fails",
        evidence=tuple(evidence),
        location=Location("Pipfile"),
        fix=Fix(summary="lock and commit", command="pipenv lock && git add Pipfile.lock"),
    )


@rule(
    "BUILD123",
    "uv-without-python-version",
    Severity.ERROR,
    summary="A uv app without a .python-version.",
    why="uv has no default Python and ignores runtime.txt: the buildpack requires .python-version for uv.",
    fix="Commit a .python-version (`uv python pin 3.13`).",
    source="heroku-facts 3.3, 3.11",
)
def uv_without_python_version(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    if choose_package_manager(files).name != "uv" or files.exists(PYTHON_VERSION_FILE):
        return
    if files.exists("runtime.txt"):
        return  # the buildpack stops on runtime.txt first (BUILD118)
    evidence = ["uv.lock selects uv; no .python-version is pushed"]
    evidence += unseen(files, [PYTHON_VERSION_FILE], consequence="")
    minor = inputs.report.python.minor
    yield Hit(
        title="uv needs a .python-version: the build fails without one",
        evidence=tuple(evidence),
        fix=Fix(summary=f"pin Python {minor} and commit .python-version", command=f"uv python pin {minor}"),
    )


def requested_minor(inputs: RuleInputs) -> str | None:
    """The minor the build would install, when the app asks for one the buildpack accepts."""
    request = read_version_request(inputs.files, choose_package_manager(inputs.files).name)
    return request.minor if request.problem is None else None
