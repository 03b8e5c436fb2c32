"""The routes a profile requests, from `--url PATH` and from a `--urls FILE`.

A routes file has one request per line: `PATH`, or `METHOD PATH`, or `METHOD PATH JSON` (the rest of the
line, sent as an application/json body); blank lines and lines starting with `#` are skipped:

    /
    GET /health
    POST /api/search {"query": "shoes", "limit": 5}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from slugprof.errors import UsageError
from slugprof.model import Route

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of_path(path: str, where: str = "--url") -> Route:
    if not path.startswith("/"):
        raise UsageError(f"{where} {path}: give a path that starts with '/', e.g. /health")
    return Route("GET", path)


def read_routes(path: Path) -> tuple[Route, ...]:
    """The routes of a routes file; a UsageError naming the line that is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise UsageError(f"--urls {path}: cannot read it ({reason})") from None
    routes = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            routes.append(_route(stripped, f"{path}:{number}"))
    if not routes:
        raise UsageError(f"--urls {path}: no route in it (one `METHOD PATH [JSON]` per line)")
    return tuple(routes)


def _route(line: str, where: str) -> Route:
    first, _, rest = line.partition(" ")
    if first.startswith("/"):
        if rest.strip():
            raise UsageError(f"{where}: a body needs its method first, e.g. `POST {first} {rest.strip()}`")
        return Route("GET", first)
    method = first.upper()
    if method not in METHODS:
        raise UsageError(f"{where}: {first!r} is not an HTTP method ({', '.join(sorted(METHODS))})")
    target, _, body = rest.strip().partition(" ")
    if not target.startswith("/"):
        raise UsageError(f"{where}: give the path after the method, starting with '/'")
    body = body.strip()
    if not body:
        return Route(method, target)
    try:
        json.loads(body)
    except ValueError as error:
        raise UsageError(f"{where}: the body is not JSON ({error})") from None
    return Route(method, target, body)
