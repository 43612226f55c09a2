"""The one small transport interface (after Django's mail backends), and the registry choosing one by name.

Takes an envelope and a message's bytes; hands on one :class:`Outcome` per recipient (sent, deferred, failed,
uncertain) or :class:`TransportPaused`. Knows nothing of the ledger.
"""

from __future__ import annotations

from solidarity_mailer.transports.base import Outcome, Transport, TransportPaused, Verdict
from solidarity_mailer.transports.registry import BACKENDS, make_transport

__all__ = ["BACKENDS", "Outcome", "Transport", "TransportPaused", "Verdict", "make_transport"]
