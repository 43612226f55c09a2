"""Rate limits shared through the ledger (``ledger/rate_limits.py``, ``deliver/rate_limit.py``) on SQLite and
PostgreSQL (``--database postgresql``): workers (each with its own engine) reserving at once never get the same
slot, the hour counts every worker's slots and survives a restart, unused slots lapse. Time from a fake clock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from solidarity_mailer.deliver.rate_limit import LATE, shared_limiter
from solidarity_mailer.ledger.rate_limits import Grant, reserve
from solidarity_mailer.ledger.schema import connect, rate_limit_grants
from tests.arrivals import busiest_second
from tests.databases import ledger_url

T0 = 1_800_000_000.0


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def engines(tmp_path: Path) -> list[Engine]:
    """Two engines on one ledger: two workers."""
    made = [connect(ledger_url(tmp_path)) for _ in range(2)]
    yield made  # type: ignore[misc]
    for engine in made:
        engine.dispose()


def test_workers_reserving_at_once_never_get_the_same_slot(tmp_path: Path) -> None:
    url = ledger_url(tmp_path)
    connect(url).dispose()  # the schema, once
    grants: list[Grant] = []

    def worker() -> None:
        engine = connect(url)
        try:
            for _ in range(15):
                grants.append(reserve(engine, "delivery", spacing=0.01, per_hour=0, want=3, now=T0))
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts = sorted(g.start for g in grants)
    assert all(g.count == 3 for g in grants) and len(starts) == 60
    assert starts == pytest.approx([T0 + i * 0.03 for i in range(60)])  # one after the other, none shared


def test_two_workers_together_keep_to_the_per_second_limit(engines: list[Engine]) -> None:
    ft = FakeTime()
    first, second = (shared_limiter(e, "delivery", 20, 0, clock=ft.clock, sleep=ft.sleep) for e in engines)
    times = []
    for i in range(100):
        assert (first if i % 3 else second).acquire()
        times.append(ft.t)
    assert busiest_second(times) <= 21  # ceil(20 × (1 + LATE)): a slot is used at most LATE late
    assert ft.t - T0 >= 100 / 21 - 1  # and the pair was held to it, not twice it


def test_the_hour_counts_every_worker_and_survives_a_restart(tmp_path: Path, engines: list[Engine]) -> None:
    ft = FakeTime()
    first, second = (shared_limiter(e, "relay:main", 0, 8, clock=ft.clock, sleep=ft.sleep) for e in engines)
    for limiter in (first, second, first, second, first):
        assert limiter.try_acquire()
    engines[0].dispose()  # the first worker stops; a new process starts
    restarted = shared_limiter(connect(ledger_url(tmp_path)), "relay:main", 0, 8, clock=ft.clock, sleep=ft.sleep)
    assert restarted.try_acquire() and second.try_acquire() and restarted.try_acquire()
    assert not restarted.try_acquire() and not second.try_acquire()  # 8 in the hour, by three workers
    assert 3599 <= restarted.wait_time() <= 3601
    other = shared_limiter(engines[1], "relay:other", 0, 8, clock=ft.clock, sleep=ft.sleep)
    assert other.try_acquire()  # another relay's hour is its own
    restarted.acquire()
    assert 3599 <= ft.t - T0 <= 3601
    with engines[1].connect() as conn:  # what left the hour was deleted
        assert conn.execute(select(func.sum(rate_limit_grants.c.count))).scalar_one() == 2


def test_slots_not_used_in_time_lapse(engines: list[Engine]) -> None:
    ft = FakeTime()
    limiter = shared_limiter(engines[0], "delivery", 100, 0, clock=ft.clock, sleep=ft.sleep)  # blocks of 10
    assert limiter.acquire()
    ft.t += 0.5  # the worker was busy: the other nine slots of its block are past
    times = []
    for _ in range(10):
        assert limiter.acquire()
        times.append(ft.t)
    assert times[0] == T0 + 0.5 and times[-1] >= T0 + 0.5 + 9 * 0.01 - LATE  # not all ten at once


def test_a_clock_set_back_starts_the_schedule_over(engines: list[Engine]) -> None:
    later = T0 + 86400
    assert reserve(engines[0], "delivery", spacing=1.0, per_hour=5, want=5, now=later).count == 5
    grant = reserve(engines[0], "delivery", spacing=1.0, per_hour=5, want=1, now=T0)
    assert (grant.start, grant.count) == (T0, 1)  # neither tomorrow's next slot nor tomorrow's hour holds it
