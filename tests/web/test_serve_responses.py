"""Every answer of `solidarity-mailer serve` carries the security headers, the server layer's own included
(a malformed request, an unknown path, a wrong method, a body too large), and past the limit of requests in
hand it answers 503 with Retry-After at once (issue 12, hole 11). Raw sockets against the real server."""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solidarity_mailer.compose.unsubscribe_tokens import make_token
from solidarity_mailer.web.server import MAX_REQUESTS
from solidarity_mailer.web.unsubscribe import MAX_BODY, SECURITY_HEADERS
from tests.webserver import WebServer, web_server

LIST_ID = "example.lists.example.org"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    with web_server(tmp_path_factory.mktemp("serve") / "web.db") as srv:
        yield srv


def connect(server: WebServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def exchange(server: WebServer, raw: bytes) -> tuple[http.client.HTTPResponse, float]:
    """Send ``raw`` on a new connection; the whole answer, and how long it took."""
    started = time.monotonic()
    with connect(server) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.read()
    return response, time.monotonic() - started


def missing_headers(response: http.client.HTTPResponse) -> list[str]:
    """The security headers the answer lacks (or carries with another value, or twice)."""
    return [name for name, value in SECURITY_HEADERS.items() if response.headers.get_all(name) != [value]]


def one_click(server: WebServer, address: str, length: int) -> bytes:
    """The head of a one-click POST announcing a body of ``length`` bytes."""
    token = make_token(server.secret, LIST_ID, address)
    return (f"POST /u/{token} HTTP/1.1\r\nHost: lists.example.org\r\nContent-Type: application/x-www-form-urlencoded"
            f"\r\nContent-Length: {length}\r\n\r\n").encode()


@pytest.mark.parametrize(("name", "request_bytes", "status"), [
    ("malformed request line", b"NOT AN HTTP REQUEST\r\n\r\n", 400),
    ("unknown path", b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404),
    ("wrong method", b"DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
])
def test_the_server_layers_answers_carry_the_headers(server: WebServer, name: str, request_bytes: bytes,
                                                     status: int) -> None:
    response, _ = exchange(server, request_bytes)
    assert response.status == status, name
    assert not missing_headers(response), f"{name}: {missing_headers(response)}"


def test_a_body_too_large_is_413_with_the_headers(server: WebServer) -> None:
    body = b"List-Unsubscribe=One-Click&" + b"x" * MAX_BODY
    declared, _ = exchange(server, one_click(server, "big@example.org", len(body)) + body)
    chunked_head = one_click(server, "big@example.org", 0).replace(b"Content-Length: 0",
                                                                   b"Transfer-Encoding: chunked")
    streamed, _ = exchange(server, chunked_head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    for response in (declared, streamed):
        assert response.status == 413
        assert not missing_headers(response), missing_headers(response)


def test_past_the_limit_it_answers_503_with_retry_after_at_once(server: WebServer, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        for i in range(MAX_REQUESTS):  # requests in hand: each waits for a body that does not come
            sock = stack.enter_context(connect(server))
            sock.sendall(one_click(server, f"held{i}@example.org", 26))
        time.sleep(0.5)  # let the server take them all in hand
        response, seconds = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert seconds < 2, f"answered after {seconds:.1f} s"
    assert not missing_headers(response), missing_headers(response)
    healthy, _ = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert healthy.status == 200  # the held requests are gone with their connections
