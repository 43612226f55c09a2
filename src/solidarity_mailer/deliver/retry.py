"""The retry policy for deferred deliveries (4xx replies, connection problems): exponential backoff, a cap."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retry after ``base * 2**(attempts-1)`` seconds, at most ``max_delay``; give up after ``max_attempts``."""

    max_attempts: int = 5
    base: float = 60.0
    max_delay: float = 3600.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return float(min(self.max_delay, self.base * 2 ** max(attempts - 1, 0)))

    def next_attempt(self, attempts: int, now: dt.datetime) -> dt.datetime | None:
        """When to try again after ``attempts`` attempts, or None when it is time to give up."""
        if attempts >= self.max_attempts:
            return None
        return now + dt.timedelta(seconds=self.delay(attempts))
