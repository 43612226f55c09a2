"""Rate limits: messages per second (a token bucket) and per hour (a sliding window kept across restarts).

Time is injected: ``clock()`` returns seconds (wall clock, as the per-hour history comes from
``deliveries.sent_at``) and ``sleep(seconds)`` waits; tests pass a fake pair and never wait.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

HOUR = 3600.0
_EPSILON = 1e-6  # float rounding must never leave a waiter sleeping for nothing, forever


class RateLimiter:
    """Blocks in :meth:`acquire` until one more message may go. ``0`` means unlimited. ``burst`` is how many
    may go at once after a quiet spell (default: ``per_second``; 1 spaces every message evenly).

    ``history`` are the send times (clock seconds) of messages already sent in the last hour, by any
    run: a restart does not reset the hourly budget. Thread-safe.
    """

    def __init__(
        self, per_second: float = 0.0, per_hour: int = 0, *, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep, history: Iterable[float] = (), burst: float | None = None,
    ) -> None:
        self.per_second = per_second
        self.per_hour = per_hour
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._capacity = max(1.0, per_second if burst is None else burst)  # messages that may go at once
        self._tokens = self._capacity
        self._refilled = clock()
        self._window: deque[list[float]] = deque()  # [second, count], oldest first
        self._in_window = 0
        self._unlimited = not (per_second or per_hour)  # nothing to wait for or to count
        for t in sorted(history) if per_hour else ():  # (only the hourly window needs the history)
            self._record(t)

    def _record(self, t: float) -> None:
        second = float(int(t))
        if self._window and self._window[-1][0] == second:
            self._window[-1][1] += 1
        else:
            self._window.append([second, 1])
        self._in_window += 1

    def _hour_wait(self, now: float) -> float:
        while self._window and self._window[0][0] <= now - HOUR:
            self._in_window -= int(self._window.popleft()[1])
        if not self.per_hour or self._in_window < self.per_hour:
            return 0.0
        return max(self._window[0][0] + HOUR - now, 0.001)

    def _second_wait(self, now: float) -> float:
        if not self.per_second:
            return 0.0
        self._tokens = min(self._capacity, self._tokens + (now - self._refilled) * self.per_second)
        self._refilled = now
        if self._tokens >= 1.0 - _EPSILON:
            return 0.0
        return max((1.0 - self._tokens) / self.per_second, _EPSILON)

    def wait_time(self) -> float:
        """Seconds until a message may go (0 when it may go now); takes nothing."""
        if self._unlimited:
            return 0.0
        with self._lock:
            now = self.clock()
            return max(self._hour_wait(now), self._second_wait(now))

    def _take(self) -> float:
        """Take permission for one message if it may go now (returns 0.0), else the seconds to wait."""
        with self._lock:
            now = self.clock()
            wait = max(self._hour_wait(now), self._second_wait(now))
            if wait <= 0.0:
                if self.per_second:
                    self._tokens -= 1.0
                self._record(now)
            return wait

    def try_acquire(self) -> bool:
        """Take permission to send one message if it may go now, without waiting."""
        return self._unlimited or self._take() <= 0.0

    def acquire(self, stopped: Callable[[], bool] = lambda: False) -> bool:
        """Wait for (and take) permission to send one message; False if ``stopped()`` became true while waiting."""
        if self._unlimited:
            return True
        while True:
            wait = self._take()
            if wait <= 0.0:
                return True
            if stopped():
                return False
            self.sleep(wait)
            if stopped():
                return False
