"""The one small transport interface (after Django's mail backends), and the factory choosing one by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Outcome, Transport, TransportPaused, Verdict

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Outcome", "Transport", "TransportPaused", "Verdict", "make_transport"]


def make_transport(settings: Settings) -> Transport:
    """The transport named by ``settings.delivery.transport``: smtp, capture, file, console or memory."""
    name = settings.delivery.transport
    if name == "smtp":
        from .smtp import SmtpTransport

        return SmtpTransport.from_settings(settings)
    if name == "capture":
        from .capture import CaptureTransport

        return CaptureTransport(settings.delivery.outbox)
    if name == "file":
        from .file import FileTransport

        return FileTransport(settings.delivery.outbox)
    if name == "console":
        from .console import ConsoleTransport

        return ConsoleTransport()
    if name == "memory":
        from .memory import MemoryTransport

        return MemoryTransport()
    raise ValueError(f"unknown transport {name!r}")  # config.py rejects it first
