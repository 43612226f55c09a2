"""The SMTP relays of a run being delivered: which relay takes the next row, and which are out of rotation.

Each :class:`Relay` has its senders (one connection each), a weight and, if configured, its own rate limiter.
:class:`Rotation` picks the relay for each row by smooth weighted round robin (as nginx balances its upstreams)
among the relays in rotation whose own limit lets a message go; when the relay whose turn it is has no free
place, the row waits for it (a weight is a share of the messages, whatever the relays' speeds). A relay whose
connection fails (refused, timed out, TLS or greeting failure, 421, dropped before any recipient) is taken out
for the retry policy's delay (doubling with each failure in a row, at most :data:`OUTAGE_MAX_WAIT`), then tried
again; a message that gets through ends its failures. Other transports than SMTP have one relay without a name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from solidarity_mailer.deliver.rate_limit import RateLimiter, shared_limiter
from solidarity_mailer.ledger import queries as ledger

if TYPE_CHECKING:
    from solidarity_mailer.config import Settings, SmtpSettings
    from solidarity_mailer.deliver.senders import Sender

OUTAGE_MAX_WAIT = 300.0  # longest back-off of a relay out of rotation (notice soon that it is back)


@dataclass(eq=False)
class Relay:
    """One relay of a run: its name (recorded with each outcome; None when the transport has no relays), its
    settings, weight, connections, own limiter and senders, and whether it is out of rotation."""

    name: str | None
    settings: SmtpSettings | None = None
    index: int = 0  # in ``Settings.relays``
    weight: int = 1
    connections: int = 1
    limiter: RateLimiter | None = None
    senders: list[Sender] = field(default_factory=list)
    failures: int = 0  # connection failures in a row
    out_until: dt.datetime | None = None  # out of rotation until then
    reply: str = ""  # why it was last taken out
    credit: int = 0  # smooth weighted round robin

    def in_rotation(self, now: dt.datetime) -> bool:
        return self.out_until is None or self.out_until <= now

    def allows(self) -> bool:
        """Whether its own limit lets a message go now (takes nothing)."""
        return self.limiter is None or self.limiter.wait_time() <= 0.0


def run_relays(engine: Engine, run_id: int, settings: Settings, now: Callable[[], dt.datetime]) -> list[Relay]:
    """The relays of run ``run_id``: for SMTP, one per configured relay with its connections (its ``concurrency``,
    else ``[delivery] concurrency``, but no more than the rows waiting to be sent, and at least one) and its own
    rate limiter (shared through the ledger by every worker and run using the relay); for other transports one
    relay without a name."""
    delivery = settings.delivery
    counts = ledger.counts(engine, run_id)
    waiting = counts["pending"] + counts["deferred"]
    if delivery.transport != "smtp":
        return [Relay(None, connections=max(1, min(delivery.concurrency, waiting)))]
    return [Relay(r.label, r, i, r.weight, max(1, min(r.concurrency or delivery.concurrency, waiting)),
                  _limiter(engine, r, now)) for i, r in enumerate(settings.relays)]


def _limiter(engine: Engine, relay: SmtpSettings, now: Callable[[], dt.datetime]) -> RateLimiter | None:
    """``relay``'s own rate limiter, if it has limits, shared by every worker and run that uses the relay: evenly
    spaced (no second at the relay holds more than its ``per_second``), its hourly part counting the last hour."""
    if not (relay.per_second or relay.per_hour):
        return None
    return shared_limiter(engine, f"relay:{relay.label}", relay.per_second, relay.per_hour,
                          clock=lambda: now().timestamp(), outage_wait=1.0)  # (the claim loop's outage: no slot)


class Rotation:
    """The relays of a run, and which of them are in rotation. Used under the run's lock (``LiveRun.lock``)
    or from the claim loop's thread alone."""

    def __init__(self, relays: Sequence[Relay], backoff: Callable[[int], float]) -> None:
        self.relays, self.backoff = list(relays), backoff
        self.limited = any(r.limiter is not None for r in self.relays)

    def serving(self, clock: Callable[[], dt.datetime]) -> list[Relay]:
        """The relays in rotation (``clock`` is read only when one has been out)."""
        if all(r.out_until is None for r in self.relays):
            return self.relays
        now = clock()
        return [r for r in self.relays if r.in_rotation(now)]

    def choose(self, now: dt.datetime, has_room: Callable[[Relay], bool]) -> Relay | None:
        """The relay for the next row (its own limit's permission taken), by weight among the relays in rotation
        whose own limit lets a message go now; None when there is none, or the one whose turn it is has no free
        place (the row waits for it: weights are shares, whatever the relays' speeds)."""
        if len(self.relays) == 1:  # (the common case, kept cheap)
            relay = self.relays[0]
            if not (relay.in_rotation(now) and has_room(relay) and relay.allows()):
                return None
            if relay.limiter is not None:
                relay.limiter.try_acquire()
            return relay
        ready = [r for r in self.relays if r.in_rotation(now) and r.allows()]
        if not ready:
            return None
        chosen = max(ready, key=lambda r: r.credit + r.weight)  # smooth weighted round robin (as nginx)
        if not has_room(chosen):
            return None  # nothing changed: its turn stays its turn
        for relay in ready:
            relay.credit += relay.weight
        chosen.credit -= sum(r.weight for r in ready)
        if chosen.limiter is not None:
            chosen.limiter.try_acquire()
        return chosen

    def limit_wait(self, now: dt.datetime) -> float | None:
        """Seconds until the next row may go, when only the relays' own limits (and back-offs) hold it back:
        every relay in rotation is at its limit. None otherwise (a free place is what it waits for)."""
        if not self.limited:
            return None  # (an out relay alone never holds rows back: with all out, the run backs off)
        waits = [(r.out_until - now).total_seconds() if not r.in_rotation(now) and r.out_until else
                 r.limiter.wait_time() if r.limiter is not None else 0.0 for r in self.relays]
        if not all(w > 0.0 for w in waits):
            return None
        return min(waits)

    def take_out(self, relay: Relay, reply: str, now: dt.datetime) -> bool:
        """Take ``relay`` out of rotation after a connection failure; False when it was out already."""
        relay.reply = reply
        if not relay.in_rotation(now):
            return False
        relay.failures += 1
        relay.out_until = now + dt.timedelta(seconds=min(self.backoff(relay.failures), OUTAGE_MAX_WAIT))
        return True

    def back(self, relay: Relay) -> None:
        """A message got through ``relay``: its failures are over."""
        relay.failures, relay.out_until = 0, None

    def all_out(self, now: dt.datetime) -> bool:
        return not any(r.in_rotation(now) for r in self.relays)

    def seconds_until_back(self, now: dt.datetime) -> float:
        """Seconds until the first relay is back in rotation (0 when one is in rotation)."""
        return max(0.0, min((r.out_until - now).total_seconds() if r.out_until else 0.0 for r in self.relays))

    def replies(self) -> str:
        """Why the relays were taken out: the reply, or ``name: reply; …`` for several relays."""
        if len(self.relays) == 1:
            return self.relays[0].reply
        return "; ".join(f"{r.name}: {r.reply}" for r in self.relays if r.reply)
