"""The files the build writes into the slug besides the dependencies, for `analyze`: Django's
collectstatic output (STATIC_ROOT, heroku-facts 3.7).

The step is decided and run as `profile` runs it (slugprof.measure.collectstatic), in slugprof's copy of
the slug (slugprof.measure.slug_copy), never in the user's tree. It needs the app's installed
environment: with the dependencies resolved for the dyno there is no Django here to run it with, and a
note says its output is not counted. The files it adds are app files of the slug, marked as the build's;
they stay on disk in the copy while the slug is sized, and the copy is removed when the block ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from slugprof.measure.collectstatic import (
    DISABLE_FILE,
    MAX_DEPTH,
    CollectstaticStep,
    collectstatic_step,
    last_line,
    run_collectstatic,
)
from slugprof.measure.slug_copy import slug_copy
from slugprof.model import AppFile, AppInventory, BuildStepRun
from slugprof.processes import AppFailure
from slugprof.progress import Progress
from slugprof.sources.dotenv import read_dotenv
from slugprof.sources.environment import PythonEnvironment

COLLECTSTATIC: Final = "collectstatic"


@dataclass(frozen=True)
class BuildOutput:
    """What the build's steps wrote into the slug, and what they said."""

    files: tuple[AppFile, ...] = ()  # app-relative, `built_by` set
    folder: Path | None = None  # where `files` are on disk, while the block lasts
    steps: tuple[BuildStepRun, ...] = ()
    notes: tuple[str, ...] = ()

    def with_files(self, app: AppInventory) -> AppInventory:
        """The app's files with the build's added (paths no pushed file has), in path order."""
        if not self.files:
            return app
        return replace(app, files=tuple(sorted((*app.files, *self.files), key=lambda file: file.path)))


@contextmanager
def build_output(
    root: Path,
    app: AppInventory,
    environment: PythonEnvironment | None,
    environ: Mapping[str, str],
    progress: Progress,
    *,
    django_resolved: bool = False,
) -> Iterator[BuildOutput]:
    """collectstatic run in a copy of the slug when the build would run it and the app's environment is
    here; its files are on disk until the block ends."""
    paths = [file.path for file in app.included]
    if environment is None:
        yield BuildOutput(notes=_resolved_note(paths, django_resolved))
        return
    env = _build_environment(root, environment, environ)
    step = collectstatic_step(paths, environment.site_packages, env, root)
    # The disabling file counts only when it is in the slug: the copy decides that case.
    if not step.runs and not step.reason.startswith(DISABLE_FILE):
        yield BuildOutput(notes=_skipped_note(paths, step))
        return
    with slug_copy(root, app, progress) as copy:
        env["HOME"] = str(copy.folder)  # as the build's HOME is its build folder, never the user's
        step = collectstatic_step(paths, environment.site_packages, env, copy.folder)
        if not step.runs:
            yield BuildOutput(notes=_skipped_note(paths, step))
            return
        yield _collected(step, copy.folder, environment.interpreter, env, progress)


def _build_environment(
    root: Path, environment: PythonEnvironment, environ: Mapping[str, str]
) -> dict[str, str]:
    """The step's environment as the profile gives it: this one, the app's .env as its config vars,
    and the environment's bin first on PATH."""
    env = dict(environ)
    env.update(read_dotenv(root)[0])
    env_bin = os.path.dirname(environment.interpreter)
    env["PATH"] = os.pathsep.join(part for part in (env_bin, env.get("PATH", "")) if part)
    env["PYTHONUNBUFFERED"] = "true"
    return env


def _collected(
    step: CollectstaticStep, folder: Path, interpreter: str, env: Mapping[str, str], progress: Progress
) -> BuildOutput:
    command = f"python {step.manage_py} collectstatic --noinput"
    before = set(_listed(folder))
    progress.stage("Running collectstatic, as the build does")
    try:
        run_collectstatic(step, folder, interpreter, env)
    except AppFailure as failure:
        failed = BuildStepRun(
            name=COLLECTSTATIC,
            command=command,
            failure=last_line(failure.output_tail),
            exit_status=failure.app_exit_status,
        )
        return BuildOutput(steps=(failed,))
    files = tuple(
        _built_file(folder, path)
        for path in sorted(set(_listed(folder)) - before)
        # The bytecode of the app's modules the step imported is this interpreter's, not the build's.
        if "__pycache__" not in path.split("/")
    )
    size = sum(file.bytes for file in files)
    run = BuildStepRun(name=COLLECTSTATIC, command=command, added_files=len(files), added_bytes=size)
    note = (
        f"{step.reason}, in slugprof's copy of the slug: its {len(files)} files ({size:,} bytes) are "
        "counted as app files"
    )
    return BuildOutput(files=files, folder=folder, steps=(run,), notes=(note,))


def _listed(folder: Path) -> Iterator[str]:
    """Every file and symlink under `folder`, app-relative POSIX paths; links are never followed."""
    for directory, folders, names in os.walk(folder):
        links = [name for name in folders if os.path.islink(os.path.join(directory, name))]
        for name in (*names, *links):
            yield Path(directory, name).relative_to(folder).as_posix()


def _built_file(folder: Path, path: str) -> AppFile:
    disk = folder / path
    if disk.is_symlink():
        size = len(os.readlink(disk))
        return AppFile(path=path, bytes=size, included=True, kind="symlink", built_by=COLLECTSTATIC)
    return AppFile(path=path, bytes=disk.lstat().st_size, included=True, built_by=COLLECTSTATIC)


def _manage_py_found(paths: Sequence[str]) -> bool:
    return any(path.rsplit("/", 1)[-1] == "manage.py" for path in paths)


def _resolved_note(paths: Sequence[str], django_resolved: bool) -> tuple[str, ...]:
    within = any(path.rsplit("/", 1)[-1] == "manage.py" and path.count("/") < MAX_DEPTH for path in paths)
    if not (django_resolved and within):
        return ()
    return (
        "the buildpack runs `manage.py collectstatic` for Django apps: its output (STATIC_ROOT) will be "
        "in the slug too, and is not counted here: the dependencies are not installed here to run it "
        "with (give --env, an environment with them, to count it)",
    )


def _skipped_note(paths: Sequence[str], step: CollectstaticStep) -> tuple[str, ...]:
    return (f"collectstatic did not run: {step.reason}",) if _manage_py_found(paths) else ()
