"""A stand-in for GitHub's REST API on loopback, for the pull-request comment tests: GitHub itself cannot
be reached from the test machines, so the three issue-comment calls slugprof makes are answered here,
as GitHub's documentation describes them.

    with serve_github(token="t0ken") as github:
        github.api_url                      # "http://127.0.0.1:<port>": GITHUB_API_URL
        github.comments[("o/r", 7)]         # that pull request's comments, [{"id", "body", "html_url"}]
        github.requests                     # [(method, path)] in order
        github.refuse = 403                 # from now on, every write gets that status

- `GET /repos/{owner}/{repo}/issues/{n}/comments?per_page=N&page=P` pages the comments, with a
  `Link: <...>; rel="next"` header while there are more;
- `POST /repos/{owner}/{repo}/issues/{n}/comments` `{"body"}` adds one (201);
- `PATCH /repos/{owner}/{repo}/issues/comments/{id}` `{"body"}` edits one (200).
A request without `Authorization: Bearer <token>` gets 401, as GitHub answers a bad token.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_LIST_OR_CREATE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_EDIT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


class GitHubStandIn:
    def __init__(self, port: int, token: str) -> None:
        self.api_url = f"http://127.0.0.1:{port}"
        self.token = token
        self.comments: dict[tuple[str, int], list[dict[str, object]]] = {}
        self.requests: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.refuse: int | None = None
        self._next_id = 1000
        self._lock = threading.Lock()

    def seed(self, repository: str, number: int, bodies: list[str]) -> None:
        """Comments already on the pull request (other people's, say)."""
        for body in bodies:
            self._add(repository, number, body)

    def _add(self, repository: str, number: int, body: str) -> dict[str, object]:
        self._next_id += 1
        comment: dict[str, object] = {
            "id": self._next_id,
            "body": body,
            "html_url": f"https://github.example/{repository}/pull/{number}#issuecomment-{self._next_id}",
        }
        self.comments.setdefault((repository, number), []).append(comment)
        return comment

    def _find(self, identifier: int) -> dict[str, object] | None:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == identifier:
                    return comment
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PATCH(self) -> None:
        self._answer("PATCH")

    def _answer(self, method: str) -> None:
        github = self.server.github
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length)) if length else None
        with github._lock:
            github.requests.append((method, parts.path))
            github.headers.append(dict(self.headers.items()))
            if self.headers.get("Authorization") != f"Bearer {github.token}":
                self._send(401, {"message": "Bad credentials"})
                return
            if method != "GET" and github.refuse is not None:
                self._send(github.refuse, {"message": "Resource not accessible by integration"})
                return
            self._route(github, method, parts.path, parse_qs(parts.query), payload)

    def _route(
        self, github: GitHubStandIn, method: str, path: str, query: dict[str, list[str]], payload: object
    ) -> None:
        listed, edited = _LIST_OR_CREATE.match(path), _EDIT.match(path)
        body = payload.get("body") if isinstance(payload, dict) else None
        if listed and method == "GET":
            self._page(github, (listed.group(1), int(listed.group(2))), query)
        elif listed and method == "POST" and isinstance(body, str):
            self._send(201, github._add(listed.group(1), int(listed.group(2)), body))
        elif edited and method == "PATCH" and isinstance(body, str):
            comment = github._find(int(edited.group(2)))
            if comment is None:
                self._send(404, {"message": "Not Found"})
                return
            comment["body"] = body
            self._send(200, comment)
        else:
            self._send(404, {"message": "Not Found"})

    def _page(self, github: GitHubStandIn, pull: tuple[str, int], query: dict[str, list[str]]) -> None:
        size = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        comments = github.comments.get(pull, [])
        shown = comments[(page - 1) * size : page * size]
        link = None
        if page * size < len(comments):
            link = f'<{github.api_url}{urlsplit(self.path).path}?per_page={size}&page={page + 1}>; rel="next"'
        self._send(200, shown, link=link)

    def _send(self, status: int, document: object, link: str | None = None) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", link)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    github: GitHubStandIn


@contextmanager
def serve_github(*, token: str) -> Iterator[GitHubStandIn]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.github = GitHubStandIn(server.server_address[1], token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.github
    finally:
        server.shutdown()
        server.server_close()
