"""The claim loop: one thread claims rows, passes them to the senders (``deliver/senders.py``), records the results.

Rows come from the feeder's bounded :class:`RowQueue`. For the senders with room, of the relays the rotation
chooses by weight (``deliver/relays.py``), the loop commits their rows as ``sending`` in one transaction (which
also checks the suppression list at that instant), passes each sender its rows (it builds each personalised
message and sends it), and records what came of each with :func:`~solidarity_mailer.deliver.results.record_result`.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import selectors
import threading
import time
from collections import deque
from dataclasses import replace
from itertools import chain

from solidarity_mailer.deliver.live_run import LiveRun
from solidarity_mailer.deliver.relays import Relay
from solidarity_mailer.deliver.results import record_result
from solidarity_mailer.deliver.row_queue import RowQueue
from solidarity_mailer.deliver.sender_loop import RESULTS_AT_ONCE
from solidarity_mailer.deliver.senders import Sender, SenderLost
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.reachability import database_unreachable

log = logging.getLogger(__name__)

_COUNTED = {Claim.SUPPRESSED: "skipped", Claim.ALREADY_RECEIVED: "skipped", Claim.WAITING: "waiting"}
HELD_PER_SENDER = 8  # rows a sender holds: the one it is sending and the next ones, already committed `sending`
REFILL_AT = RESULTS_AT_ONCE  # a sender is given rows once it has room for this many: fewer, larger COMMITs
# Under a rate limit, fewer: rows that waited in the loop (a slow COMMIT) would leave in a burst of up to a sender's
# hold, over the limit (tests/deliver/test_shared_rate_limit.py saw 32 in a second at 25 with 8), and batches save
# nothing worth having at a few messages a second.
HELD_WHEN_LIMITED, REFILL_WHEN_LIMITED = 3, 2
COLLECT_SECONDS = 120.0  # after an error: how long the senders may take to report the rows they hold


class _Chunk:
    """One list of rows from the queue: ``task_done`` once each of its rows is recorded or left pending.

    ``open`` holds the chunks not yet done, so after an error the loop can let every one of them go
    (:meth:`abandon`) and the feeder's ``row_queue.join()`` never waits for rows lost on an error path.
    """

    def __init__(self, row_queue: RowQueue, size: int, open_chunks: set[_Chunk]) -> None:
        self.row_queue, self.left, self.open = row_queue, size, open_chunks
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
            self.row_queue.task_done()


class ClaimLoop(threading.Thread):
    """One thread drives every sender: it takes rows from ``row_queue`` until ``None``, claims rows for all the
    senders with room in one COMMIT (with the outcomes queued since the last), submits them, and records
    each :class:`SendResult` as it comes back.

    Each sender holds up to :data:`HELD_PER_SENDER` rows: the one it is sending and the next ones, already
    committed ``sending``, so the COMMIT (an fsync) of a row overlaps the SMTP transactions before it and a sender
    whose transactions are short (pipelined) does not wait for the loop. If the process dies, at most that
    many rows per connection are left ``uncertain``. Senders are refilled once one has room for
    :data:`REFILL_AT` rows (it still has one to send meanwhile), the others topped up in the same COMMIT. With
    ``rate_limited`` (a limit of the run's or of a relay's), :data:`HELD_WHEN_LIMITED` and
    :data:`REFILL_WHEN_LIMITED` instead.

    While ``live.stop``, ``live.outage`` or ``live.database_down`` is set it starts nothing new (queued rows stay
    pending) but still collects what the senders hold (their results wait in the writer until the database is
    back). It gives a relay out of rotation nothing; when the relay whose turn it is has no free place it waits for
    one, and when every relay in rotation is at its own limit it waits for the first to allow one. After an error
    it records it in ``live.error``, stops the run, and keeps draining the queue so the feeder never blocks.
    """

    def __init__(self, live: LiveRun, senders: list[Sender], row_queue: RowQueue, *, rate_limited: bool = False,
                 ) -> None:
        super().__init__(name="delivery", daemon=True)
        self.live, self.senders, self.row_queue = live, senders, row_queue
        self.most, self.refill_at = ((HELD_WHEN_LIMITED, REFILL_WHEN_LIMITED) if rate_limited else
                                     (HELD_PER_SENDER, REFILL_AT))
        self.rows: deque[tuple[Delivery, _Chunk]] = deque()  # taken from the queue, not yet claimed
        self.held: dict[Sender, deque[tuple[Delivery, _Chunk]]] = {c: deque() for c in senders}
        self.closing = False  # the feeder sent None
        self.open_chunks: set[_Chunk] = set()

    def run(self) -> None:
        try:
            try:
                for sender in self.senders:
                    sender.wait_ready()
                self.live.ready.set()  # the feeder takes rate-limit slots from now on, not while senders start
                self._loop()
            except BaseException as exc:  # re-raised by the dispatcher
                with self.live.lock:
                    self.live.error = self.live.error or exc
                self.live.stop.set()
                try:
                    self._collect_held()
                finally:
                    for chunk in list(self.open_chunks):  # rows lost on the error path: the feeder must not wait
                        chunk.abandon()
                    self._drain()
        finally:
            for sender in self.senders:
                try:
                    sender.close()
                except Exception:  # closing must not hide what happened
                    log.exception("closing %s", sender.name)

    def _halted(self) -> bool:
        live = self.live
        return live.stop.is_set() or live.outage.is_set() or live.database_down.is_set()

    def _room(self) -> int:
        """Free places among the held rows of the senders of relays in rotation (when halted: no limit, as the
        rows taken are left pending at once and the feeder's ``None`` must be seen)."""
        if self._halted():
            return len(self.rows) + self.row_queue.qsize() + 1
        return sum(self.most - len(self.held[c]) for r in self.live.rotation.serving(self.live.now)
                   for c in r.senders)

    def _choose(self, now: dt.datetime) -> list[tuple[Delivery, _Chunk, Sender]]:
        """Once a sender has room for ``refill_at`` rows, rows for every sender with room (each filled up to its hold,
        ``most``), each of the relay the rotation chooses, to the one of its senders holding fewest."""
        free = {c: self.most - len(q) for c, q in self.held.items()}
        if all(n < self.refill_at for n in free.values()):
            return []
        room = {relay: sum(free[c] for c in relay.senders) for relay in self.live.rotation.relays}

        def has_room(relay: Relay) -> bool:
            return room[relay] > 0

        taken: list[tuple[Delivery, _Chunk, Sender]] = []
        while self.rows and (relay := self.live.rotation.choose(now, has_room)) is not None:
            sender = max(relay.senders, key=free.__getitem__)
            free[sender] -= 1
            room[relay] -= 1
            taken.append((*self.rows.popleft(), sender))
        return taken

    def _take_rows(self, room: int) -> bool:
        """Move rows from the queue to ``rows`` (without blocking) up to ``room``; True once it is empty."""
        while len(self.rows) < room and not self.closing:
            try:
                chunk = self.row_queue.get_nowait()
            except queue.Empty:
                return True
            if chunk is None:
                self.closing = True
                self.row_queue.task_done()
                return False
            tracker = _Chunk(self.row_queue, len(chunk), self.open_chunks)
            self.rows.extend((row, tracker) for row in chunk)
        return False

    def _fill(self) -> None:
        """Start rows until every sender in rotation holds its fill, the queue is empty (its waker armed),
        closing, or the next row waits (for a free place at the relay whose turn it is, or for relays' limits)."""
        if not self._halted() and all(len(q) > self.most - self.refill_at for q in self.held.values()):
            return  # no sender takes rows yet (most wake-ups: one result in); what is queued waits
        while True:
            empty = self._take_rows(self._room())
            started = self._start()
            if not self._room() or (not self.rows and (self.closing or empty)) or (self.rows and not started):
                return  # (rows left with room: claims that came back suppressed/taken freed places)

    def _start(self) -> int:
        """Claim rows for the senders the rotation chooses (one COMMIT) and submit them; how many rows were
        taken. Rows are left pending when halted."""
        live = self.live
        if self._halted():
            while self.rows:
                self.rows.popleft()[1].one_done()
            return 0
        now = live.now()
        taken = [(row if row.message_id else replace(row, message_id=live.factory.message_id_for(row.address)),
                  tracker, sender) for row, tracker, sender in self._choose(now)]  # ('': enqueued by an older release)
        if not taken:
            return 0
        try:
            claims = live.writer.claim_many([(row.address, row.message_id, now)
                                             for row, _, _ in taken])  # committed before the message leaves
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            self._claims_lost(taken, exc)
            return 0
        claimed: dict[Sender, list[tuple[Delivery, _Chunk]]] = {}
        for (row, tracker, sender), claim in zip(taken, claims, strict=True):
            if claim is Claim.CLAIMED:
                claimed.setdefault(sender, []).append((row, tracker))
            else:
                live.count(_COUNTED.get(claim, "taken"))
                tracker.one_done()
        for i, (sender, rows) in enumerate(claimed.items()):
            try:
                sender.submit([row for row, _ in rows])  # one write for the sender's rows of this COMMIT
            except SenderLost:  # these rows and the rest were claimed but never submitted: give them back
                for never, _ in chain.from_iterable(list(claimed.values())[i:]):
                    live.writer.release(never.address, "not attempted: its sender process died", live.now())
                raise
            self.held[sender].extend(rows)
        return len(taken)

    def _claims_lost(self, taken: list[tuple[Delivery, _Chunk, Sender]], exc: BaseException) -> None:
        """The database went away during the claims: nothing was handed over. Should their COMMIT have gone
        through unacknowledged, the rows are given back once the database is back (a no-op otherwise)."""
        self.live.database_lost(exc)
        for row, tracker, _ in taken:
            self.live.writer.release(row.address, "not attempted: the database connection was lost", self.live.now())
            tracker.one_done()

    def _collect(self, sender: Sender) -> None:
        """Record the results of the oldest rows ``sender`` holds (its connection is readable)."""
        held = self.held[sender]
        try:
            if not held:  # readable while holding nothing: it is gone
                raise sender.lost("exited")
            results = sender.receive()
            if len(results) > len(held):
                raise sender.lost(f"answered for {len(results)} rows, holding {len(held)}")
        except SenderLost as exc:
            self._give_up(sender, f"{exc.what}: maybe delivered")
            raise
        for result in results:  # (after an error, the rows of the results not recorded are given up: uncertain)
            row, tracker = held.popleft()
            try:
                self.live.count(record_result(self.live, row, result, sender.relay))
            finally:
                tracker.one_done()

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:  # registered once: every sender, and the queue's waker
            for sender in self.senders:
                selector.register(sender.connection, selectors.EVENT_READ, sender)
            selector.register(self.row_queue.waker, selectors.EVENT_READ, None)
            while True:
                self._fill()
                holding = any(self.held.values())
                if self.closing and not self.rows and not holding:
                    return
                wait = self._limit_wait()
                if wait is not None and not holding:  # nothing to collect meanwhile: wait on the run's clock
                    self.live.sleep(wait)
                    continue
                for key, _ in selector.select(wait):
                    if key.data is None:
                        self.row_queue.waker.clear()  # new rows (taken by _fill when a sender has room)
                    else:
                        self._collect(key.data)

    def _limit_wait(self) -> float | None:
        """Seconds until a relay's own limit lets the next row go, when only that holds rows back."""
        if not self.rows or self._halted():
            return None
        return self.live.rotation.limit_wait(self.live.now())

    def _collect_held(self) -> None:
        """After an error: record what the senders still held, as far as they answer in time; rows a
        sender does not answer for are recorded ``uncertain`` (they may still go out)."""
        deadline = time.monotonic() + COLLECT_SECONDS
        for sender in self.senders:
            try:
                while self.held[sender] and sender.connection.poll(max(deadline - time.monotonic(), 0.0)):
                    self._collect(sender)
            except BaseException:  # that sender is gone too: what it had is recorded below
                log.exception("collecting %s", sender.name)
            self._give_up(sender, "the run stopped with the message in a sender's hands: maybe delivered")
        self.rows.clear()

    def _give_up(self, sender: Sender, reply: str) -> None:
        """Record every row ``sender`` still holds ``uncertain``: it may or may not have gone out."""
        while self.held[sender]:
            row, tracker = self.held[sender].popleft()
            self.live.writer.outcome(row.address, "uncertain", reply, self.live.now(), relay=sender.relay.name)
            self.live.count("uncertain")
            tracker.one_done()

    def _drain(self) -> None:
        """Take (and leave pending) whatever the feeder still queues, until it sends ``None``."""
        while not self.closing:
            chunk = self.row_queue.get()
            self.closing = chunk is None
            self.row_queue.task_done()
