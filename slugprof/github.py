"""One pull-request comment kept up to date with the report, on GitHub Actions.

The comment is found again by the report's hidden marker (`render.markdown.MARKER`), so a pull request
gets one comment, edited on every push, and never a new comment per run. Nothing here can fail the
check: every outcome, a skip included, is one line for the log.

When there is no comment to write, it is skipped quietly: not a pull-request event, no token, or a pull
request from a fork on `pull_request`, where GitHub hands the workflow a read-only token ("Permissions
for the GITHUB_TOKEN": pull requests from public forks get read access only). A 403 or 404 answer is
said the same way, with the permission the job needs.

The API calls (GitHub's REST API, "Issue comments"; a pull request is an issue there):
- `GET  {api}/repos/{repository}/issues/{number}/comments?per_page=100`, following `Link: rel="next"`;
- `PATCH {api}/repos/{repository}/issues/comments/{id}` with `{"body": ...}` for the marked comment;
- `POST {api}/repos/{repository}/issues/{number}/comments` with `{"body": ...}` when there is none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from slugprof.net import Client, HttpFailure, NetError, NotFound, Response
from slugprof.render.markdown import MARKER

# GitHub refuses a comment body over 65,536 characters ("Body is too long (maximum is 65536
# characters)", the API's 422 answer).
MAX_COMMENT_CHARACTERS: Final = 65_536
DEFAULT_API_URL: Final = "https://api.github.com"
_API_VERSION: Final = "2022-11-28"  # the REST API version the calls above are documented for
_MAX_PAGES: Final = 30  # 3,000 comments: a pull request with more is not worth a longer search
_NEXT_PAGE: Final = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_PULL_REQUEST_EVENTS: Final = frozenset({"pull_request", "pull_request_target"})


@dataclass(frozen=True)
class PullRequest:
    api_url: str  # GitHub's, or a GitHub Enterprise server's (GITHUB_API_URL)
    repository: str  # owner/name
    number: int
    token: str


@dataclass(frozen=True)
class CommentOutcome:
    action: str  # "created", "updated" or "skipped"
    detail: str  # the comment's address, or why it was skipped

    def line(self) -> str:
        return f"pull-request comment: {self.action}: {self.detail}"


def pull_request_of(environment: Mapping[str, str]) -> PullRequest | CommentOutcome:
    """The pull request this workflow run is for, or why there is none to comment on."""
    event = environment.get("GITHUB_EVENT_NAME", "")
    if event not in _PULL_REQUEST_EVENTS:
        return _skipped(f"the {event or 'unknown'} event is not a pull request")
    token = environment.get("GITHUB_TOKEN", "")
    if not token:
        return _skipped("no GITHUB_TOKEN in the environment")
    payload = _event_payload(environment.get("GITHUB_EVENT_PATH", ""))
    pull = payload.get("pull_request") if isinstance(payload, dict) else None
    if not isinstance(pull, dict) or not isinstance(pull.get("number"), int):
        return _skipped("the event's payload names no pull request")
    if event == "pull_request" and _from_fork(pull):
        return _skipped("a pull request from a fork gets a read-only token")
    repository = environment.get("GITHUB_REPOSITORY", "")
    if "/" not in repository:
        return _skipped("GITHUB_REPOSITORY is not set")
    api_url = environment.get("GITHUB_API_URL", "") or DEFAULT_API_URL
    return PullRequest(api_url.rstrip("/"), repository, pull["number"], token)


def comment_body(report_markdown: str, verdict_lines: list[str], run_url: str | None) -> str:
    """The comment: the marker, the verdicts, the report; cut to GitHub's limit, saying where the rest is."""
    verdicts = "".join(f"- `{line}`\n" for line in verdict_lines)
    where = f" ([the run]({run_url}))" if run_url else ""
    footer = f"\n_The whole report is in the run's step summary and its artifact{where}._\n"
    body = f"{MARKER}\n{verdicts}\n{report_markdown.replace(MARKER, '').lstrip()}"
    if len(body) + len(footer) <= MAX_COMMENT_CHARACTERS:
        return body + footer
    cut = body[: MAX_COMMENT_CHARACTERS - len(footer) - 40].rsplit("\n", 1)[0]
    return cut + "\n\n_(cut at GitHub's comment limit)_\n" + footer


def run_url_of(environment: Mapping[str, str]) -> str | None:
    """The workflow run's page, for the comment to point at."""
    server, repository = environment.get("GITHUB_SERVER_URL"), environment.get("GITHUB_REPOSITORY")
    run = environment.get("GITHUB_RUN_ID")
    return f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None


def keep_comment(client: Client, pull: PullRequest, body: str) -> CommentOutcome:
    """Edit the pull request's marked comment to `body`, or create it; a refusal is a skip, said."""
    try:
        existing = _marked_comment(client, pull)
        if existing is not None:
            answer = _call(client, pull, "PATCH", f"/issues/comments/{existing}", {"body": body})
            return CommentOutcome("updated", _address(answer))
        answer = _call(client, pull, "POST", f"/issues/{pull.number}/comments", {"body": body})
        return CommentOutcome("created", _address(answer))
    except (NotFound, HttpFailure) as error:
        status = error.status if isinstance(error, HttpFailure) else 404
        if status in (401, 403, 404):
            return _skipped(
                f"HTTP {status}: the token cannot write to this pull request (give the job "
                "`permissions: pull-requests: write`)"
            )
        return _skipped(f"GitHub answered {error}")
    except NetError as error:
        return _skipped(str(error))


def _marked_comment(client: Client, pull: PullRequest) -> int | None:
    """The id of the first comment holding the marker, searching every page."""
    url: str | None = f"{pull.api_url}/repos/{pull.repository}/issues/{pull.number}/comments?per_page=100"
    for _ in range(_MAX_PAGES):
        if url is None:
            break
        comments, response = _send(client, pull, "GET", url)
        for comment in comments if isinstance(comments, list) else []:
            if isinstance(comment, dict) and MARKER in str(comment.get("body") or ""):
                identifier = comment.get("id")
                if isinstance(identifier, int):
                    return identifier
        url = _next_page(response)
    return None


def _call(client: Client, pull: PullRequest, method: str, path: str, payload: object) -> object:
    answer, _ = _send(client, pull, method, f"{pull.api_url}/repos/{pull.repository}{path}", payload)
    return answer


def _send(
    client: Client, pull: PullRequest, method: str, url: str, payload: object | None = None
) -> tuple[object, Response]:
    return client.send_json(
        method,
        url,
        payload,
        authorization=f"Bearer {pull.token}",
        accept="application/vnd.github+json",
        headers={"X-GitHub-Api-Version": _API_VERSION},
    )


def _next_page(response: Response) -> str | None:
    match = _NEXT_PAGE.search(response.headers.get("Link", "") or "")
    return match.group(1) if match else None


def _address(answer: object) -> str:
    url = answer.get("html_url") if isinstance(answer, dict) else None
    return str(url) if url else "(GitHub gave no address)"


def _event_payload(path: str) -> object:
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _from_fork(pull: dict[str, object]) -> bool:
    head, base = pull.get("head"), pull.get("base")
    head_repo = head.get("repo") if isinstance(head, dict) else None
    base_repo = base.get("repo") if isinstance(base, dict) else None
    if not isinstance(head_repo, dict) or not isinstance(base_repo, dict):
        return True  # a fork deleted since: its token is read-only all the same
    return head_repo.get("full_name") != base_repo.get("full_name")


def _skipped(reason: str) -> CommentOutcome:
    return CommentOutcome("skipped", reason)
