"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, with injectable replies."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One accepted transaction."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class RecordingHandler:
    """Accepts mail and records it; replies can be injected per recipient or per DATA.

    ``rcpt_replies[address]`` is a list of replies handed out in turn ("451 4.3.0 try later", …);
    when it runs out the recipient is accepted. ``mail_replies`` likewise for MAIL FROM, and
    ``data_replies`` for the end of DATA.
    ``on_data`` may be set to a callable run at the end of DATA (e.g. to drop the connection);
    ``vanish_at_rcpt`` names addresses at whose RCPT the server drops the connection (once each).
    ``pipelining`` advertises PIPELINING (RFC 2920) in the EHLO reply, as Postfix, Exim and the large
    providers do (aiosmtpd reads pipelined commands in order but does not say so by itself).
    """

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    mail_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    on_data: Callable[[SMTP, Session, Envelope], str | None] | None = None
    vanish_at_rcpt: set[str] = field(default_factory=set)  # addresses at whose RCPT the connection drops, once
    dropped_at_rcpt: list[str] = field(default_factory=list)  # the addresses it dropped at, in order
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipelining: bool = True

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # this hook's duty (aiosmtpd's 5-argument form)
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")  # before the last line, "250 HELP"
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        with self.lock:
            if self.mail_replies:
                return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.vanish_at_rcpt:
            self.vanish_at_rcpt.discard(address.lower())  # once: the retry finds the server well again
            self.dropped_at_rcpt.append(address)
            assert server.transport is not None
            server.transport.abort()  # the connection drops in the middle of RCPT, before any reply
        with self.lock:
            queue = self.rcpt_replies.get(address.lower())
            if queue:
                return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.on_data is not None:
            reply = self.on_data(server, session, envelope)
            if reply:
                return reply
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            content = envelope.original_content or envelope.content
            assert isinstance(content, bytes)
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 2.0.0 OK queued"

    def recipients(self) -> list[str]:
        """Every recipient of every accepted message, in order (duplicates kept)."""
        with self.lock:
            return [r for msg in self.received for r in msg.rcpt_tos]


@contextmanager
def smtp_server(
    handler: RecordingHandler | None = None, *, port: int | None = None, **kwargs: object
) -> Iterator[tuple[Controller, RecordingHandler]]:
    """Run aiosmtpd on 127.0.0.1 for the duration of the block, on ``port`` (chosen beforehand: a relay that
    comes back where it was) or a free one."""
    handler = handler or RecordingHandler()
    kwargs.setdefault("enable_SMTPUTF8", True)
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), decode_data=False, **kwargs)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def drop_connection(server: SMTP, session: Session, envelope: Envelope) -> str | None:
    """An ``on_data`` hook: the server vanishes after the final dot, before its reply."""
    assert server.transport is not None
    server.transport.abort()
    return "250 2.0.0 never seen"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (openssl CLI): (certfile, keyfile)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side of TLS for aiosmtpd (STARTTLS via ``tls_context``, SMTPS via ``ssl_context``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Credentials:
    """An aiosmtpd ``authenticator`` accepting one login/password pair (PLAIN and LOGIN)."""

    login: str
    password: str
    attempts: int = 0

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        self.attempts += 1
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.login.encode(), self.password.encode()
        )
        return AuthResult(success=ok, handled=False)
