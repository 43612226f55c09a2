"""Running the public unsubscribe app under uvicorn, so that every answer carries the security headers.

The app's own answers get them from :class:`~.unsubscribe.SecurityHeaders`. Two answers come from the server
layer instead, and get them here: uvicorn's 400 to a request it cannot parse (:class:`HeaderedH11Protocol`),
and the 503 past :data:`MAX_REQUESTS` requests in hand (:class:`RequestLimit`), sent at once with
``Retry-After`` (uvicorn's own ``limit_concurrency`` is not used: its 503 has neither).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import h11
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from solidarity_mailer.web.unsubscribe import SECURITY_HEADERS, create_app

#: Requests in hand at once (a one-click POST takes milliseconds); past this, 503 at once.
MAX_REQUESTS = 200
RETRY_AFTER_SECONDS = 5
_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class RequestLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in hand; past that, 503 with ``Retry-After`` at once."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUESTS) -> None:
        self.app = app
        self.limit = limit
        self.active = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            await self._busy(send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    @staticmethod
    async def _busy(send: Send) -> None:
        body = b"503 busy: try again in a few seconds\n"
        headers = [*_HEADERS, (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"connection", b"close"),
                   (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class HeaderedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, whose own 400 (a request it cannot parse) carries the headers too."""

    def send_400_response(self, msg: str) -> None:  # uvicorn's, plus _HEADERS
        headers = [*_HEADERS, (b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
        self.transport.write(self.conn.send(h11.Data(data=msg.encode("ascii"))))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


def serve(host: str, port: int, *, engine: Engine, secret: bytes, names: Mapping[str, str]) -> None:
    """Run the app under uvicorn until interrupted. No access log: request paths carry tokens."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    app = RequestLimit(create_app(engine, secret, names))
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False, log_level="info",
                timeout_keep_alive=5, use_colors=False, http=HeaderedH11Protocol, ws="none")
