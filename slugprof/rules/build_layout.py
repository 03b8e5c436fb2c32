"""BUILD10x, BUILD13x, BUILD16x: whether the buildpack recognises the app, committed environments, and
the app's layout and Procfile."""

from __future__ import annotations

from collections.abc import Iterator

from slugprof.heroku import BUILDPACK_PYTHON_FOLDER, DETECTION_FILES, VIRTUALENV_FOLDERS, WEB_PROCESS
from slugprof.model import Edit, Fix, Location, Severity
from slugprof.rules.registry import Hit, RuleInputs, append_edit, rule, unseen
from slugprof.sources.buildfiles import BuildFiles
from slugprof.sources.procfile import parse_procfile

PROCFILE = "Procfile"
NOT_DETECTED = "BUILD100"
# Findings that still matter when the app is not detected: they say why, or what to do next.
EXPLAINS_DETECTION = ("BUILD160", "BUILD161", "BUILD162")
# Files that look like a Procfile to a person but not to Heroku, which reads only `Procfile`.
_PROCFILE_LOOKALIKES = ("procfile", "PROCFILE", "ProcFile", "Procfile.txt", "procfile.txt", "Procfile.yml")
# What says "the app lives here": a subfolder with one of these and a root without any of them.
_APP_MARKERS = (PROCFILE, "requirements.txt", "pyproject.toml", "Pipfile", "manage.py")


def _detected(files: BuildFiles) -> list[str]:
    return [
        name
        for name in DETECTION_FILES
        if (files.is_folder(name) if name.endswith("/") else files.exists(name))
    ]


@rule(
    NOT_DETECTED,
    "not-detected-as-python",
    Severity.ERROR,
    summary="None of the files the Python buildpack detects an app by is at the app root.",
    why="bin/detect fails, and Heroku refuses the push: no buildpack claims the app.",
    fix="Commit a requirements.txt (or another package manager file) at the repository root.",
    source="heroku-facts 3.10 (bin/detect)",
)
def not_detected(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    if _detected(files):
        return
    evidence = ["looked for: " + ", ".join(DETECTION_FILES)]
    evidence += unseen(files, [name.rstrip("/") for name in DETECTION_FILES])
    yield Hit(
        title="the Python buildpack would not detect this app: none of its detection files is pushed",
        evidence=tuple(evidence),
        fix=Fix("commit a requirements.txt at the app root", command="git add requirements.txt"),
    )


@rule(
    "BUILD130",
    "committed-virtualenv",
    Severity.ERROR,
    summary="A virtualenv (a .venv or venv folder with pyvenv.cfg) is committed.",
    why="The buildpack refuses the build since v324: a virtualenv from another machine does not run on "
    "a dyno, and its files would ship in the slug.",
    fix="Remove it from git (`git rm -r --cached .venv`) and add it to .gitignore.",
    source="heroku-facts 3.1 (lib/checks.sh)",
)
def committed_virtualenv(inputs: RuleInputs) -> Iterator[Hit]:
    for folder in VIRTUALENV_FOLDERS:
        config = f"{folder}/pyvenv.cfg"
        if inputs.files.exists(config):
            yield Hit(
                title=f"a virtualenv is committed ({folder}/): the buildpack refuses the build",
                evidence=(f"{config} is committed",),
                location=Location(config),
                fix=_untrack(folder),
            )


@rule(
    "BUILD131",
    "committed-heroku-python",
    Severity.ERROR,
    summary="The buildpack's own install folder, .heroku/python, is committed.",
    why="The buildpack installs Python there and refuses an app that already has it.",
    fix="Remove it from git (`git rm -r --cached .heroku/python`) and add it to .gitignore.",
    source="heroku-facts 3.1 (lib/checks.sh)",
)
def committed_heroku_python(inputs: RuleInputs) -> Iterator[Hit]:
    if inputs.files.is_folder(BUILDPACK_PYTHON_FOLDER):
        yield Hit(
            title=f"{BUILDPACK_PYTHON_FOLDER}/ is committed: the buildpack refuses the build",
            evidence=(f"files under {BUILDPACK_PYTHON_FOLDER}/ are committed",),
            location=Location(BUILDPACK_PYTHON_FOLDER),
            fix=_untrack(BUILDPACK_PYTHON_FOLDER),
        )


def _untrack(folder: str) -> Fix:
    return Fix(
        summary=f"stop tracking {folder}/ and ignore it",
        command=f"git rm -r --cached {folder}",
        edits=(append_edit(".gitignore", f"{folder}/\n"),),
    )


@rule(
    "BUILD160",
    "app-in-subfolder",
    Severity.WARNING,
    summary="The app's files are one folder down from the repository root.",
    why="Heroku builds the repository root: a Procfile or requirements file in a subfolder is not read.",
    fix="Move the app to the root, or push only its folder (`git subtree push --prefix FOLDER heroku main`).",
    source="heroku-facts 3.10 (bin/detect reads the root only)",
)
def app_in_subfolder(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    if any(files.exists(name) for name in _APP_MARKERS):
        return
    below = sorted(
        {path for name in _APP_MARKERS for path in files.paths_named(name) if path.count("/") == 1}
    )
    if below:
        folder = below[0].split("/")[0]
        yield Hit(
            title=f"the app seems to live in {folder}/, but Heroku builds the repository root",
            evidence=tuple(
                f"{path} is in a subfolder; the root has none of {', '.join(_APP_MARKERS)}" for path in below
            ),
            location=Location(below[0]),
            fix=Fix(
                summary=f"push only {folder}/ to Heroku, or move its files to the root",
                command=f"git subtree push --prefix {folder} heroku main",
            ),
        )


@rule(
    "BUILD161",
    "procfile-misnamed",
    Severity.WARNING,
    summary="A file looks like a Procfile but is not named exactly `Procfile`.",
    why="Heroku reads only `Procfile` (case-sensitive, no extension): the web process would not be declared.",
    fix="Rename the file to `Procfile`.",
    source="heroku-facts 5 (Procfile)",
)
def procfile_misnamed(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    if files.exists(PROCFILE):
        return
    for name in _PROCFILE_LOOKALIKES:
        if files.exists(name):
            yield Hit(
                title=f"{name} is not read by Heroku: the file must be named exactly `Procfile`",
                evidence=(f"{name} is committed; Procfile is not",),
                location=Location(name),
                fix=Fix(summary=f"rename {name} to Procfile", command=f"git mv {name} Procfile"),
            )
            return


@rule(
    "BUILD162",
    "no-procfile",
    Severity.WARNING,
    summary="No Procfile: the app declares no web process.",
    why="The build succeeds, but the Python buildpack declares no default process: nothing answers on $PORT.",
    fix="Commit a Procfile with the web command, like `web: gunicorn myapp.wsgi`.",
    source="heroku-facts 5 (Procfile)",
)
def no_procfile(inputs: RuleInputs) -> Iterator[Hit]:
    files = inputs.files
    if files.exists(PROCFILE) or any(files.exists(name) for name in _PROCFILE_LOOKALIKES):
        return
    yield Hit(
        title="no Procfile is pushed: Heroku will not know how to start the web process",
        evidence=tuple(unseen(files, [PROCFILE])) or ("no Procfile at the app root",),
        fix=Fix(
            summary="declare the web process in a Procfile",
            edits=(Edit(path=PROCFILE, old=None, new="web: gunicorn app:app\n"),),
        ),
    )


@rule(
    "BUILD163",
    "no-web-process",
    Severity.WARNING,
    summary="The Procfile declares no `web` process type.",
    why="Only the `web` process receives HTTP traffic on Heroku; other types never get a request.",
    fix="Add a `web: ...` line to the Procfile.",
    source="heroku-facts 5 (Procfile)",
)
def no_web_process(inputs: RuleInputs) -> Iterator[Hit]:
    data = inputs.files.read_bytes(PROCFILE)
    if data is None:
        return
    types = parse_procfile(data)
    if WEB_PROCESS in types:
        return
    declared = ", ".join(types) or "none"
    yield Hit(
        title="the Procfile declares no `web` process: nothing will answer HTTP requests",
        evidence=(f"process types declared: {declared}",),
        location=Location(PROCFILE, 1),
        fix=Fix(
            summary="add a web process to the Procfile",
            edits=(append_edit(PROCFILE, "web: gunicorn app:app\n"),),
        ),
    )
