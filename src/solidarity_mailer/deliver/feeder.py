"""The feeder: moves a run's due rows from the ledger, through the rate limiter, into the claim loop's queue.

It claims due rows in address order, :data:`BATCH` at a time, for this worker (``ledger/row_claims.py``: other
workers of the run skip them), and puts them on the bounded :class:`~solidarity_mailer.deliver.claim_loop.RowQueue`
in lists of up to :data:`CHUNK`. Whenever a third of the lease's life has passed it renews the worker's lease and
its claims, and at least every :data:`STATE_EVERY` messages it looks at ``runs.state`` (paused or cancelled by
another process?) and at its lease (lost?). Long waits (retry backoff, the hourly limit) are cut in slices of
:data:`WAIT_SLICE` seconds that do the same. When no row is due it frees the rows of dead workers and waits
for what other workers hold, so the run ends only when nothing is left to send. While every relay is out of
rotation (``deliver/relays.py``) it backs the whole run off until the first is back (the retry policy's delays,
at most :data:`~.relays.OUTAGE_MAX_WAIT`), and gives up once ``unreachable_pause_seconds`` have passed. While the
database is unreachable it waits for it with backoff and then goes on (``deliver/database_outage.py``).
:meth:`Feeder.feed` returns why feeding ended.
"""

from __future__ import annotations

import datetime as dt
import math

from solidarity_mailer.deliver import run_lease
from solidarity_mailer.deliver.claim_loop import RowQueue
from solidarity_mailer.deliver.database_outage import ride_out
from solidarity_mailer.deliver.live_run import LiveRun
from solidarity_mailer.deliver.rate_limit import RateLimiter
from solidarity_mailer.ledger import row_claims
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.reachability import DatabaseUnreachable, database_unreachable

BATCH = 200  # rows read from the ledger at a time
STATE_EVERY = 50  # look at runs.state (paused/cancelled elsewhere?) at least every so many messages
CHUNK = 8  # rows put on the queue at once when the rate limit does not hold them back (fewer wake-ups)
LONG_WAIT = 0.5  # a rate-limit wait longer than this is cut in slices as well (renewing, watching runs.state)
WAIT_SLICE = 20.0  # long waits (retry backoff, hourly limit) are cut in slices: renew the lease, watch runs.state


class Feeder:
    """Feeds the due rows of ``live``'s run to ``row_queue`` until there is nothing left, or a reason to stop.

    ``limit`` (``--limit``) is the most rows it feeds in this call.
    """

    def __init__(self, live: LiveRun, row_queue: RowQueue, limiter: RateLimiter, limit: int | None) -> None:
        self.live, self.row_queue, self.limiter, self.limit = live, row_queue, limiter, limit
        self.fed = 0
        self.cursor = ""  # the address after which the next batch starts
        self.renewed: dt.datetime | None = None  # when the lease and claims were last renewed

    def feed(self) -> str:
        """Feed until done; why it ended: done|limit|stopped|paused|cancelled|outage|lease lost|window.

        While the database is unreachable it waits (``deliver/database_outage.py``), then starts over."""
        while True:
            try:
                return self._feed()
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                self.live.database_lost(exc)
            if why := ride_out(self.live, self.row_queue):
                return why
            self.cursor, self.renewed = "", self.live.now()

    def _feed(self) -> str:
        live = self.live
        while not (live.ready.is_set() or live.stop.is_set()):  # (a slot taken meanwhile would lapse)
            live.ready.wait(0.05)
        while True:
            if live.database_down.is_set():  # seen by the claim loop or the writer
                raise DatabaseUnreachable("the database connection was lost")
            if why := self._halted():
                return why
            if live.outage.is_set():
                if why := self._back_off():
                    return why
                self.cursor = ""  # rows skipped during the outage are still pending: start over
            if why := self._renew_due():
                return why
            now = live.now()
            batch = row_claims.claim_batch(live.engine, live.run_id, live.lease_holder, now=now,
                                           until=now + live.lease_ttl, after=self.cursor, limit=BATCH)
            if not batch:
                if why := self._nothing_due():
                    return why
                continue
            if why := self._feed_batch(batch):
                return why
            if self._limit_reached():
                self.row_queue.join()
                return "limit"
            if not (live.outage.is_set() or live.database_down.is_set()):
                self.cursor = batch[-1].address

    def _limit_reached(self) -> bool:
        return self.limit is not None and self.fed >= self.limit

    def _feed_batch(self, batch: list[Delivery]) -> str | None:
        """Put ``batch`` on the queue as the rate limit allows; why it was halted, if it was."""
        live, row_queue = self.live, self.row_queue
        if self.limiter.unlimited and live.window is None:
            return self._feed_unlimited(batch)
        chunk: list[Delivery] = []
        for i, row in enumerate(batch, 1):
            if self._limit_reached() or live.outage.is_set() or live.database_down.is_set():
                break
            if (i % STATE_EVERY == 0 and (why := self._halted())) or (why := self._renew_due()):
                row_queue.put(chunk)  # pass on what was taken: once stopped, the senders leave it pending
                return why
            if chunk and self.limiter.wait_time() > 0.0:
                row_queue.put(chunk)  # do not hold rows back while the rate limit makes us wait
                chunk = []
            taken = self._take_slot(row)
            if isinstance(taken, str):
                return taken
            if taken is None:
                break
            if not taken:
                continue  # its recipient's send window is closed: held, and it took no slot
            chunk.append(row)
            self.fed += 1
            if len(chunk) >= CHUNK:
                row_queue.put(chunk)
                chunk = []
        if chunk:
            row_queue.put(chunk)
        return None

    def _feed_unlimited(self, batch: list[Delivery]) -> str | None:
        """:meth:`_feed_batch` with no rate limit and no send window: the rows go on in lists of :data:`CHUNK`,
        the same checks made once a list (the per-row ones cost ~8 µs a message: ``bench/send_cpu_bench.py``)."""
        live, unchecked = self.live, 0
        for start in range(0, len(batch), CHUNK):
            if self._limit_reached() or live.stop.is_set() or live.outage.is_set() or live.database_down.is_set():
                break
            if unchecked >= STATE_EVERY:
                unchecked = 0
                if why := self._halted():
                    return why
            if why := self._renew_due():
                return why
            chunk = batch[start:start + CHUNK]
            if self.limit is not None:
                chunk = chunk[:self.limit - self.fed]
            self.row_queue.put(chunk)
            self.fed += len(chunk)
            unchecked += len(chunk)
        return None

    def _take_slot(self, row: Delivery) -> bool | str | None:
        """Wait for the rate limit's next slot and take it for ``row``, whose send window is judged when the slot
        comes: True once taken; False when the window holds the row (it takes no slot); None when stopped; else why
        feeding was halted during a long wait."""
        live = self.live
        while True:
            if self._held(row):
                return False
            waiting = self.limiter.wait_time()
            if waiting <= 0.0 and self.limiter.try_acquire():
                return True
            if live.stop.is_set():
                return None
            if waiting > LONG_WAIT:  # in slices, renewing; woken a little early, so the slot is taken on time
                if why := self._wait(waiting - LONG_WAIT / 2):
                    return why
            else:
                live.sleep(max(waiting, 1e-6))

    def _held(self, row: Delivery) -> bool:
        """Whether ``row``'s recipient's send window is closed now (the row is then held)."""
        window = self.live.window
        return window is not None and window.holds(row, self.live.now())

    def _nothing_due(self) -> str | None:
        """No row is due after the cursor: start over, wait for the next retry, stop until a send window opens
        ("window"), or (None left) "done"."""
        live = self.live
        self.row_queue.join()
        live.writer.flush()  # everything queued is recorded: deferred rows may now be due
        if live.window is not None:
            live.window.flush(live.now())
        if self.cursor or live.outage.is_set():
            self.cursor = ""
            return None
        if why := self._renew():  # (our own lease fresh before judging who is dead)
            return why
        row_claims.recover_dead_workers(live.engine, live.run_id, now=live.now(), worker=live.lease_holder)
        look_at = row_claims.next_look(live.engine, live.run_id, live.lease_holder, now=live.now())
        opens = live.window.opening(live.now()) if live.window is not None else None
        if opens is not None and (look_at is None or opens < look_at):
            return "window"
        if look_at is None:
            return "done"
        return self._wait(max((look_at - live.now()).total_seconds(), 0.01))

    def _halted(self) -> str | None:
        """Why feeding must stop now (stopped, paused or cancelled elsewhere, lease lost), if it must."""
        live = self.live
        if live.stop.is_set():
            return "paused" if live.paused is not None else "stopped"
        state, held = run_lease.watch(live.engine, live.run_id, live.lease_holder)  # one read, every STATE_EVERY rows
        if state in ("paused", "cancelled"):
            live.stop.set()
            return state
        if not held:
            return self._lose_lease()
        return None

    def _lose_lease(self) -> str:  # (every caller returns at once: nothing looks again)
        self.live.stop.set()  # our senders stop at once: another process owns the run now
        return "lease lost"

    def _renew(self) -> str | None:
        """Renew the worker's lease and the rows it holds; "lease lost" when the lease is gone."""
        live = self.live
        now = self.renewed = live.now()
        if not run_lease.renew(live.engine, live.run_id, live.lease_holder, now=now, ttl=live.lease_ttl):
            return self._lose_lease()
        row_claims.renew_claims(live.engine, live.run_id, live.lease_holder, until=now + live.lease_ttl)
        if live.window is not None:  # the rows held so far written now, not at the pass's end: status says when
            live.window.flush(now)
        return None

    def _renew_due(self) -> str | None:
        """Renew when a third of the lease's life has passed since the last renewal (slow rate limits)."""
        if self.renewed is not None and self.live.now() - self.renewed < self.live.lease_ttl / 3:
            return None
        return self._renew()

    def _wait(self, seconds: float) -> str | None:
        """Sleep in slices, renewing the lease and watching runs.state; why it was halted, if it was."""
        self.live.writer.flush()  # commit queued outcomes before waiting
        slices = max(1, math.ceil(seconds / WAIT_SLICE))
        for _ in range(slices):
            self.live.sleep(seconds / slices)
            if why := self._renew() or self._halted():
                return why
        return None

    def _back_off(self) -> str | None:
        """Every relay is unreachable: wait until the first is back in rotation (its backoff: the policy's delay,
        at most ``OUTAGE_MAX_WAIT``), or give up and pause the run."""
        live = self.live
        self.row_queue.join()  # the senders leave what is queued (it stays pending)
        pause_after = live.unreachable_pause_seconds
        while True:
            now = live.now()
            failing = (now - (live.outage_since or now)).total_seconds()
            if failing >= pause_after:
                return "outage"
            with live.lock:
                back_in = live.rotation.seconds_until_back(now)
            if back_in <= 0.0:
                live.outage.clear()
                return None
            if why := self._wait(max(min(back_in, pause_after - failing), 0.01)):
                return why
