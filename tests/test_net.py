"""The one HTTP client against real loopback servers: the index, a redirecting host, a forwarding proxy."""

from __future__ import annotations

import base64
import http.client
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from indexserver import IndexServer, serve_index
from wheelfactory import build_wheel

from slugprof import __version__
from slugprof.net import (
    ATTEMPTS,
    Client,
    HttpFailure,
    NetError,
    NetworkFailure,
    NotFound,
    redact,
)

WHEEL = "demo-1.0-py3-none-any.whl"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    folder = tmp_path / "index"
    build_wheel(folder, "demo", "1.0", files={"demo/__init__.py": "VALUE = 1\n" * 500})
    with serve_index(folder) as served:
        yield served


class Sleeps(list[float]):
    """Records the waits between attempts instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


# --- connections ---------------------------------------------------------------------------------


def test_requests_to_one_host_reuse_one_connection(index: IndexServer, no_proxy_variables: None) -> None:
    with Client() as client:
        client.get(index.url)
        client.get(f"{index.url}demo/")
        client.read_range(index.file_url(WHEEL), 0, 10)
        client.size(index.file_url(WHEEL))  # HEAD: no body, the connection stays usable
        client.get(index.url)
    assert index.count() == 5
    assert index.connections == 1
    with Client() as other:  # another client, another connection
        other.get(index.url)
    assert index.connections == 2


def test_an_answer_left_unread_does_not_spoil_the_next_request(
    index: IndexServer, no_proxy_variables: None
) -> None:
    data = (index.folder / WHEEL).read_bytes()
    with Client() as client:
        with client.open(index.file_url(WHEEL)) as response:
            assert response.read(4) == data[:4]
        assert client.get(index.file_url(WHEEL)).body == data
    assert index.connections == 2  # the half-read connection was dropped, not reused


def test_every_request_says_who_it_is(index: IndexServer, no_proxy_variables: None) -> None:
    with Client() as client:
        client.get(index.url)
        client.size(index.file_url(WHEEL))
    assert index.header_values("User-Agent") == [f"slugprof/{__version__}"] * 2


# --- retries -------------------------------------------------------------------------------------


def test_a_503_then_success_is_retried_after_a_backoff(
    index: IndexServer, sleeps: Sleeps, no_proxy_variables: None
) -> None:
    index.fail(503)
    with Client(sleep=sleeps) as client:
        page = client.get(f"{index.url}demo/")
    assert WHEEL in page.body.decode()
    assert index.count() == 2
    assert sleeps == [0.25]


def test_a_429_waits_as_long_as_retry_after_asks(
    index: IndexServer, sleeps: Sleeps, no_proxy_variables: None
) -> None:
    index.fail(429, retry_after="3")
    with Client(sleep=sleeps) as client:
        client.get(index.url)
    assert sleeps == [3.0]


def test_a_server_that_keeps_failing_is_one_http_failure_after_every_attempt(
    index: IndexServer, sleeps: Sleeps, no_proxy_variables: None
) -> None:
    index.fail(502, times=10)
    with Client(sleep=sleeps) as client, pytest.raises(HttpFailure) as raised:
        client.get(index.url)
    assert raised.value.status == 502
    assert str(raised.value) == f"HTTP 502 from {index.url}"
    assert raised.value.reason == "Bad Gateway"
    assert index.count() == ATTEMPTS
    assert sleeps == [0.25, 0.5, 1.0]


def test_a_404_is_an_answer_not_retried(index: IndexServer, sleeps: Sleeps, no_proxy_variables: None) -> None:
    with Client(sleep=sleeps) as client, pytest.raises(NotFound, match=r"^HTTP 404 from "):
        client.get(f"{index.url}no-such-project/")
    assert index.count() == 1
    assert sleeps == []


def test_a_host_that_refuses_connections_is_retried_then_a_network_failure(
    sleeps: Sleeps, no_proxy_variables: None
) -> None:
    port = free_port()
    with Client(sleep=sleeps) as client, pytest.raises(NetworkFailure) as raised:
        client.get(f"http://127.0.0.1:{port}/simple/")
    assert raised.value.host == f"127.0.0.1:{port}"
    assert str(raised.value).startswith(f"cannot reach http://127.0.0.1:{port}/simple/: ")
    assert sleeps == [0.25, 0.5, 1.0]


# --- credentials ----------------------------------------------------------------------------------


def test_credentials_go_in_a_header_and_never_into_a_message(
    index: IndexServer, sleeps: Sleeps, no_proxy_variables: None
) -> None:
    port = urlsplit(index.url).port
    secret_url = f"http://alice:s3cret@127.0.0.1:{port}/simple/"
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    with Client(sleep=sleeps) as client:
        client.get(secret_url)
        assert index.header_values("Authorization") == [expected]
        with pytest.raises(NotFound) as missing:
            client.get(f"{secret_url}no-such-project/")
        index.fail(500, times=ATTEMPTS)
        with pytest.raises(HttpFailure) as failing:
            client.get(secret_url)
        with pytest.raises(NetworkFailure) as unreachable:
            client.get(f"http://alice:s3cret@127.0.0.1:{free_port()}/simple/")
    for error in (missing.value, failing.value, unreachable.value):
        assert "s3cret" not in str(error)
        assert "alice:***@127.0.0.1:" in str(error)


def test_a_token_alone_is_hidden_too() -> None:
    assert redact("https://tok3n@example.invalid/simple/") == "https://***@example.invalid/simple/"
    assert redact("https://u:p%40ss@example.invalid:8443/x") == "https://u:***@example.invalid:8443/x"
    assert redact("https://example.invalid/simple/") == "https://example.invalid/simple/"


class _Redirector(http.server.BaseHTTPRequestHandler):
    """Answers every request with a 302 to the URL in the server's `location`."""

    server: _RedirectServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.authorizations.append(self.headers.get("Authorization"))
        self.send_response(302)
        self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


class _RedirectServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    location = ""
    authorizations: list[str | None]


def test_a_redirect_keeps_credentials_on_their_host_only(
    index: IndexServer, no_proxy_variables: None
) -> None:
    port = urlsplit(index.url).port
    data = (index.folder / WHEEL).read_bytes()
    redirector = _RedirectServer(("127.0.0.1", 0), _Redirector)
    redirector.location = index.file_url(WHEEL)
    redirector.authorizations = []
    thread = threading.Thread(target=redirector.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        with Client() as client:
            same_host = client.get(f"http://alice:s3cret@127.0.0.1:{port}/moved/{WHEEL}")
            other_host = client.get(f"http://bob:hunter2@127.0.0.1:{redirector.server_address[1]}/x")
    finally:
        redirector.shutdown()
        redirector.server_close()
    assert same_host.body == data and other_host.body == data
    assert same_host.url == index.file_url(WHEEL)
    assert redirector.authorizations == ["Basic " + base64.b64encode(b"bob:hunter2").decode()]
    alice = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert index.header_values("Authorization") == [alice, alice, None]  # /moved/, /files/, bob's hop


# --- ranges, sizes and file:// --------------------------------------------------------------------


def test_a_range_request_gets_those_bytes(index: IndexServer, no_proxy_variables: None) -> None:
    data = (index.folder / WHEEL).read_bytes()
    with Client() as client:
        assert client.read_range(index.file_url(WHEEL), 10, 30) == data[10:30]
        with client.open(index.file_url(WHEEL), byte_range="bytes=-100") as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes {len(data) - 100}-{len(data) - 1}/{len(data)}"
            assert response.read() == data[-100:]
        index.ranges = False
        with pytest.raises(HttpFailure, match="stopped serving byte ranges"):
            client.read_range(index.file_url(WHEEL), 10, 30)
    assert index.header_values("Range") == ["bytes=10-29", "bytes=-100", "bytes=10-29"]


class _RangeOnly(http.server.BaseHTTPRequestHandler):
    """Refuses HEAD, serves one-byte ranges of a 5000-byte file."""

    def do_HEAD(self) -> None:
        self.send_response(405)
        self.end_headers()

    def do_GET(self) -> None:
        if self.headers.get("Range") == "bytes=0-0":
            self.send_response(206)
            self.send_header("Content-Range", "bytes 0-0/5000")
            self.send_header("Content-Length", "1")
            self.end_headers()
            self.wfile.write(b"P")
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_a_size_from_head_or_from_a_one_byte_range(
    index: IndexServer, tmp_path: Path, no_proxy_variables: None
) -> None:
    range_only = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeOnly)
    thread = threading.Thread(target=range_only.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    (tmp_path / "w.whl").write_bytes(b"x" * 1234)
    try:
        with Client() as client:
            assert client.size(index.file_url(WHEEL)) == (index.folder / WHEEL).stat().st_size
            assert client.size(f"http://127.0.0.1:{range_only.server_address[1]}/w.whl") == 5000
            assert client.size((tmp_path / "w.whl").as_uri()) == 1234
            with pytest.raises(NotFound):
                client.size(index.file_url("gone-1.0-py3-none-any.whl"))
            assert client.size((tmp_path / "gone.whl").as_uri()) is None
    finally:
        range_only.shutdown()
        range_only.server_close()


def test_file_urls_read_from_disk_with_ranges_and_folder_pages(tmp_path: Path) -> None:
    (tmp_path / "simple" / "demo").mkdir(parents=True)
    (tmp_path / "simple" / "demo" / "index.html").write_text('<a href="x.whl">x.whl</a>')
    (tmp_path / "x.whl").write_bytes(bytes(range(200)))
    with Client() as client:
        page = client.get((tmp_path / "simple" / "demo").as_uri() + "/")
        assert page.body == b'<a href="x.whl">x.whl</a>' and page.content_type == "text/html"
        assert client.read_range((tmp_path / "x.whl").as_uri(), 5, 9) == bytes(range(5, 9))
        with client.open((tmp_path / "x.whl").as_uri(), byte_range="bytes=-3") as response:
            assert (response.status, response.read()) == (206, bytes([197, 198, 199]))
        with pytest.raises(NotFound):
            client.get((tmp_path / "simple" / "nothing").as_uri() + "/")


def test_a_url_of_another_scheme_is_a_net_error() -> None:
    with Client() as client, pytest.raises(NetError, match=r"^unsupported URL scheme 'git\+https'$"):
        client.get("git+https://example.invalid/repo@abc")


# --- proxies --------------------------------------------------------------------------------------


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forwarding HTTP proxy: notes each absolute URL asked for, then relays it to its host."""

    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        parts = urlsplit(self.path)
        upstream = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
        headers = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        upstream.request("GET", parts.path or "/", headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        upstream.close()
        self.send_response(answer.status)
        for name in ("Content-Type", "Content-Range", "Location"):
            if answer.getheader(name):
                self.send_header(name, answer.getheader(name) or "")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, str | None]]


@pytest.fixture
def proxy() -> Iterator[_ProxyServer]:
    server = _ProxyServer(("127.0.0.1", 0), _Proxy)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_proxy_variable_sends_requests_through_that_proxy(
    index: IndexServer, proxy: _ProxyServer, no_proxy_variables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://carol:pr0xy@127.0.0.1:{proxy.server_address[1]}")
    with Client() as client:
        page = client.get(f"{index.url}demo/")
    assert WHEEL in page.body.decode()
    credentials = "Basic " + base64.b64encode(b"carol:pr0xy").decode()
    assert proxy.seen == [(f"{index.url}demo/", credentials)]
    assert index.count("/simple/demo/") == 1  # relayed
    assert index.header_values("Proxy-Authorization") == [None]  # the proxy's, not forwarded


def test_no_proxy_sends_those_hosts_direct(
    index: IndexServer, proxy: _ProxyServer, no_proxy_variables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    with Client() as client:
        client.get(index.url)
    assert proxy.seen == []
    assert index.count() == 1
