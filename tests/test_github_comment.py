"""`slugprof check --github-comment`: one pull-request comment, created then kept up to date, and quiet
skips where there is nothing to write. GitHub cannot be reached from here, so its API is the loopback
stand-in of githubserver.py (the three issue-comment calls, answered as GitHub documents them); the
check itself runs for real, on the committed example reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run_slugprof
from githubserver import GitHubStandIn, serve_github

from slugprof.github import MAX_COMMENT_CHARACTERS, PullRequest, comment_body, pull_request_of
from slugprof.render.markdown import MARKER

REPORTS = Path(__file__).resolve().parent.parent / "reports"
TIDY = REPORTS / "flask_basic.analyze.json"  # 26 MB, no error finding: the check passes
BLOATED = REPORTS / "bloated.analyze.json"  # three error findings: the check fails
TOKEN = "ghs_test0000000000000000000000000000000"
REPOSITORY = "acme/shop"


def event_file(folder: Path, *, number: int = 7, head: str = REPOSITORY) -> Path:
    """A pull_request event's payload, with the fields slugprof reads."""
    payload = {
        "pull_request": {
            "number": number,
            "head": {"repo": {"full_name": head}},
            "base": {"repo": {"full_name": REPOSITORY}},
        }
    }
    path = folder / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def actions_environment(github: GitHubStandIn, event: Path, name: str = "pull_request") -> dict[str, str]:
    return {
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": github.api_url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def comment_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "pull-request comment:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def test_the_first_run_creates_the_comment_and_the_next_edits_it(tmp_path: Path) -> None:
    with serve_github(token=TOKEN) as github:
        github.seed(REPOSITORY, 7, ["Looks good to me", "Please add a test"])
        environment = actions_environment(github, event_file(tmp_path))
        first = run_slugprof("check", TIDY, "--github-comment", variables=environment)
        assert first.returncode == 0, first.stderr
        assert "pull-request comment: created: https://github.example/acme/shop/pull/7" in first.stderr
        second = run_slugprof("check", BLOATED, "--github-comment", variables=environment)
        assert second.returncode == 1, second.stderr  # the comment never changes the exit code
        assert "pull-request comment: updated:" in comment_line(second.stderr)
        comments = github.comments[(REPOSITORY, 7)]
        assert [comment["body"] for comment in comments[:2]] == ["Looks good to me", "Please add a test"]
        assert len(comments) == 3  # one slugprof comment, edited in place
        body = str(comments[2]["body"])
        assert body.startswith(MARKER)
        assert "fail-on: FAIL: 3 error findings: DEP313, SEC400, SEC420" in body  # the second run's
        assert "bloated" in body and "flask_basic" not in body
        assert "https://github.example/acme/shop/actions/runs/42" in body
        assert [method for method, _ in github.requests] == ["GET", "POST", "GET", "PATCH"]
        assert {headers.get("X-GitHub-Api-Version") for headers in github.headers} == {"2022-11-28"}
    assert TOKEN not in first.stderr + first.stdout + second.stderr + second.stdout


def test_the_marked_comment_is_found_past_the_first_page(tmp_path: Path) -> None:
    # 150 comments before slugprof's: it is on the second page of 100, and must be edited, not doubled.
    with serve_github(token=TOKEN) as github:
        github.seed(REPOSITORY, 7, [f"comment {n}" for n in range(150)] + [f"{MARKER}\nold report"])
        result = run_slugprof(
            "check", TIDY, "--github-comment", variables=actions_environment(github, event_file(tmp_path))
        )
        assert "pull-request comment: updated:" in comment_line(result.stderr)
        comments = github.comments[(REPOSITORY, 7)]
        assert len(comments) == 151
        assert "old report" not in str(comments[150]["body"])
        assert [method for method, _ in github.requests] == ["GET", "GET", "PATCH"]


def test_a_pull_request_from_a_fork_is_skipped_without_a_call(tmp_path: Path) -> None:
    with serve_github(token=TOKEN) as github:
        event = event_file(tmp_path, head="someone/shop")
        result = run_slugprof("check", TIDY, "--github-comment", variables=actions_environment(github, event))
        assert result.returncode == 0
        assert "skipped: a pull request from a fork gets a read-only token" in comment_line(result.stderr)
        assert github.requests == []
        # pull_request_target runs with the base repository's token, which can write: the comment is made
        target = actions_environment(github, event, name="pull_request_target")
        result = run_slugprof("check", TIDY, "--github-comment", variables=target)
        assert "created:" in comment_line(result.stderr)


def test_a_token_that_cannot_write_is_said_and_the_check_goes_on(tmp_path: Path) -> None:
    with serve_github(token=TOKEN) as github:
        github.refuse = 403
        result = run_slugprof(
            "check", BLOATED, "--github-comment", variables=actions_environment(github, event_file(tmp_path))
        )
        assert result.returncode == 1, result.stderr  # the findings' verdict, as without the comment
        line = comment_line(result.stderr)
        assert "skipped: HTTP 403" in line and "pull-requests: write" in line
        assert github.requests == [
            ("GET", "/repos/acme/shop/issues/7/comments"),
            ("POST", "/repos/acme/shop/issues/7/comments"),
        ]
        assert "Traceback" not in result.stderr


def test_a_push_event_has_no_pull_request_to_comment_on(tmp_path: Path) -> None:
    with serve_github(token=TOKEN) as github:
        environment = actions_environment(github, event_file(tmp_path), name="push")
        result = run_slugprof("check", TIDY, "--github-comment", variables=environment)
        assert "skipped: the push event is not a pull request" in comment_line(result.stderr)
        assert github.requests == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"GITHUB_TOKEN": ""}, "no GITHUB_TOKEN"),
        ({"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "names no pull request"),
        ({"GITHUB_REPOSITORY": ""}, "GITHUB_REPOSITORY is not set"),
    ],
)
def test_what_is_missing_is_named(tmp_path: Path, change: dict[str, str], reason: str) -> None:
    environment = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_file(tmp_path)),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": TOKEN,
    }
    outcome = pull_request_of(environment | change)
    assert not isinstance(outcome, PullRequest)
    assert reason in outcome.line()
    assert pull_request_of(environment) == PullRequest("https://api.github.com", REPOSITORY, 7, TOKEN)


def test_a_long_report_is_cut_to_githubs_limit_with_the_marker_kept() -> None:
    report = MARKER + "\n" + "\n".join(f"| row {n} | {'x' * 80} |" for n in range(2_000))
    body = comment_body(report, ["max-slug: PASS: slug 26 MB"], "https://github.example/run/1")
    assert len(report) > MAX_COMMENT_CHARACTERS > len(body) > MAX_COMMENT_CHARACTERS - 1_000
    assert body.startswith(MARKER + "\n- `max-slug: PASS: slug 26 MB`") and body.count(MARKER) == 1
    assert "cut at GitHub's comment limit" in body and body.rstrip().endswith(
        "artifact ([the run](https://github.example/run/1))._"
    )


def test_a_failed_post_is_not_sent_twice(tmp_path: Path) -> None:
    # A 5xx answer to a POST may come after the comment was made: sent again, it could make two. A GET
    # is retried as every request is.
    from slugprof.github import keep_comment
    from slugprof.net import Client

    with serve_github(token=TOKEN) as github, Client(sleep=lambda seconds: None) as client:
        github.refuse = 503
        outcome = keep_comment(client, PullRequest(github.api_url, REPOSITORY, 7, TOKEN), "body")
        assert outcome.action == "skipped" and "503" in outcome.detail
        assert [method for method, _ in github.requests] == ["GET", "POST"]
    assert TOKEN not in outcome.line()
