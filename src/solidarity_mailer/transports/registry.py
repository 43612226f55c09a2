"""The one small registry of transports (after Django's mail backends): a backend name, a factory.

``[delivery] transport`` names the backend, as a short name or a URL (``smtp://``, ``smtps://``,
``capture://DIR``, ``file://DIR``, ``console:``, ``memory:``); the settings loader reads the URL's host,
port or folder into ``[smtp]`` and ``[delivery] outbox`` and leaves the backend's name in
``settings.delivery.transport``. Each factory imports its module only when chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from solidarity_mailer.errors import MailerError
from solidarity_mailer.transports.base import Transport

if TYPE_CHECKING:
    from solidarity_mailer.config import Settings

TransportFactory = Callable[["Settings"], Transport]


def _smtp(settings: Settings) -> Transport:
    from solidarity_mailer.transports.smtp import SmtpTransport

    return SmtpTransport.from_settings(settings)


def _capture(settings: Settings) -> Transport:
    from solidarity_mailer.transports.capture import CaptureTransport

    return CaptureTransport(settings.delivery.outbox)


def _file(settings: Settings) -> Transport:
    from solidarity_mailer.transports.file import FileTransport

    return FileTransport(settings.delivery.outbox)


def _console(settings: Settings) -> Transport:
    from solidarity_mailer.transports.console import ConsoleTransport

    return ConsoleTransport()


def _memory(settings: Settings) -> Transport:
    from solidarity_mailer.transports.memory import MemoryTransport

    return MemoryTransport()


BACKENDS: dict[str, TransportFactory] = {
    "smtp": _smtp,  # smtp:// and smtps:// (security = "tls")
    "capture": _capture,
    "file": _file,
    "console": _console,
    "memory": _memory,
}


def make_transport(settings: Settings) -> Transport:
    """The transport ``settings.delivery.transport`` names; a :class:`MailerError` for an unknown name."""
    factory = BACKENDS.get(settings.delivery.transport)
    if factory is None:  # the loader refuses it first; this is for settings built in code
        raise MailerError(f"unknown transport {settings.delivery.transport!r}", where=settings.source,
                          hint="known: " + ", ".join(BACKENDS))
    return factory(settings)
