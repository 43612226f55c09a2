"""What a returned message was read as: its kind, per-recipient statuses and what it quotes of our message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a returned message is."""

    HARD = "hard"  # permanent failure (5.x.x)
    SOFT = "soft"  # transient failure or delay (4.x.x)
    AUTOREPLY = "autoreply"  # out-of-office and other RFC 3834 auto-responses
    OTHER = "other"  # not a bounce (a human reply, a "delivered" DSN…)
    UNPARSEABLE = "unparseable"  # looks like a bounce, or is not mail, but yields no status


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient verdict of a bounce."""

    address: str  # the recipient we addressed (Original-Recipient, else Final-Recipient), lower-cased; "" unknown
    status: str  # enhanced status code "5.1.1"
    action: str = "failed"  # RFC 3464 Action: failed | delayed | delivered | relayed | expanded
    diagnostic: str = ""


@dataclass(frozen=True)
class Parsed:
    """The reading of one message."""

    kind: Kind
    key: str  # the message's own Message-ID, or "sha256:…" of its bytes when it has none
    statuses: tuple[RecipientStatus, ...] = ()
    original_message_ids: tuple[str, ...] = ()  # without angle brackets
    delivered_to: tuple[str, ...] = ()  # Delivered-To, X-Original-To, Envelope-To, To (VERP lives here)
    subject: str = ""
    reason: str = ""  # why it is UNPARSEABLE or OTHER

    @property
    def worst(self) -> RecipientStatus | None:
        """The failure that decides the outcome: a permanent one first, else the first transient one."""
        failing = [s for s in self.statuses if s.status[:1] in "45"]
        failing.sort(key=lambda s: s.status[:1] != "5")
        return failing[0] if failing else None
