"""The requests a profile sends: `--url`, a `--urls FILE` with methods and JSON bodies, the app's own
OpenAPI routes by default, and a finding when nothing was answered. Real gunicorn."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import run_slugprof

from slugprof.errors import UsageError
from slugprof.model import Route
from slugprof.sources.routes import read_routes

# Answers what it was asked, as JSON; serves an OpenAPI document listing four GET routes, of which two
# need a parameter; POST /api/search wants a JSON body.
APP = """
import json

OPENAPI = {"openapi": "3.1.0", "paths": {
    "/": {"get": {}},
    "/items/{item_id}": {"get": {}},
    "/search": {"get": {"parameters": [{"name": "q", "in": "query", "required": True}]}},
    "/health": {"get": {}},
    "/api/search": {"post": {"requestBody": {}}},
}}


def app(environ, start_response):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/openapi.json" and WITH_OPENAPI:
        return answer(start_response, "200 OK", OPENAPI)
    if method == "POST" and path == "/api/search":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        ok = environ.get("CONTENT_TYPE") == "application/json" and body == {"query": "shoes"}
        return answer(start_response, "200 OK" if ok else "400 Bad Request", {"ok": ok})
    if method == "GET" and path in ("/", "/health"):
        return answer(start_response, "200 OK", {"path": path})
    return answer(start_response, "404 Not Found", {})


def answer(start_response, status, document):
    data = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
"""


def write_app(root: Path, *, openapi: bool) -> Path:
    root.mkdir(parents=True)
    (root / "Procfile").write_text("web: gunicorn app:app\n")
    (root / "app.py").write_text(f"WITH_OPENAPI = {openapi}\n" + APP)
    return root


def profile(app: Path, *extra: str) -> dict[str, Any]:
    argv = (
        "profile",
        app,
        "--env",
        sys.executable,
        "--no-memray",
        "--requests",
        "6",
        "-q",
        "--format",
        "json",
    )
    result = run_slugprof(*argv, *extra)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_routes_file_reads_methods_paths_and_json_bodies(tmp_path: Path) -> None:
    routes = tmp_path / "routes.txt"
    routes.write_text('# the pages that matter\n/\nGET /health\n\npost /api/search {"query": "shoes"}\n')
    assert read_routes(routes) == (
        Route("GET", "/"),
        Route("GET", "/health"),
        Route("POST", "/api/search", '{"query": "shoes"}'),
    )
    for bad, said in (
        ("FETCH /", "'FETCH' is not an HTTP method"),
        ("POST api", "give the path after the method"),
        ('POST /api {"query": ', "the body is not JSON"),
        ('/api {"a": 1}', "a body needs its method first"),
        ("# nothing\n", "no route in it"),
    ):
        routes.write_text(bad + "\n")
        with pytest.raises(UsageError, match=said):
            read_routes(routes)


@pytest.mark.slow
def test_a_routes_file_sends_each_request_with_its_body(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", openapi=False)
    routes = tmp_path / "routes.txt"
    routes.write_text('GET /health\nPOST /api/search {"query": "shoes"}\n')
    report = profile(app, "--urls", str(routes))
    requests = report["requests"]
    assert requests["status_codes"] == {"200": 6}  # the POST got its JSON body, as application/json
    assert requests["routes"] == ["GET /health", "POST /api/search (with a JSON body)"]
    assert requests["routes_from"] == f"--urls {routes}"
    assert requests["concurrency"] == 4  # two gunicorn workers: two clients each, at least 4
    assert [(r["route"], r["count"], r["answered"]) for r in requests["per_route"]] == [
        ("GET /health", 3, 3),
        ("POST /api/search (with a JSON body)", 3, 3),
    ]
    assert profile(app, "--urls", str(routes), "--concurrency", "2")["requests"]["concurrency"] == 2


@pytest.mark.slow
def test_the_apps_openapi_get_routes_without_parameters_are_the_default(tmp_path: Path) -> None:
    report = profile(write_app(tmp_path / "app", openapi=True))
    requests = report["requests"]
    assert requests["routes"] == ["GET /", "GET /health"]
    assert requests["routes_from"] == "the app's OpenAPI document (/openapi.json)"
    assert requests["status_codes"] == {"200": 6}
    plain = profile(write_app(tmp_path / "plain", openapi=False))
    assert (plain["requests"]["routes"], plain["requests"]["routes_from"]) == (
        ["GET /"],
        "the default, GET /",
    )


@pytest.mark.slow
def test_a_run_whose_every_request_missed_is_a_finding(tmp_path: Path) -> None:
    report = profile(write_app(tmp_path / "app", openapi=False), "--url", "/nowhere")
    (finding,) = [f for f in report["findings"] if f["id"] == "MEM560"]
    assert finding["title"] == (
        "every one of the 6 requests hit a page the app does not have (404): the figures show an app "
        "that served nothing"
    )
    answered = profile(write_app(tmp_path / "served", openapi=False), "--url", "/health")
    assert "MEM560" not in [f["id"] for f in answered["findings"]]
