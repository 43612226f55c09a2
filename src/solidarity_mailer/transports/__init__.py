"""The one small transport interface (after Django's mail backends), and the factory choosing one by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solidarity_mailer.transports.base import Outcome, Transport, TransportPaused, Verdict

if TYPE_CHECKING:
    from solidarity_mailer.config import Settings

__all__ = ["Outcome", "Transport", "TransportPaused", "Verdict", "make_transport"]


def make_transport(settings: Settings) -> Transport:
    """The transport named by ``settings.delivery.transport``: smtp, capture, file, console or memory."""
    name = settings.delivery.transport
    if name == "smtp":
        from solidarity_mailer.transports.smtp import SmtpTransport

        return SmtpTransport.from_settings(settings)
    if name == "capture":
        from solidarity_mailer.transports.capture import CaptureTransport

        return CaptureTransport(settings.delivery.outbox)
    if name == "file":
        from solidarity_mailer.transports.file import FileTransport

        return FileTransport(settings.delivery.outbox)
    if name == "console":
        from solidarity_mailer.transports.console import ConsoleTransport

        return ConsoleTransport()
    if name == "memory":
        from solidarity_mailer.transports.memory import MemoryTransport

        return MemoryTransport()
    raise ValueError(f"unknown transport {name!r}")  # config.py rejects it first
