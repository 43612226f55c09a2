"""Which recipient a bounce is about, and only when the bounce proves it.

A bounce authenticates an address in one of two ways:

1. it was delivered to a signed VERP form of the configured bounce address (Delivered-To, X-Original-To,
   Envelope-To or To) whose tag verifies for that address and is at most ``max_age_days`` old
   (:mod:`solidarity_mailer.compose.verp`); an expired tag ends the matter, whatever else the bounce says;
2. it quotes the Message-ID of a message we sent (a ledger row that left the house) at most ``max_age_days``
   ago: the address is that row's. Message-IDs are HMACs of (run, recipient), so only someone who saw the
   message knows one.

The addresses a report names are never trusted: anyone can write a report naming a subscriber. Without a
bounce address no message carried VERP, so no VERP form is read; only the Message-ID rule applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from solidarity_mailer.audience.addresses import address_key
from solidarity_mailer.bounces.verdict import Parsed
from solidarity_mailer.compose.verp import TAG_VALIDITY_DAYS, TagCheck, check, day_number, verp_key
from solidarity_mailer.ledger.schema import deliveries

_NEVER_SENT = ("pending", "skipped")  # rows whose message never left: their Message-ID proves nothing


@dataclass(frozen=True)
class Match:
    """The ledger address a bounce is about, the returned Message-ID (may be "") and how it was proven."""

    address: str
    original: str
    how: str  # "VERP tag" | "Message-ID"


def _key_or_none(address: str) -> str | None:
    try:
        return address_key(address)
    except ValueError:
        return None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # SQLite hands back naive UTC


class Authenticator:
    """Matches parsed bounces to recipients by valid VERP tags and our Message-IDs; one per import."""

    def __init__(self, engine: Engine, *, bounce_address: str | None, secret: bytes | None, now: datetime,
                 max_age_days: int = TAG_VALIDITY_DAYS) -> None:
        self.engine, self.bounce_address, self.now, self.max_age_days = engine, bounce_address, now, max_age_days
        self.key = verp_key(secret) if secret is not None else None

    def match(self, parsed: Parsed) -> Match | str:
        """The :class:`Match`, or why there is none (one short phrase)."""
        original = parsed.original_message_ids[0] if parsed.original_message_ids else ""
        reason = "no valid VERP tag and no Message-ID of a message we sent"
        for candidate in parsed.delivered_to if self.bounce_address else ():
            tagged = check(self.key, candidate, self.bounce_address or "", day_number(self.now), self.max_age_days)
            if tagged.check is TagCheck.VALID:
                key = _key_or_none(tagged.recipient)
                if key:
                    return Match(key, original, "VERP tag")
            elif tagged.check is TagCheck.EXPIRED:
                return (f"its VERP tag expired ({tagged.age_days} days old, the limit is {self.max_age_days}: "
                        "--max-age-days)")
            elif tagged.check is TagCheck.FORGED:
                reason = ("its VERP address has no valid tag" if self.key is not None else
                          "VERP tags cannot be checked without the secret") + " and it quotes no Message-ID of ours"
        found = self._by_message_id(parsed.original_message_ids)
        if isinstance(found, Match):
            return found
        return found or reason

    def _by_message_id(self, message_ids: tuple[str, ...]) -> Match | str:
        """The delivery whose Message-ID the bounce quotes, if recent enough; else why not, or ""."""
        since = self.now - timedelta(days=self.max_age_days)
        too_old = ""
        with self.engine.connect() as conn:
            for mid in message_ids:
                row = conn.execute(select(deliveries.c.address, deliveries.c.sent_at, deliveries.c.updated_at).where(
                    deliveries.c.message_id.in_([mid, f"<{mid}>"]),
                    deliveries.c.state.not_in(_NEVER_SENT)).limit(1)).first()
                if row is None:
                    continue
                sent = _aware(row.sent_at or row.updated_at)
                if sent >= since:
                    return Match(row.address, mid, "Message-ID")
                too_old = (f"the message it returns was sent {(self.now - sent).days} days ago, the limit is "
                           f"{self.max_age_days}: --max-age-days")
        return too_old
