"""The one HTTP client: index pages, JSON APIs, byte ranges and downloads, over http(s) and file:// URLs,
and the few JSON requests with a body that a CI integration sends (`send_json`).

- Connections are kept alive and reused, one set per thread (a client is shared by worker threads):
  a new connection per request cost 5 s on some of them behind a rate-limiting mirror, and a TLS
  handshake each on any network; reused, the 25 wheels of the sizing benchmark take well under a second.
- Connection errors, 5xx and 429 answers are retried with backoff (the policy is at `ATTEMPTS`),
  except for a POST: sent twice, it could create two of what it creates.
- Proxies come from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and their lower-case forms),
  as urllib reads them.
- A URL's user:password goes into an Authorization header, never on the wire in the URL, and is
  dropped on a redirect to another host. Every message names a URL through `redact`.
- file:// URLs are read from disk (a folder URL reads its index.html, as pip and uv read a PEP 503
  tree on disk), byte ranges included, so tests and local indexes take the same path.

Errors, one small hierarchy that callers map to the project's ToolFailure:
`NetError` > `NotFound` (404/410, or no such file), `HttpFailure` (the server answered, but not with
what was asked: another error status, a short or malformed answer), `NetworkFailure` (the host could
not be reached: DNS, refused, reset, timeout, TLS; says nothing about the file).
"""

from __future__ import annotations

import base64
import email.message
import http.client
import json
import mimetypes
import os
import re
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from slugprof import __version__

USER_AGENT: Final = f"slugprof/{__version__}"
# One connect or read. pip's default is 15 s; a large project page from a slow mirror can take longer
# before its first byte, and both HTTP stacks this client replaced used 30 s.
TIMEOUT_SECONDS: Final = 30.0
# Retry policy. A connection error, a 5xx or a 429 is tried again, up to ATTEMPTS in all (3 retries),
# waiting BACKOFF_SECONDS, then twice as long each time: 0.25 s, 0.5 s, 1 s, so a dead host costs under
# 2 s of waiting. pip 23.2 (the buildpack's installer) retries 5 times with a 0.25 s backoff factor,
# on 500, 503, 520 and 527. A Retry-After in seconds (429, 503) is honoured up to MAX_RETRY_AFTER_SECONDS,
# so one server cannot stall a run. Other statuses (404 above all) are answers, never retried. A body
# cut short after its headers arrived is not retried: the caller may have consumed part of it.
ATTEMPTS: Final = 4
BACKOFF_SECONDS: Final = 0.25
MAX_RETRY_AFTER_SECONDS: Final = 10.0
MAX_REDIRECTS: Final = 5  # as many as any index needs (a CDN hop or two); more is a loop
_NOT_FOUND: Final = frozenset({404, 410})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_TRANSIENT_STATUS: Final = frozenset({429, *range(500, 600)})
_STALE_CONNECTION: Final = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_BYTE_RANGE: Final = re.compile(r"^bytes=(\d*)-(\d*)$")


class NetError(Exception):
    """A request that did not give what was asked; its text is one line, credentials redacted."""


class NotFound(NetError):
    """HTTP 404 or 410, or a file:// path that does not exist."""


class HttpFailure(NetError):
    """The server answered, but not with what was asked (an error status, a short or garbled answer)."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # the status line's phrase ("Service Unavailable"), when there is one


class NetworkFailure(NetError):
    """The host could not be reached (DNS, refused, reset, timeout, TLS): says nothing about the file."""

    def __init__(self, host: str, reason: str, shown: str | None = None) -> None:
        super().__init__(f"cannot reach {shown or host}: {reason}")
        self.host = host


def redact(url: str) -> str:
    """The URL without its password (or token), for messages: `user:***@host`, `***@host`."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    user = f"{parts.username}:***@" if parts.password is not None else "***@"
    return urllib.parse.urlunsplit(
        (parts.scheme, user + _host_port(parts), parts.path, parts.query, parts.fragment)
    )


def host_of(url: str) -> str:
    """The URL's host[:port] without credentials: what a message about the host names."""
    parts = urllib.parse.urlsplit(url)
    return _host_port(parts) or parts.scheme


def local_path(url: str) -> Path | None:
    """The file a file:// URL names; None for any other URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file":
        return None
    return Path(urllib.request.url2pathname(urllib.parse.unquote(parts.path)))


def strip_credentials(url: str) -> str:
    """The URL without its user:password and fragment: what is requested, and what names the file."""
    return _split_credentials(url).url


def _host_port(parts: urllib.parse.SplitResult) -> str:
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port is not None else host


@dataclass(frozen=True)
class Fetched:
    """A whole answer, read."""

    body: bytes
    content_type: str
    url: str  # after redirects, without credentials


class Response:
    """An answer being read. Read to its end, its connection serves the thread's next request; left
    unread (a whole wheel when a range was asked), the connection is closed on exit."""

    def __init__(
        self,
        status: int,
        headers: email.message.Message,
        url: str,
        body: http.client.HTTPResponse | _FileSlice,
        host: str,
        release: Callable[[bool], None],
    ) -> None:
        self.status = status
        self.headers = headers
        self.url = url
        self._body = body
        self._host = host
        self._release = release

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "") or ""

    def read(self, amount: int | None = None) -> bytes:
        """The body's next `amount` bytes (all of it by default). NetworkFailure when it breaks off."""
        try:
            return self._body.read(amount)
        except (OSError, http.client.HTTPException) as error:
            raise NetworkFailure(self._host, _reason(error)) from None

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *_: object) -> None:
        finished = self._body.isclosed() if isinstance(self._body, http.client.HTTPResponse) else True
        if not isinstance(self._body, http.client.HTTPResponse):
            self._body.close()
        self._release(finished)


_ConnectionKey = tuple[str, str, int, str]  # scheme, host, port, proxy ("" for none)


@dataclass(frozen=True)
class _Sent:
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True)
class _Target:
    url: str  # without credentials or fragment
    authorization: str | None  # a Basic header built from the URL's user:password, never printed


def _split_credentials(url: str) -> _Target:
    parts = urllib.parse.urlsplit(url)
    authorization = None
    if parts.username is not None or parts.password is not None:
        authorization = _basic(parts.username or "", parts.password or "")
        parts = parts._replace(netloc=_host_port(parts))
    return _Target(urllib.parse.urlunsplit(parts._replace(fragment="")), authorization)


def _basic(user: str, password: str) -> str:
    credentials = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


class Client:
    """Requests over keep-alive connections; use it as a context manager (or `close`).

    `sleep` waits between attempts (a test passes a recorder to check the policy without waiting).
    """

    def __init__(
        self, *, timeout: float = TIMEOUT_SECONDS, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.timeout = timeout
        self._sleep = sleep
        self._local = threading.local()
        self._proxies = urllib.request.getproxies()
        self._opened: list[http.client.HTTPConnection] = []  # every thread's, to close at the end
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()

    # --- the public requests ---

    def get(self, url: str, *, accept: str | None = None, shown: str | None = None) -> Fetched:
        """GET the whole of `url`. `shown`: what messages name instead of the URL (the index the user
        configured, say); it is redacted too."""
        with self.open(url, accept=accept, shown=shown) as response:
            return Fetched(response.read(), response.content_type, response.url)

    def read_range(self, url: str, start: int, end: int, *, shown: str | None = None) -> bytes:
        """Bytes [start, end) of the file at `url`; HttpFailure when the server does not serve ranges."""
        if end <= start:
            return b""
        name = redact(shown or url)
        with self.open(url, byte_range=f"bytes={start}-{end - 1}", shown=shown) as response:
            if response.status != 206:
                raise HttpFailure(f"{name} stopped serving byte ranges", response.status)
            data = response.read()
        if len(data) != end - start:
            raise HttpFailure(f"{name} sent {len(data)} bytes for a range of {end - start}")
        return data

    def send_json(
        self,
        method: str,
        url: str,
        payload: object | None = None,
        *,
        authorization: str | None = None,
        accept: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[object, Response]:
        """Send `payload` as JSON (none for a GET) and return the decoded answer with its response
        (read: its headers, its status). `authorization` is the whole header value ("Bearer ..."), sent
        to the URL's host only, and never part of a message."""
        body = json.dumps(payload).encode() if payload is not None else None
        with self.open(
            url, method=method, accept=accept, body=body, authorization=authorization, headers=headers
        ) as response:
            data = response.read()
        if not data.strip():
            return None, response
        try:
            return json.loads(data), response
        except ValueError:
            raise HttpFailure(f"{redact(url)} did not answer JSON", response.status) from None

    def size(self, url: str, *, shown: str | None = None) -> int | None:
        """The size of the file at `url` without downloading it: HEAD's Content-Length, else the total
        of a one-byte range's Content-Range. None when the server tells neither, or for a file:// URL
        whose file cannot be read."""
        path = local_path(url)
        if path is not None:
            try:
                return path.stat().st_size
            except OSError:
                return None
        try:
            with self.open(url, method="HEAD", shown=shown) as response:
                length = response.headers.get("Content-Length")
                if response.status == 200 and length and length.isdigit():
                    return int(length)
        except HttpFailure:
            pass  # some servers refuse HEAD (405): one byte of the file tells the size too
        with self.open(url, byte_range="bytes=0-0", shown=shown) as response:
            total = (response.headers.get("Content-Range") or "").rpartition("/")[2]
            length = response.headers.get("Content-Length")
            response.read()
            if response.status == 206 and total.isdigit():
                return int(total)
            return int(length) if response.status == 200 and length and length.isdigit() else None

    def open(
        self,
        url: str,
        *,
        method: str = "GET",
        byte_range: str | None = None,
        accept: str | None = None,
        shown: str | None = None,
        body: bytes | None = None,
        authorization: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request (retried as the policy says) and return the answer with its body unread.

        Any status below 400 comes back (a 200 where a range was asked means the server ignores
        ranges). NotFound, HttpFailure or NetworkFailure otherwise. `body` goes as JSON;
        `authorization` replaces the URL's own credentials; `headers` are added to every request's.
        """
        name = redact(shown or url)
        sent = _request_headers(accept, byte_range, body) | (headers or {})
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme == "file":
            return _open_file(url, method, byte_range, name)
        if scheme not in ("http", "https"):
            raise NetError(f"unsupported URL scheme {scheme!r}")  # a VCS URL (git+https) names its host
        target = _split_credentials(url)
        if authorization is not None:
            target = _Target(target.url, authorization)
        attempts = 1 if method == "POST" else ATTEMPTS
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            delay = BACKOFF_SECONDS * 2**attempt
            try:
                answer, key, final_url = self._follow(target, method, _Sent(sent, body), name)
            except NetworkFailure:
                if last:
                    raise
                self._sleep(delay)
                continue
            if answer.status in _TRANSIENT_STATUS and not last:
                self._drain(answer, key)
                self._sleep(max(delay, _retry_after(answer.getheader("Retry-After"))))
                continue
            if answer.status >= 400:
                self._drain(answer, key)
                raise _status_failure(answer, name)
            if method == "HEAD":
                answer.read()  # nothing to read: marks the answer done, so the connection is reused
            return self._response(answer, key, final_url)
        raise AssertionError("unreachable")

    def _response(self, answer: http.client.HTTPResponse, key: _ConnectionKey, final_url: str) -> Response:
        """The answer handed to the caller: its connection is dropped unless the body is read to the end."""

        def release(finished: bool) -> None:
            if not finished:
                self._discard(key)

        return Response(answer.status, answer.headers, final_url, answer, host_of(final_url), release)

    # --- connections ---

    def _follow(
        self, target: _Target, method: str, request: _Sent, name: str
    ) -> tuple[http.client.HTTPResponse, _ConnectionKey, str]:
        """Send the request and follow redirects; credentials stay with the host they were written for."""
        url, authorization = target.url, target.authorization
        for _ in range(MAX_REDIRECTS + 1):
            headers = request.headers
            sent = dict(headers, Authorization=authorization) if authorization else headers
            answer, key = self._send(method, url, _Sent(sent, request.body), name)
            location = answer.getheader("Location")
            if answer.status not in _REDIRECTS or not location:
                return answer, key, url
            self._drain(answer, key)
            following = _split_credentials(urllib.parse.urljoin(url, location)).url
            downgraded = url.startswith("https:") and not following.startswith("https:")
            if host_of(following) != host_of(url) or downgraded:
                authorization = None
            url = following
        raise HttpFailure(f"more than {MAX_REDIRECTS} redirects from {name}")

    def _send(
        self, method: str, url: str, request: _Sent, name: str
    ) -> tuple[http.client.HTTPResponse, _ConnectionKey]:
        """One request on the thread's connection to the URL's host, on a new one if that one went stale
        (a server may close an idle keep-alive connection at any time: that is no failure)."""
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise NetError(f"redirected to an unsupported URL scheme {scheme!r}")
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = self._proxy_for(scheme, host)
        key = (scheme, host, port, proxy)
        request_headers = {"Host": _host_port(parts), **request.headers}
        if proxy and scheme == "http":
            path = url  # a plain-HTTP proxy takes the absolute URL; an https one gets a CONNECT tunnel
            proxy_authorization = _proxy_authorization(proxy)
            if proxy_authorization:
                request_headers["Proxy-Authorization"] = proxy_authorization
        else:
            path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        for fresh in (False, True):
            reused = key in self._pool()
            connection = self._connection(key)
            try:
                connection.request(method, path, body=request.body, headers=request_headers)
                return connection.getresponse(), key
            except _STALE_CONNECTION as error:
                self._discard(key)
                if fresh or not reused:
                    raise NetworkFailure(host_of(url), _reason(error), name) from None
            except (OSError, http.client.HTTPException) as error:
                self._discard(key)
                raise NetworkFailure(host_of(url), _reason(error), name) from None
            except BaseException:
                self._discard(key)
                raise
        raise AssertionError("unreachable")

    def _pool(self) -> dict[_ConnectionKey, http.client.HTTPConnection]:
        pool: dict[_ConnectionKey, http.client.HTTPConnection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = {}
            self._local.pool = pool
        return pool

    def _proxy_for(self, scheme: str, host: str) -> str:
        proxy = self._proxies.get(scheme, "")
        return "" if not proxy or urllib.request.proxy_bypass(host) else proxy

    def _tls_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                self._tls = ssl.create_default_context()  # reads every CA certificate: once
            return self._tls

    def _connection(self, key: _ConnectionKey) -> http.client.HTTPConnection:
        pool = self._pool()
        pooled = pool.get(key)
        if pooled is not None:
            return pooled
        scheme, host, port, proxy = key
        connection: http.client.HTTPConnection
        if proxy:
            parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            address, address_port = parts.hostname or "", parts.port or 8080
        else:
            address, address_port = host, port
        if scheme == "https":
            secure = http.client.HTTPSConnection(
                address, address_port, timeout=self.timeout, context=self._tls_context()
            )
            if proxy:
                tunnel_headers = {}
                proxy_authorization = _proxy_authorization(proxy)
                if proxy_authorization:
                    tunnel_headers["Proxy-Authorization"] = proxy_authorization
                secure.set_tunnel(host, port, headers=tunnel_headers)
            connection = secure
        else:
            connection = http.client.HTTPConnection(address, address_port, timeout=self.timeout)
        pool[key] = connection
        with self._lock:
            self._opened.append(connection)
        return connection

    def _discard(self, key: _ConnectionKey) -> None:
        connection = self._pool().pop(key, None)
        if connection is not None:
            connection.close()

    def _drain(self, answer: http.client.HTTPResponse, key: _ConnectionKey) -> None:
        """Read a short answer we do not use, so its connection can serve the next request."""
        try:
            answer.read()
        except (OSError, http.client.HTTPException):
            self._discard(key)


def _proxy_authorization(proxy: str) -> str | None:
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.username is None:
        return None
    return _basic(parts.username, parts.password or "")


def _retry_after(value: str | None) -> float:
    """Seconds a Retry-After header asks for (its date form is ignored), capped."""
    if value and value.strip().isdigit():
        return min(float(value.strip()), MAX_RETRY_AFTER_SECONDS)
    return 0.0


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason) or type(reason).__name__
    return text.splitlines()[0] if text else type(error).__name__


# --- file:// URLs ---------------------------------------------------------------------------------


def _open_file(url: str, method: str, byte_range: str | None, name: str) -> Response:
    if url.endswith("/"):
        url += "index.html"  # a PEP 503 tree on disk, as pip and uv read it
    path = local_path(url)
    assert path is not None
    try:
        handle = path.open("rb")
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"{name}: not found") from None
    except OSError as error:
        raise NetError(f"cannot read {name}: {error.strerror or error}") from None
    size = os.fstat(handle.fileno()).st_size
    headers = email.message.Message()
    headers["Content-Type"] = mimetypes.guess_type(path.name)[0] or "text/plain"
    status, start, end = 200, 0, size
    match = _BYTE_RANGE.match(byte_range.strip()) if byte_range else None
    if match and match.group(1) + match.group(2):
        first, last = match.groups()
        if first == "":
            start = max(0, size - int(last))
        else:
            start, end = int(first), size if last == "" else min(size, int(last) + 1)
        if start >= end:
            handle.close()
            raise HttpFailure(f"{name}: the range {byte_range} is outside the file", 416)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    handle.seek(start)
    body = _FileSlice(handle, end - start if method != "HEAD" else 0)
    return Response(status, headers, url, body, "localhost", lambda finished: None)


class _FileSlice:
    """`length` bytes of an open file, from where it stands: the body of a file:// answer."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self._handle = handle
        self._left = length

    def read(self, amount: int | None = None) -> bytes:
        wanted = self._left if amount is None else min(amount, self._left)
        data = self._handle.read(wanted)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def _request_headers(accept: str | None, byte_range: str | None, body: bytes | None = None) -> dict[str, str]:
    """The headers of every request, plus the Accept and Range the caller asked for, and the JSON body's."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if body is not None:
        headers |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if accept:
        headers["Accept"] = accept
    if byte_range is not None:
        headers["Range"] = byte_range
    return headers


def _status_failure(answer: http.client.HTTPResponse, name: str) -> NetError:
    """The error for an answer of 400 or more: NotFound for a missing file, HttpFailure otherwise."""
    if answer.status in _NOT_FOUND:
        return NotFound(f"HTTP {answer.status} from {name}")
    return HttpFailure(f"HTTP {answer.status} from {name}", answer.status, answer.reason)
