"""Before a server starts: is the port free? One clear line instead of a traceback from deep inside."""

from __future__ import annotations

import errno
import socket

from ..errors import MailerError


def check_port(host: str, port: int) -> None:
    """Raise :class:`MailerError` when ``host:port`` cannot be bound (in use, no permission…)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise MailerError(f"port {port} on {host} is in use", hint="choose another with --port") from None
            raise MailerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
