"""What each hand-over means for the ledger and the run: the state every sender of one run shares, and the rules.

:func:`settle` records a sender's :class:`~couriers.Handover` for a ``sending`` row: ``sent``; ``deferred``
with backoff (4xx, connection problems) or ``failed`` once the attempts are used up; ``failed`` for 5xx (5.1.1
also suppresses the address); ``uncertain`` for a drop after the final dot or a transport bug; ``failed`` for
a message that could not be built. :class:`TransportPaused` gives the row back and pauses the whole run. A
connection-level deferral (the relay cannot be reached or used: not the recipient's doing) gives the row back
without counting the attempt and raises ``Shared.outage``: nothing new starts while the dispatcher backs off.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from solidarity_mailer.deliver.retry import RetryPolicy
from solidarity_mailer.deliver.senders import Handover
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.writer import LedgerWriter
from solidarity_mailer.transports.base import Outcome, TransportPaused, Verdict

Suppress = Callable[[Engine, str, str], object]  # (engine, address, detail)


@dataclass
class Shared:
    """What the delivery loop and the dispatcher of one run share."""

    engine: Engine
    run_id: int
    writer: LedgerWriter
    factory: Any  # message.MessageFactory: .build(recipient) -> PreparedMessage
    policy: RetryPolicy
    now: Callable[[], dt.datetime]
    suppress: Suppress
    stop: threading.Event = field(default_factory=threading.Event)
    unreachable_pause_seconds: float = 1800.0  # relay unreachable this long: the dispatcher pauses the run
    tally: Counter[str] = field(default_factory=Counter)
    paused: TransportPaused | None = None
    outage: threading.Event = field(default_factory=threading.Event)  # the relay is unreachable: back off
    outage_since: dt.datetime | None = None  # first connection failure since a message last got through
    outage_failures: int = 0  # back-offs in a row
    outage_reply: str = ""
    error: BaseException | None = None
    on_result: Callable[[str], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, state: str) -> None:
        with self.lock:
            self.tally[state] += 1
        if self.on_result is not None:
            self.on_result(state)

    def connection_failed(self, reply: str) -> None:
        """The relay could not be reached or used: ask the dispatcher to back off the whole run."""
        with self.lock:
            if not self.outage.is_set():
                self.outage_failures += 1
                self.outage_since = self.outage_since or self.now()
            self.outage_reply = reply
            self.outage.set()

    def connection_ok(self) -> None:
        """A transaction went through: the outage (if any) is over."""
        if self.outage_since is not None:
            with self.lock:
                self.outage_since, self.outage_failures = None, 0

    def pause(self, exc: TransportPaused) -> None:
        """Pause the run (once): other processes see it in ``runs.state`` at once."""
        with self.lock:
            first = self.paused is None
            if first:
                self.paused = exc
        if first:
            ledger.set_run_state(self.engine, self.run_id, "paused", now=self.now(),
                                 note=f"paused by the SMTP server: {exc.reply}")
        self.stop.set()


def _reply(outcome: Outcome) -> str:
    return f"{outcome.code} {outcome.reply}".strip() if outcome.code else outcome.reply


def record(shared: Shared, row: Delivery, attempts: int, outcome: Outcome) -> str:
    """Write a transport outcome for a ``sending`` row; returns the state recorded."""
    now = shared.now()
    reply = _reply(outcome)
    state = outcome.verdict.value
    retry_at = None
    if outcome.verdict is Verdict.DEFER:
        retry_at = shared.policy.next_attempt(attempts, now)
        if retry_at is None:
            state, reply = "failed", f"gave up after {attempts} attempts: {reply}"
    shared.writer.outcome(row.address, state, reply, now, retry_at)
    if outcome.suppress:
        shared.suppress(shared.engine, row.address, reply)
    return state


def settle(shared: Shared, row: Delivery, handover: Handover) -> str:
    """Record what became of a ``sending`` row's hand-over; returns what happened (a delivery state,
    ``paused`` or ``outage``)."""
    if handover.build_error:  # this recipient cannot be written as a message: fail it alone
        shared.writer.outcome(row.address, "failed", handover.build_error, shared.now())
        return "failed"
    if handover.paused is not None:
        shared.writer.release(row.address, handover.paused.reply, shared.now())
        shared.pause(handover.paused)
        return "paused"
    if handover.outcome is None:  # a transport bug: whether the message left is unknown
        shared.writer.outcome(row.address, "uncertain", handover.error, shared.now())
        return "uncertain"
    outcome = handover.outcome
    if outcome.verdict is Verdict.DEFER and outcome.connection:  # the relay's trouble: the attempt does not count
        reply = _reply(outcome)
        shared.writer.release(row.address, f"not attempted: {reply}", shared.now())
        shared.connection_failed(reply)
        return "outage"
    shared.connection_ok()
    return record(shared, row, row.attempts + 1, outcome)
