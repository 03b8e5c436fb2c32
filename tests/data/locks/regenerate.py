"""Regenerate the lock files of these cases with the real Poetry and Pipenv, and record what each tool
says of every variant of the project file: whether it still accepts the lock.

    python tests/data/locks/regenerate.py --poetry PATH [--old-poetry PATH] --pipenv PATH

Each case folder holds the project file written by hand (`pyproject.toml` or `Pipfile`), the lock the
tool wrote for it, and `variants/`: the same project file edited. `verdicts.json` records, for each
variant, whether the tool accepted the lock beside it: Poetry through `poetry check --lock` (stale
when it says "pyproject.toml changed significantly"), Pipenv through `pipenv verify` (its exit code).
Pip's configuration is left out
(a Pipfile without [[source]] is hashed with the indexes pip is configured with). The tests compare
slugprof's hashes with these verdicts; they never run the tools. `poetry/before-2.3`
is locked with a Poetry older than 2.3 (`--old-poetry`), whose hash did not cover dependency groups.
Locking resolves the packages from the package index, so this script needs the network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
STALE_POETRY = "pyproject.toml changed significantly"


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def poetry_case(case: Path, poetry: str, checker: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        shutil.copy(case / "pyproject.toml", work / "pyproject.toml")
        locked = run([poetry, "lock"], work, env)
        if locked.returncode != 0:
            raise SystemExit(f"{case.name}: poetry lock failed: {locked.stderr or locked.stdout}")
        shutil.copy(work / "poetry.lock", case / "poetry.lock")
        verdicts = {}
        for variant in sorted((case / "variants").glob("*.toml")):
            shutil.copy(variant, work / "pyproject.toml")
            checked = run([checker, "check", "--lock"], work, env)
            verdicts[variant.name] = STALE_POETRY not in checked.stdout + checked.stderr
        shutil.copy(case / "pyproject.toml", work / "pyproject.toml")
        checked = run([checker, "check", "--lock"], work, env)
        verdicts["pyproject.toml"] = STALE_POETRY not in checked.stdout + checked.stderr
    write_verdicts(case, verdicts)


def pipenv_case(case: Path, pipenv: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        shutil.copy(case / "Pipfile", work / "Pipfile")
        locked = run([pipenv, "lock"], work, env)
        if locked.returncode != 0:
            raise SystemExit(f"{case.name}: pipenv lock failed: {locked.stderr or locked.stdout}")
        shutil.copy(work / "Pipfile.lock", case / "Pipfile.lock")
        verdicts = {}
        for variant in [*sorted((case / "variants").glob("*.Pipfile")), case / "Pipfile"]:
            shutil.copy(variant, work / "Pipfile")
            verdicts[variant.name] = run([pipenv, "verify"], work, env).returncode == 0
    write_verdicts(case, verdicts)


def write_verdicts(case: Path, verdicts: dict[str, bool]) -> None:
    text = json.dumps({"accepted": verdicts}, indent=2, sort_keys=True) + "\n"
    (case / "verdicts.json").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poetry", required=True)
    parser.add_argument("--old-poetry")
    parser.add_argument("--pipenv", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        # No pip configuration: with a Pipfile that names no [[source]], Pipenv adds the indexes of the
        # machine's pip configuration to the sources it hashes.
        clean = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "PIPENV_"))}
        env = {
            **clean,
            "PIP_CONFIG_FILE": os.devnull,
            "POETRY_CACHE_DIR": f"{home}/poetry-cache",
            "WORKON_HOME": f"{home}/virtualenvs",
            "PIPENV_CACHE_DIR": f"{home}/pipenv-cache",
            "PIPENV_YES": "1",
            "PIPENV_NOSPIN": "1",
        }
        for case in sorted((HERE / "poetry").iterdir()):
            old = case.name == "before-2.3"
            if old and not args.old_poetry:
                continue
            poetry_case(case, args.old_poetry if old else args.poetry, args.poetry, env)
        for case in sorted((HERE / "pipenv").iterdir()):
            pipenv_case(case, args.pipenv, env)


if __name__ == "__main__":
    main()
