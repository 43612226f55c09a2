"""The capture transport: an embedded aiosmtpd server on 127.0.0.1 that stores what it receives as ``.eml``.

:class:`CaptureServer` runs on its own (``solidarity-mailer catch``, ``demo``); :class:`CaptureTransport`
starts one on a free port and talks real SMTP to it, so the whole sending path is exercised.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ports import check_bindable, free_port
from solidarity_mailer.transports.base import Outcome
from solidarity_mailer.transports.outbox import write_eml
from solidarity_mailer.transports.smtp import SmtpTransport

log = logging.getLogger(__name__)

#: Called in the server thread after a message is stored: (path, mail_from, rcpt_tos).
OnMessage = Callable[[Path, str, list[str]], None]


def _start(controller: Controller) -> None:
    """Start ``controller``; on failure close its event loop too (aiosmtpd leaves it open)."""
    try:
        controller.start()
    except BaseException:
        controller.stop(no_assert=True)
        controller.loop.close()
        raise


class _StoreHandler:
    def __init__(self, outbox: Path, on_message: OnMessage | None) -> None:
        self.outbox, self.on_message = outbox, on_message
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        mail_from, rcpts = str(envelope.mail_from or ""), [str(r) for r in envelope.rcpt_tos]
        try:
            path = write_eml(self.outbox, mail_from, rcpts, data)
        except OSError as exc:
            return f"451 4.3.0 cannot store the message: {exc.strerror}"
        self.count += 1
        if self.on_message is not None:
            try:
                self.on_message(path, mail_from, rcpts)
            except Exception:  # the message is stored: a failing observer must not make the client resend it
                log.exception("on_message failed for %s", path)
        return f"250 2.0.0 stored as {path.name}"


class CaptureServer:
    """An SMTP server on ``host:port`` (a free port when ``port`` is 0) storing mail in ``outbox``.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``count`` is the number stored.
    """

    def __init__(
        self, outbox: Path, *, host: str = "127.0.0.1", port: int = 0, on_message: OnMessage | None = None
    ) -> None:
        self.outbox, self.host, self.port = Path(outbox), host, port
        self._handler = _StoreHandler(self.outbox, on_message)
        self._controller: Controller | None = None

    @property
    def count(self) -> int:
        return self._handler.count

    def start(self) -> CaptureServer:
        """Listen; a port already in use is a :class:`MailerError`."""
        if self._controller is not None:
            return self
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailerError(f"cannot create the outbox folder: {exc.strerror}", where=self.outbox,
                              hint="choose another with --outbox") from None
        for _attempt in range(5):
            port = self.port or free_port(self.host)
            try:
                check_bindable(self.host, port)
                controller = Controller(self._handler, hostname=self.host, port=port, enable_SMTPUTF8=True,
                                        decode_data=False, ident="solidarity-mailer capture")
                _start(controller)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE and not self.port:
                    continue  # lost a race for the free port: pick another
                raise MailerError(f"cannot listen on {self.host}:{port}: {exc.strerror}",
                                  hint="choose another --port") from None
            self._controller, self.port = controller, port
            return self
        raise MailerError(f"no free port on {self.host}")  # pragma: no cover

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class CaptureTransport:
    """Starts a :class:`CaptureServer` on open and delivers to it over SMTP; stops it on close."""

    def __init__(self, outbox: Path) -> None:
        self.server = CaptureServer(outbox)
        self._smtp: SmtpTransport | None = None

    def open(self) -> None:
        if self._smtp is None:
            self.server.start()
            self._smtp = SmtpTransport(self.server.host, self.server.port, timeout=10.0)
        self._smtp.open()

    def send(
        self, mail_from: str, rcpt_tos: Sequence[str], data: bytes, *, smtputf8: bool = False,
        crlf_only: bool = False, wire: bytes | None = None,
    ) -> dict[str, Outcome]:
        self.open()
        assert self._smtp is not None
        return self._smtp.send(mail_from, rcpt_tos, data, smtputf8=smtputf8, crlf_only=crlf_only, wire=wire)

    def close(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None
        self.server.stop()
