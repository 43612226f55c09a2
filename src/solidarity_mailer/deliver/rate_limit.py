"""Rate limits: messages per second (evenly spaced slots) and per hour, shared by every worker of a ledger.

A :class:`RateLimiter` takes its slots in blocks from a source: :class:`LedgerSlots` (``ledger/rate_limits.py``:
one schedule for every worker of the ledger, kept across restarts; what :func:`shared_limiter` builds) or
:class:`MemorySlots` (this process alone). A block covers about :data:`BLOCK_SECONDS` of the per-second limit, so
the ledger is asked about ten times a second at most, whatever the rate. A slot is used at its time or up to
:data:`LATE` seconds after; a later one lapses (other workers' slots may be going by then), so however many
workers send, one second holds at most ``ceil(per_second × (1 + LATE))`` slots used.

Time is injected: ``clock()`` returns seconds (wall clock: the ledger's slots are compared across hosts and
restarts) and ``sleep(seconds)`` waits; tests pass a fake pair and never wait.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from sqlalchemy import Engine

from solidarity_mailer.ledger import rate_limits
from solidarity_mailer.ledger.rate_limits import HOUR, Grant
from solidarity_mailer.ledger.reachability import database_unreachable

BLOCK_SECONDS = 0.1  # the per-second slots reserved at a time: this much of the limit
HOURLY_BLOCK = 100  # with an hourly limit alone: at most this many slots at a time (a thousandth of the hour's)
LATE = 0.05  # a slot not used within this many seconds of its time lapses
_EPSILON = 1e-6  # float rounding must never leave a waiter sleeping for nothing, forever

__all__ = ["HOUR", "LATE", "LedgerSlots", "MemorySlots", "RateLimiter", "shared_limiter"]


class Slots(Protocol):
    """Where a :class:`RateLimiter` reserves its slots."""

    def reserve(self, now: float, want: int) -> Grant:
        """Up to ``want`` slots from ``now`` on, or none and how long to wait."""
        ...


class LedgerSlots:
    """The slots of limit ``key`` in the ledger, shared by every worker (``ledger/rate_limits.py``). With
    ``outage_wait``, the database unreachable grants nothing for that many seconds instead of raising (for a
    caller with no outage handling of its own: the claim loop asking a relay's limit)."""

    def __init__(self, engine: Engine, key: str, spacing: float, per_hour: int, outage_wait: float | None = None
                 ) -> None:
        self.engine, self.key, self.spacing, self.per_hour = engine, key, spacing, per_hour
        self.outage_wait = outage_wait

    def reserve(self, now: float, want: int) -> Grant:
        try:
            return rate_limits.reserve(self.engine, self.key, spacing=self.spacing, per_hour=self.per_hour,
                                       want=want, now=now)
        except Exception as exc:
            if self.outage_wait is None or not database_unreachable(exc):
                raise
            return Grant(now, 0, self.outage_wait)


class MemorySlots:
    """The same schedule in this process alone: ``tolerance`` seconds of slots may be taken at once after a quiet
    spell (a burst); ``history`` are the clock times of messages already sent in the last hour."""

    def __init__(self, spacing: float, per_hour: int, tolerance: float = 0.0, history: Iterable[float] = ()) -> None:
        self.spacing, self.per_hour, self.tolerance = spacing, per_hour, tolerance
        self.next_slot = -math.inf
        self._window: deque[list[int]] = deque()  # [second counted until, count], oldest first
        self._in_window = 0
        for t in sorted(history) if per_hour else ():
            self._record(math.floor(t) + 1, 1)

    def _record(self, second: int, count: int) -> None:
        if self._window and self._window[-1][0] == second:
            self._window[-1][1] += count
        else:
            self._window.append([second, count])
        self._in_window += count

    def reserve(self, now: float, want: int) -> Grant:
        start = max(self.next_slot, now - self.tolerance)
        count = want
        if self.per_hour:
            while self._window and self._window[0][0] <= now - HOUR:
                self._in_window -= self._window.popleft()[1]
            count = min(want, self.per_hour - self._in_window)
            if count <= 0:
                return Grant(start, 0, max(self._window[0][0] + HOUR - now, 0.001))
            self._record(math.floor(start + (count - 1) * self.spacing) + 1, count)
        self.next_slot = start + count * self.spacing
        return Grant(start, count)


class RateLimiter:
    """Blocks in :meth:`acquire` until one more message may go. ``0`` means unlimited.

    ``slots`` is where the slots come from (default: :class:`MemorySlots` with ``history``, and a burst of
    ``burst`` messages after a quiet spell, by default ``per_second``; 1 spaces every message evenly). Thread-safe.
    """

    def __init__(
        self, per_second: float = 0.0, per_hour: int = 0, *, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep, history: Iterable[float] = (), burst: float | None = None,
        slots: Slots | None = None,
    ) -> None:
        self.per_second, self.per_hour, self.clock, self.sleep = per_second, per_hour, clock, sleep
        self.spacing = 1.0 / per_second if per_second else 0.0
        self.block = (max(1, math.ceil(per_second * BLOCK_SECONDS)) if per_second else
                      max(1, min(HOURLY_BLOCK, per_hour // 1000)))
        if slots is None:
            burst = max(1.0, per_second if burst is None else burst)
            slots = MemorySlots(self.spacing, per_hour, (burst - 1.0) * self.spacing, history)
        self.slots = slots
        self._lock = threading.Lock()
        self._unlimited = not (per_second or per_hour)  # nothing to wait for or to count
        self._start, self._count, self._used, self._granted_at = 0.0, 0, 0, 0.0  # the block in hand
        self._retry_at = -math.inf  # the hour is full until then: the source is not asked before

    def _due(self, now: float) -> float | None:
        """When the next slot in hand may be used (lapsing those too late), or None when none is left."""
        while self._used < self._count:
            due = max(self._start + self._used * self.spacing, self._granted_at)
            if not self.spacing or now - due <= LATE:
                return due
            self._used = max(self._used + 1, math.ceil((now - LATE - self._start) / self.spacing))
        return None

    def _take(self, take: bool) -> float:
        """0.0 when a message may go now (its slot taken if ``take``), else the seconds to wait."""
        with self._lock:
            now = self.clock()
            while (due := self._due(now)) is None:
                if now < self._retry_at:
                    return self._retry_at - now
                grant = self.slots.reserve(now, self.block)
                if not grant.count:
                    self._retry_at = now + grant.wait
                    return grant.wait
                self._start, self._count, self._used, self._granted_at = grant.start, grant.count, 0, now
            if due - now > _EPSILON:
                return max(due - now, _EPSILON)
            if take:
                self._used += 1
            return 0.0

    @property
    def unlimited(self) -> bool:
        """No limit at all: every message may go at once."""
        return self._unlimited

    def wait_time(self) -> float:
        """Seconds until a message may go (0 when it may go now); takes no slot (it may reserve some)."""
        return 0.0 if self._unlimited else self._take(False)

    def try_acquire(self) -> bool:
        """Take permission to send one message if it may go now, without waiting."""
        return self._unlimited or self._take(True) <= 0.0

    def acquire(self, stopped: Callable[[], bool] = lambda: False) -> bool:
        """Wait for (and take) permission to send one message; False if ``stopped()`` became true while waiting."""
        if self._unlimited:
            return True
        while True:
            wait = self._take(True)
            if wait <= 0.0:
                return True
            if stopped():
                return False
            self.sleep(wait)
            if stopped():
                return False


def shared_limiter(engine: Engine, key: str, per_second: float, per_hour: int, *, clock: Callable[[], float],
                   sleep: Callable[[float], None] = time.sleep, outage_wait: float | None = None) -> RateLimiter:
    """The limiter of limit ``key`` (``delivery``, ``relay:NAME``) shared through the ledger by every worker:
    evenly spaced, its hourly part counting what every worker was granted in the last hour. ``outage_wait``:
    see :class:`LedgerSlots`."""
    spacing = 1.0 / per_second if per_second else 0.0
    return RateLimiter(per_second, per_hour, clock=clock, sleep=sleep,
                       slots=LedgerSlots(engine, key, spacing, per_hour, outage_wait))
