"""The delivery loop: one thread claims rows, hands them to the senders (``couriers.py``) and records outcomes.

Rows come from the feeder's bounded :class:`JobQueue`. For the idle senders, the loop commits their rows
as ``sending`` in one transaction (which also checks the suppression list at that instant), passes each
sender its row (it builds the personalised message and hands it over), and records each outcome: ``sent``;
``deferred`` with backoff (4xx, connection problems) or ``failed`` once the attempts are used up;
``failed`` for 5xx (5.1.1 also suppresses the address); ``uncertain`` for a drop after the final dot.
:class:`TransportPaused` gives the row back and pauses the whole run. A connection-level deferral (the
relay cannot be reached or used: not the recipient's doing) gives the row back without counting the
attempt and raises ``Shared.outage``: the senders leave the rest alone while the dispatcher backs off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import selectors
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from . import ledger
from .couriers import Courier, CourierLost, Handover
from .ledger import Claim, Delivery
from .ledgerwriter import LedgerWriter
from .retry import RetryPolicy
from .transports.base import Outcome, TransportPaused, Verdict

log = logging.getLogger(__name__)

IN_HAND = 2  # rows a sender holds: the one it is sending and the next, already committed `sending`
COLLECT_SECONDS = 120.0  # after an error: how long the senders may take to report the rows they hold

Suppress = Callable[[Engine, str, str], object]  # (engine, address, detail)


@dataclass
class Shared:
    """What every worker of one run shares."""

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


class Waker:
    """A socket pair: :meth:`notify` (from any thread) makes :meth:`fileno` readable until :meth:`clear`,
    so one thread can wait for it and for its senders' pipes at once."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def notify(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a full buffer is readable already
            self._w.send(b"\0")

    def fileno(self) -> int:
        return self._r.fileno()

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._r.recv(4096):
                pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


class JobQueue(queue.Queue[list[Delivery] | None]):
    """The feeder's bounded queue of row lists; every ``put`` also notifies :attr:`waker`."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.waker = Waker()

    def put(self, item: list[Delivery] | None, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self.waker.notify()


class _Chunk:
    """One list of rows from the queue: ``task_done`` once each of its rows is settled or left pending.

    ``open`` holds the chunks not yet done, so after an error the loop can let every one of them go
    (:meth:`abandon`) and the feeder's ``jobs.join()`` never waits for rows lost on an error path.
    """

    def __init__(self, jobs: JobQueue, size: int, open_chunks: set[_Chunk]) -> None:
        self.jobs, self.left, self.open = jobs, size, open_chunks
        open_chunks.add(self)
        if size == 0:
            self.abandon()

    def one_done(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.abandon()

    def abandon(self) -> None:
        """Done, whatever became of the rest of its rows."""
        if self in self.open:
            self.open.discard(self)
            self.jobs.task_done()


class DeliveryLoop(threading.Thread):
    """One thread drives every courier: it takes rows from ``jobs`` until ``None``, claims rows for all the
    senders with room in one COMMIT (with the outcomes queued since the last), hands them over, and
    settles each :class:`Handover` as it comes back.

    Each sender holds up to :data:`IN_HAND` rows: the one it is sending and the next, already committed
    ``sending``, so the COMMIT of a row overlaps the SMTP transaction before it. If the process dies, at
    most that many rows per connection are left ``uncertain``.

    While ``shared.stop`` or ``shared.outage`` is set it starts nothing new (queued rows stay pending) but
    still collects what is in hand. After an error it records it in
    ``shared.error``, stops the run, and keeps draining the queue so the feeder never blocks.
    """

    def __init__(self, shared: Shared, couriers: list[Courier], jobs: JobQueue) -> None:
        super().__init__(name="delivery", daemon=True)
        self.shared, self.couriers, self.jobs = shared, couriers, jobs
        self.rows: deque[tuple[Delivery, _Chunk]] = deque()  # taken from the queue, not yet claimed
        self.in_hand: dict[Courier, deque[tuple[Delivery, _Chunk]]] = {c: deque() for c in couriers}
        self.closing = False  # the feeder sent None
        self.open_chunks: set[_Chunk] = set()

    def run(self) -> None:
        try:
            try:
                for courier in self.couriers:
                    courier.wait_ready()
                self._loop()
            except BaseException as exc:  # re-raised by the dispatcher
                with self.shared.lock:
                    self.shared.error = self.shared.error or exc
                self.shared.stop.set()
                try:
                    self._collect_in_hand()
                finally:
                    for chunk in list(self.open_chunks):  # rows lost on the error path: the feeder must not wait
                        chunk.abandon()
                    self._drain()
        finally:
            for courier in self.couriers:
                try:
                    courier.close()
                except Exception:  # closing must not hide what happened
                    log.exception("closing %s", courier.name)

    def _halted(self) -> bool:
        return self.shared.stop.is_set() or self.shared.outage.is_set()

    def _room(self) -> list[Courier]:
        """One entry per free place in a sender's hands, emptiest senders first."""
        free = sorted(self.couriers, key=lambda c: len(self.in_hand[c]))
        return [c for n in range(IN_HAND) for c in free if len(self.in_hand[c]) <= n]

    def _take_rows(self, room: int) -> bool:
        """Move rows from the queue to ``rows`` (without blocking) up to ``room``; True once it is empty."""
        while len(self.rows) < room and not self.closing:
            try:
                chunk = self.jobs.get_nowait()
            except queue.Empty:
                return True
            if chunk is None:
                self.closing = True
                self.jobs.task_done()
                return False
            tracker = _Chunk(self.jobs, len(chunk), self.open_chunks)
            self.rows.extend((row, tracker) for row in chunk)
        return False

    def _fill(self) -> None:
        """Start rows until the senders' hands are full, the queue is empty (its waker armed) or closing."""
        while True:
            room = self._room()
            empty = self._take_rows(len(room))
            self._start(room)
            if not self._room() or (not self.rows and (self.closing or empty)):
                return  # (rows left with room: claims that came back suppressed/taken freed places)

    def _start(self, room: list[Courier]) -> None:
        """Claim rows for ``room`` (one COMMIT) and hand them over; rows are left pending when halted."""
        shared = self.shared
        if self._halted():
            while self.rows:
                self.rows.popleft()[1].one_done()
            return
        taken = [(*self.rows.popleft(), courier) for courier in room[:len(self.rows)]]
        if not taken:
            return
        now = shared.now()
        claims = shared.writer.claim_many([(row.address, shared.factory.message_id_for(row.address), now)
                                           for row, _, _ in taken])  # committed before the hand-over
        for i, ((row, tracker, courier), claim) in enumerate(zip(taken, claims, strict=True)):
            if claim is not Claim.CLAIMED:
                shared.count("skipped" if claim is Claim.SUPPRESSED else "taken")
                tracker.one_done()
                continue
            try:
                courier.submit(row)
            except CourierLost:  # this row and the rest were claimed but never handed over: give them back
                for later, _, _ in (t for t, c in zip(taken[i:], claims[i:], strict=True) if c is Claim.CLAIMED):
                    shared.writer.release(later.address, "not attempted: its sender process died", shared.now())
                raise
            self.in_hand[courier].append((row, tracker))

    def _finish(self, courier: Courier) -> None:
        """Settle the oldest row ``courier`` has in hand (its connection is readable)."""
        try:
            if not self.in_hand[courier]:  # readable with nothing in hand: it is gone
                raise courier.lost("exited")
            handover = courier.receive()
        except CourierLost as exc:
            while self.in_hand[courier]:  # whatever it had may or may not have left
                row, tracker = self.in_hand[courier].popleft()
                self.shared.writer.outcome(row.address, "uncertain", f"{exc.what}: maybe delivered",
                                           self.shared.now())
                self.shared.count("uncertain")
                tracker.one_done()
            raise
        row, tracker = self.in_hand[courier].popleft()
        try:
            self.shared.count(settle(self.shared, row, handover))
        finally:
            tracker.one_done()

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:  # registered once: every sender, and the queue's waker
            for courier in self.couriers:
                selector.register(courier.connection, selectors.EVENT_READ, courier)
            selector.register(self.jobs.waker, selectors.EVENT_READ, None)
            while True:
                self._fill()
                if self.closing and not self.rows and not any(self.in_hand.values()):
                    return
                for key, _ in selector.select():
                    if key.data is None:
                        self.jobs.waker.clear()  # new rows (taken by _fill when a sender has room)
                    else:
                        self._finish(key.data)

    def _collect_in_hand(self) -> None:
        """After an error: record what the senders still had in hand, as far as they answer in time; rows a
        sender does not answer for are recorded ``uncertain`` (they may still go out)."""
        deadline = time.monotonic() + COLLECT_SECONDS
        for courier in self.couriers:
            try:
                while self.in_hand[courier] and courier.connection.poll(max(deadline - time.monotonic(), 0.0)):
                    self._finish(courier)
            except BaseException:  # that sender is gone too: what it had is recorded below
                log.exception("collecting %s", courier.name)
            for row, _ in self.in_hand[courier]:
                self.shared.writer.outcome(row.address, "uncertain", "the run stopped with the message in a "
                                           "sender's hands: maybe delivered", self.shared.now())
            self.in_hand[courier].clear()
        self.rows.clear()

    def _drain(self) -> None:
        """Take (and leave pending) whatever the feeder still queues, until it sends ``None``."""
        while not self.closing:
            chunk = self.jobs.get()
            self.closing = chunk is None
            self.jobs.task_done()
