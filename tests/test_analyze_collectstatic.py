"""`analyze` with the app's environment runs collectstatic as the build does, in a copy of the slug, and
counts what it writes as app files of the slug. The sample Django app, the test environment's real Django
and WhiteNoise, real processes; the ground truth is collectstatic run by the test in a copy of its own."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from clirun import HELLO_WSGI, run_slugprof
from conftest import GitRunner
from test_profile_slug_copy import committed_app, tree_state

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parent.parent / "sample_apps" / "django_whitenoise"


def analyze(app: Path, *extra: str, **environment: str) -> tuple[int, dict[str, Any], str]:
    result = run_slugprof(
        "analyze", app, "--env", sys.executable, "--exact", "--no-cache", "--format", "json", "-q", *extra,
        variables=environment,
    )  # fmt: skip
    assert "Traceback (most recent call last)" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout) if result.stdout else {}
    return result.returncode, report, result.stderr


def built_files(report: dict[str, Any]) -> dict[str, int]:
    return {file["path"]: file["bytes"] for file in report["app"]["files"] if file["built_by"] is not None}


def collected_by_hand(tmp_path: Path) -> Path:
    """collectstatic run by the test, in its own copy of the sample: the files it really writes."""
    copy = tmp_path / "by-hand"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__", "staticfiles"))
    env = {key: value for key, value in os.environ.items() if key != "DISABLE_COLLECTSTATIC"}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return copy / "staticfiles"


def gzipped_tar_bytes(folder: Path, arcname: str) -> int:
    """The folder alone as `tar czf` writes it (gzip -6): roughly its share of the slug."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"{arcname}/{path.relative_to(folder).as_posix()}")
    return len(gzip.compress(raw.getvalue(), compresslevel=6))


def test_collectstatic_output_is_counted_as_the_builds_app_files(tmp_path: Path) -> None:
    before = {path for path in tree_state(SAMPLE) if not path.startswith(".venv")}
    code, report, stderr = analyze(SAMPLE)
    assert code == 0, stderr
    assert {path for path in tree_state(SAMPLE) if not path.startswith(".venv")} == before  # no staticfiles/

    built = built_files(report)
    truth = collected_by_hand(tmp_path)
    expected = {f"staticfiles/{p.relative_to(truth).as_posix()}": p.stat().st_size for p in truth.rglob("*")}
    expected = {path: size for path, size in expected.items() if (truth.parent / path).is_file()}
    assert "staticfiles/staticfiles.json" in built  # WhiteNoise's manifest, which the app needs to answer
    assert built == expected
    assert {file["built_by"] for file in report["app"]["files"] if file["path"] in built} == {"collectstatic"}
    [step] = report["build_steps"]
    assert step["name"] == "collectstatic" and step["failure"] is None
    assert (step["added_files"], step["added_bytes"]) == (len(expected), sum(expected.values()))
    assert any(f"its {len(expected)} files" in note for note in report["notes"])
    assert report["build"]["outcome"] == "builds"

    # Without the step, the same slug less those files: the compressed slug grows by their share.
    code, skipped, stderr = analyze(SAMPLE, DISABLE_COLLECTSTATIC="1")
    assert code == 0, stderr
    growth = report["slug"]["compressed_bytes"] - skipped["slug"]["compressed_bytes"]
    app_growth = report["app"]["compressed_bytes"] - skipped["app"]["compressed_bytes"]
    alone = gzipped_tar_bytes(truth, "staticfiles")
    assert abs(growth - alone) < 0.02 * alone, (growth, alone)
    assert abs(app_growth - growth) < 0.01 * growth, (app_growth, growth)
    assert report["app"]["bytes"] - skipped["app"]["bytes"] == sum(expected.values())


def test_collectstatic_disabled_gives_the_note_and_no_files() -> None:
    code, report, stderr = analyze(SAMPLE, DISABLE_COLLECTSTATIC="1")
    assert code == 0, stderr
    assert built_files(report) == {}
    assert report["build_steps"] == []
    assert "collectstatic did not run: DISABLE_COLLECTSTATIC is set" in report["notes"]


def test_collectstatic_that_fails_is_a_build_error_not_a_crash(git: GitRunner, tmp_path: Path) -> None:
    manage = (
        "import sys\n"
        "if sys.argv[1:2] == ['collectstatic']:\n"
        "    print('Collecting...')\n"
        "    sys.exit('STATIC_ROOT is not set: ImproperlyConfigured')\n"
    )
    app = committed_app(
        git,
        tmp_path / "app",
        {"app.py": HELLO_WSGI, "manage.py": manage, "requirements.txt": "django\n"},
        {},
    )
    before = tree_state(app)
    code, report, stderr = analyze(app)
    assert code == 0, stderr  # analyze exits 0 whatever the build verdict
    assert tree_state(app) == before
    assert report["build"]["outcome"] == "fails"
    [error] = [entry for entry in report["build"]["errors"] if entry["id"] == "BUILD153"]
    assert error["message"].endswith("STATIC_ROOT is not set: ImproperlyConfigured")
    assert "exit status 1" in error["message"]
    [step] = report["build_steps"]
    assert (step["failure"], step["exit_status"]) == ("STATIC_ROOT is not set: ImproperlyConfigured", 1)
    assert built_files(report) == {}
