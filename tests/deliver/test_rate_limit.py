"""Rate limits with an injected clock: per second (token bucket) and per hour (kept across restarts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from solidarity_mailer.deliver.rate_limit import RateLimiter, shared_limiter
from solidarity_mailer.deliver.retry import RetryPolicy


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_per_second_spreads_messages() -> None:
    ft = FakeTime()
    limiter = RateLimiter(per_second=10, clock=ft.clock, sleep=ft.sleep)
    start = ft.t
    for _ in range(30):
        assert limiter.acquire()
    # a burst of 10, then one every 0.1 s: 30 messages take about 2 s
    assert 1.9 <= ft.t - start <= 2.1


def test_per_hour_includes_history_from_before_a_restart() -> None:
    ft = FakeTime()
    history = [ft.t - 1800 + i for i in range(5)]  # 5 sent half an hour ago by an earlier process
    limiter = RateLimiter(per_hour=8, clock=ft.clock, sleep=ft.sleep, history=history)
    start = ft.t
    for _ in range(3):
        limiter.acquire()
    assert ft.t == start  # 5 + 3 = 8: no wait yet
    limiter.acquire()  # the 9th must wait until the oldest of the history leaves the window
    assert 1799 <= ft.t - start <= 1801


def test_unlimited_never_sleeps_and_stop_interrupts_a_wait() -> None:
    ft = FakeTime()
    limiter = RateLimiter(clock=ft.clock, sleep=ft.sleep)
    for _ in range(1000):
        limiter.acquire()
    assert ft.slept == []
    slow = RateLimiter(per_hour=1, clock=ft.clock, sleep=ft.sleep)
    assert slow.acquire()
    assert slow.acquire(stopped=lambda: True) is False
    assert slow.wait_time() > 3000


def test_retry_policy_backs_off_and_gives_up() -> None:
    import datetime as dt

    policy = RetryPolicy(max_attempts=4, base=10, max_delay=25)
    assert [policy.delay(n) for n in (1, 2, 3)] == [10, 20, 25]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert policy.next_attempt(1, now) == now + dt.timedelta(seconds=10)
    assert policy.next_attempt(4, now) is None


def test_a_relay_limit_grants_nothing_while_the_database_is_unreachable(tmp_path: Path) -> None:
    """The claim loop asks a relay's limit outside the feeder's outage handling: the database gone, the limit
    grants no slot (the run pauses) instead of raising into the claim loop, which would fail the run."""
    nowhere = create_engine(f"postgresql+psycopg://mailer@/ledger?host={tmp_path}/no-server-here")
    try:
        relay_limit = shared_limiter(nowhere, "relay:a", 10, 0, clock=lambda: 1000.0, outage_wait=1.0)
        assert relay_limit.try_acquire() is False
        assert relay_limit.wait_time() == pytest.approx(1.0)
        run_limit = shared_limiter(nowhere, "delivery", 10, 0, clock=lambda: 1000.0)  # the feeder handles it
        with pytest.raises(OperationalError):
            run_limit.try_acquire()
    finally:
        nowhere.dispose()
