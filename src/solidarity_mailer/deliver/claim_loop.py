"""The delivery loop: one thread claims rows, hands them to the senders (``deliver/senders.py``), settles the outcomes.

Rows come from the feeder's bounded :class:`JobQueue`. For the senders with room, the loop commits their rows
as ``sending`` in one transaction (which also checks the suppression list at that instant), passes each sender
its rows (it builds each personalised message and hands it over), and records what came of each with
:func:`outcomes.settle`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections import deque

from solidarity_mailer.deliver.results import Shared, settle
from solidarity_mailer.deliver.senders import Courier, CourierLost
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.queries import Claim

log = logging.getLogger(__name__)

IN_HAND = 3  # rows a sender holds: the one it is sending and the next two, already committed `sending`
COLLECT_SECONDS = 120.0  # after an error: how long the senders may take to report the rows they hold


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

    Each sender holds up to :data:`IN_HAND` rows: the one it is sending and the next ones, already committed
    ``sending``, so the COMMIT (an fsync) of a row overlaps the SMTP transactions before it and a sender
    whose transactions are short (pipelined) does not wait for the loop. If the process dies, at most that
    many rows per connection are left ``uncertain``.

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
        claimed = []
        for (row, tracker, courier), claim in zip(taken, claims, strict=True):
            if claim is Claim.CLAIMED:
                claimed.append((row, tracker, courier))
            else:
                shared.count("skipped" if claim is Claim.SUPPRESSED else "taken")
                tracker.one_done()
        for i, (row, tracker, courier) in enumerate(claimed):
            try:
                courier.submit(row)
            except CourierLost:  # this row and the rest were claimed but never handed over: give them back
                for never, _, _ in claimed[i:]:
                    shared.writer.release(never.address, "not attempted: its sender process died", shared.now())
                raise
            self.in_hand[courier].append((row, tracker))

    def _finish(self, courier: Courier) -> None:
        """Settle the oldest row ``courier`` has in hand (its connection is readable)."""
        try:
            if not self.in_hand[courier]:  # readable with nothing in hand: it is gone
                raise courier.lost("exited")
            handover = courier.receive()
        except CourierLost as exc:
            self._give_up(courier, f"{exc.what}: maybe delivered")
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
            self._give_up(courier, "the run stopped with the message in a sender's hands: maybe delivered")
        self.rows.clear()

    def _give_up(self, courier: Courier, reply: str) -> None:
        """Record every row ``courier`` still holds ``uncertain``: it may or may not have gone out."""
        while self.in_hand[courier]:
            row, tracker = self.in_hand[courier].popleft()
            self.shared.writer.outcome(row.address, "uncertain", reply, self.shared.now())
            self.shared.count("uncertain")
            tracker.one_done()

    def _drain(self) -> None:
        """Take (and leave pending) whatever the feeder still queues, until it sends ``None``."""
        while not self.closing:
            chunk = self.jobs.get()
            self.closing = chunk is None
            self.jobs.task_done()
