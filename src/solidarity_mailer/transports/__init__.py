"""The one small transport interface (after Django's mail backends), and the registry choosing one by name."""

from __future__ import annotations

from solidarity_mailer.transports.base import Outcome, Transport, TransportPaused, Verdict
from solidarity_mailer.transports.registry import BACKENDS, make_transport

__all__ = ["BACKENDS", "Outcome", "Transport", "TransportPaused", "Verdict", "make_transport"]
