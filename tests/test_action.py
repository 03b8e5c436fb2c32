"""The GitHub Action: action.yml read as the runner reads it, and its check step's script run for real
with the variables a runner sets (RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ACTIONS).
The steps that only GitHub runs (setup-python, upload-artifact) are not run here: the test checks what
they are given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import RUNTIME_STORE_VARIABLE, write_app

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ci" / "github-check.sh"


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    return document


def test_the_action_passes_every_input_through_the_environment_never_into_a_script() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    steps = document["runs"]["steps"]
    for step in steps:
        assert "${{ inputs." not in step.get("run", ""), step  # no input interpolated into a shell script
    check = next(step for step in steps if step.get("id") == "check")
    passed = set(check["env"].values())
    for name in document["inputs"]:
        if name != "python-version":  # given to setup-python
            assert f"${{{{ inputs.{name} }}}}" in passed, name
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"].endswith("/slugprof-report.html")
    assert set(document["outputs"]) == {"verdict", "compressed-slug", "growth"}


def run_check_step(tmp_path: Path, app: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    runner = tmp_path / "runner"
    runner.mkdir(exist_ok=True)
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLUGPROF_", "CHECK_", "GITHUB_")) or k == RUNTIME_STORE_VARIABLE
        },
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RUNNER_TEMP": str(runner),
        "GITHUB_OUTPUT": str(runner / "output"),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
        "GITHUB_ACTIONS": "true",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CHECK_APP": str(app),
        **inputs,
    }
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    return result, runner


def outputs(runner: Path) -> dict[str, str]:
    lines = (runner / "output").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.slow
def test_the_check_step_fails_on_an_error_and_still_writes_its_reports_and_outputs(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": "", ".env": "API_TOKEN=not-for-the-slug\n"})
    result, runner = run_check_step(tmp_path, app)
    assert result.returncode == 1, result.stderr
    assert "::error file=.env,title=SEC400::" in result.stdout  # the annotation, on the file
    found = outputs(runner)
    assert found["verdict"] == "fail" and int(found["compressed-slug"]) > 0 and found["growth"] == ""
    assert (runner / "slugprof-report.html").stat().st_size > 10_000  # for the upload step
    assert "fail-on: FAIL: 1 error finding: SEC400" in (runner / "summary.md").read_text()
    assert "not-for-the-slug" not in (runner / "summary.md").read_text() + result.stdout


@pytest.mark.slow
def test_the_check_step_takes_its_limits_from_the_inputs(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"requirements.txt": ""})
    result, runner = run_check_step(tmp_path, app, CHECK_FAIL_ON="never", CHECK_MAX_SLUG="1 MB")
    assert result.returncode == 1 and outputs(runner)["verdict"] == "fail", result.stderr
    assert "max-slug: FAIL" in result.stderr
    result, runner = run_check_step(
        tmp_path, app, CHECK_FAIL_ON="never", CHECK_BASELINE=str(runner / "none.json")
    )
    assert result.returncode == 0 and outputs(runner)["verdict"] == "pass", result.stderr


@pytest.mark.slow
def test_the_check_step_keeps_the_pull_requests_comment_when_asked(tmp_path: Path) -> None:
    # GitHub's API is the loopback stand-in (it cannot be reached from here); the step runs for real.
    from githubserver import serve_github

    app = write_app(tmp_path / "app", {"requirements.txt": ""})
    event = tmp_path / "event.json"
    same = {"repo": {"full_name": "acme/shop"}}
    event.write_text(json.dumps({"pull_request": {"number": 3, "head": same, "base": same}}))
    with serve_github(token="ghs_token") as github:
        pull_request = {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_API_URL": github.api_url,
            "GITHUB_TOKEN": "ghs_token",
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
        result, _ = run_check_step(tmp_path, app, CHECK_FAIL_ON="never", **pull_request)
        assert result.returncode == 0, result.stderr
        assert github.comments.get(("acme/shop", 3)) is None  # not asked: no comment
        result, _ = run_check_step(tmp_path, app, CHECK_FAIL_ON="never", CHECK_COMMENT="true", **pull_request)
        assert result.returncode == 0, result.stderr
        (comment,) = github.comments[("acme/shop", 3)]
        assert "max-slug: PASS" in str(comment["body"]), comment
