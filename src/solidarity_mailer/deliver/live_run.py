"""The live state of one run being delivered, shared by the dispatcher, its feeder and its claim loop.

Besides the run's ledger writer, message factory and retry policy, it carries what the threads tell each
other: stop (``stop``), paused by the server (``paused``), which relays are in rotation (``rotation``), every
relay unreachable (``outage``), the database unreachable (``database_down``), an error raised in the claim loop
(``error``), and the tally of this call.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from solidarity_mailer.deliver.relays import Relay, Rotation
from solidarity_mailer.deliver.retry import RetryPolicy
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.reachability import database_unreachable
from solidarity_mailer.ledger.writer import LedgerWriter
from solidarity_mailer.transports.base import TransportPaused

if TYPE_CHECKING:
    from solidarity_mailer.compose.message import MessageFactory
    from solidarity_mailer.deliver.send_windows import WindowGate

log = logging.getLogger(__name__)

Suppress = Callable[[Engine, str, str], object]  # (engine, address, detail)


@dataclass
class LiveRun:
    """A run being delivered: what the claim loop, the feeder and the dispatcher of one run share."""

    engine: Engine
    run_id: int
    writer: LedgerWriter
    factory: MessageFactory
    policy: RetryPolicy
    now: Callable[[], dt.datetime]
    suppress: Suppress
    sleep: Callable[[float], None]  # waits (rate limits, backoff); tests pass a fake that moves ``now``
    lease_holder: str  # this worker's id, holder of its lease on the run (``deliver/run_lease.py``)
    stop: threading.Event = field(default_factory=threading.Event)
    lease_ttl: dt.timedelta = dt.timedelta(seconds=30)  # the lease's life unrenewed (``[delivery] lease_seconds``)
    unreachable_pause_seconds: float = 1800.0  # relay unreachable this long: the dispatcher pauses the run
    rotation: Rotation = field(default_factory=lambda: Rotation([Relay(None)], RetryPolicy().delay))
    tally: Counter[str] = field(default_factory=Counter)
    paused: TransportPaused | None = None
    ready: threading.Event = field(default_factory=threading.Event)  # the claim loop's senders have started
    outage: threading.Event = field(default_factory=threading.Event)  # every relay is out of rotation: back off
    outage_since: dt.datetime | None = None  # first connection failure since a message last got through
    database_down: threading.Event = field(default_factory=threading.Event)  # set by the first thread to see it
    database_error: BaseException | None = None  # the error that said so (for the log line)
    held_suppressions: list[tuple[str, str]] = field(default_factory=list)  # (address, reply) to write when back
    error: BaseException | None = None
    on_result: Callable[[str], None] | None = None
    window: WindowGate | None = None  # the send window, when it ever closes (deliver/send_windows.py)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, state: str) -> None:
        with self.lock:
            self.tally[state] += 1
        if self.on_result is not None:
            self.on_result(state)

    def database_lost(self, exc: BaseException) -> None:
        """The database cannot be reached (seen by a thread of this run): nothing new starts until the feeder
        (``deliver/database_outage.py``) has it back."""
        with self.lock:
            self.database_error = self.database_error or exc
        self.database_down.set()

    def suppress_address(self, address: str, reply: str) -> None:
        """Suppress ``address`` (a 5.1.1); while the database is unreachable, held until it is back."""
        try:
            self.suppress(self.engine, address, reply)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            with self.lock:
                self.held_suppressions.append((address, reply))
            self.database_lost(exc)

    def write_held_suppressions(self) -> None:
        """Write the suppressions held during an outage (the database is back)."""
        while self.held_suppressions:
            address, reply = self.held_suppressions[0]
            self.suppress(self.engine, address, reply)
            with self.lock:
                self.held_suppressions.pop(0)

    def relay_failed(self, relay: Relay, reply: str) -> None:
        """``relay`` could not be reached or used: out of rotation; with every relay out, ask the feeder to back
        off the whole run."""
        with self.lock:
            now = self.now()
            self.outage_since = self.outage_since or now
            if self.rotation.take_out(relay, reply, now) and len(self.rotation.relays) > 1:
                log.warning("relay %s out of rotation until %s: %s", relay.name,
                            relay.out_until.isoformat(timespec="seconds") if relay.out_until else "", reply)
            if self.rotation.all_out(now):
                self.outage.set()

    def relay_ok(self, relay: Relay) -> None:
        """A transaction went through ``relay``: its failures, and the outage (if any), are over."""
        if self.outage_since is not None or relay.failures:
            with self.lock:
                self.outage_since = None
                self.rotation.back(relay)

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
