"""Before a server starts: is the port free? One clear line instead of a traceback from deep inside."""

from __future__ import annotations

import errno

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ports import check_bindable


def check_port(host: str, port: int) -> None:
    """Raise :class:`MailerError` when ``host:port`` cannot be bound (in use, no permission…)."""
    try:
        check_bindable(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise MailerError(f"port {port} on {host} is in use", hint="choose another with --port") from None
        raise MailerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
