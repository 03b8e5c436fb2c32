"""Django's `collectstatic`, run as the Python buildpack runs it during the build (heroku-facts 3.7).

The buildpack runs `python <manage.py> collectstatic --noinput --traceback` from the app's root when
Django is importable, a `manage.py` is within three folders of the root (the shallowest first, as
`find . -maxdepth 3` with a sort on depth picks it), `DISABLE_COLLECTSTATIC` is unset or `0`, and
`.heroku/collectstatic_disabled` does not exist. A failure fails the build. Its output (Django's
`STATIC_ROOT`) is in the slug, and an app whose storage needs the manifest it writes (WhiteNoise's
compressed manifest storage) answers 500 without it.

Here it runs in slugprof's copy of the slug, never in the user's tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final

from slugprof.processes import AppFailure, run_command

MAX_DEPTH: Final = 3  # bin/steps/collectstatic: `find . -maxdepth 3 -type f -name 'manage.py'`
DISABLE_FILE: Final = ".heroku/collectstatic_disabled"  # deprecated by the buildpack, still read
# Seconds for the step: the buildpack sets none; a large app's collectstatic with compression takes
# minutes, and one that hangs (a database connection at import) should not hang the profile.
TIMEOUT_SECONDS: Final = 600.0


@dataclass(frozen=True)
class CollectstaticStep:
    manage_py: str | None  # the app-relative manage.py the buildpack would run; None: not run
    reason: str  # why it runs, or why not

    @property
    def runs(self) -> bool:
        return self.manage_py is not None


def collectstatic_step(
    paths: Sequence[str], site_packages: Sequence[str] | None, env: Mapping[str, str], folder: Path
) -> CollectstaticStep:
    """Whether the build would run collectstatic for these slug files, this environment and config."""
    candidates = sorted(
        (path.count("/") + 1, path) for path in paths if path.rsplit("/", 1)[-1] == "manage.py"
    )
    found = [path for depth, path in candidates if depth <= MAX_DEPTH]
    if not found:
        return CollectstaticStep(None, "no manage.py within three folders of the app's root")
    if site_packages is None or not _has_django(site_packages):
        return CollectstaticStep(None, "Django is not installed in the app's environment")
    if env.get("DISABLE_COLLECTSTATIC", "0") not in ("", "0"):
        return CollectstaticStep(None, "DISABLE_COLLECTSTATIC is set")
    if (folder / DISABLE_FILE).exists():
        return CollectstaticStep(None, f"{DISABLE_FILE} exists")
    return CollectstaticStep(found[0], f"python {found[0]} collectstatic --noinput, as the build runs it")


def run_collectstatic(step: CollectstaticStep, folder: Path, interpreter: str, env: Mapping[str, str]) -> int:
    """Run the step in `folder`; the number of files it added there. AppFailure when it fails, as the
    build would fail."""
    if step.manage_py is None:
        return 0
    before = _file_count(folder)
    argv = [interpreter, step.manage_py, "collectstatic", "--noinput", "--traceback"]
    result = run_command(argv, cwd=str(folder), env=env, timeout=TIMEOUT_SECONDS, guarded=True)
    if result.returncode != 0:
        output = result.stderr.decode("utf-8", "replace") or result.stdout.decode("utf-8", "replace")
        raise AppFailure(
            f"collectstatic failed (exit status {result.returncode}), and on Heroku it fails the build: "
            f"{last_line(output)}",
            output_tail=output[-4000:],
            app_exit_status=result.returncode,
        )
    return _file_count(folder) - before


def last_line(output: str) -> str:
    """The last line the step printed that is not blank: what its failure says (a traceback's exception)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "it printed nothing"


def _has_django(site_packages: Sequence[str]) -> bool:
    return next(iter(metadata.distributions(name="django", path=list(site_packages))), None) is not None


def _file_count(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file())
