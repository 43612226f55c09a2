"""The run lease: a live holder keeps it, an expired or dead one is taken over (real SQLite file)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import Engine

from solidarity_mailer.deliver import run_lease
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import leases as lease

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@pytest.mark.sqlite_only  # on PostgreSQL workers share a run (tests/deliver/test_workers.py)
def test_live_holder_keeps_the_run(engine: Engine) -> None:
    other = f"{lease.holder_id().split(':')[0]}:1"  # pid 1 is alive
    run_lease.acquire(engine, 7, now=NOW, holder=other)
    with pytest.raises(MailerError, match="run 7 is being sent by"):
        run_lease.acquire(engine, 7, now=NOW + dt.timedelta(seconds=5))
    later = NOW + run_lease.TTL + dt.timedelta(seconds=1)
    assert run_lease.acquire(engine, 7, now=later).startswith(f"{lease.holder_id()}:")  # expired: taken over


@pytest.mark.sqlite_only
def test_dead_holder_is_taken_over_at_once(engine: Engine) -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{lease.holder_id().split(':')[0]}:{child.stdout.strip()}"
    run_lease.acquire(engine, 8, now=NOW, holder=dead)
    assert run_lease.acquire(engine, 8, now=NOW + dt.timedelta(seconds=1)).startswith(f"{lease.holder_id()}:")


def test_release_only_by_holder(engine: Engine) -> None:
    assert lease.try_acquire(engine, "x", "h:1", ttl=dt.timedelta(seconds=60), now=NOW) is None
    lease.release(engine, "x", "h:2")  # not the holder: nothing happens
    assert lease.try_acquire(engine, "x", "h:3", ttl=dt.timedelta(seconds=60), now=NOW) == "h:1"
    lease.release(engine, "x", "h:1")
    assert lease.try_acquire(engine, "x", "h:3", ttl=dt.timedelta(seconds=60), now=NOW) is None


@pytest.mark.parametrize(("holder", "named"), [
    ("vm:123:ab12cd", ("vm", 123)), ("vm:123", ("vm", 123)), ("vm", ("vm", 0)), ("vm:x:1", ("vm", 0)), ("", ("", 0)),
])
def test_a_holder_id_names_its_host_and_process(holder: str, named: tuple[str, int]) -> None:
    assert lease.holder_process(holder) == named
