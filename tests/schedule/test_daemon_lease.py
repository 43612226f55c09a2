"""The scheduler lease in a real SQLite file: one holder, refused while alive, taken over when dead or expired."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from solidarity_mailer.errors import MailerError
from solidarity_mailer.schedule import daemon_lease

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_one_holder_at_a_time(engine: Engine) -> None:
    me = daemon_lease.new_holder()
    other = "elsewhere.example:4242:abcdef"
    daemon_lease.acquire(engine, other, now=NOW)
    with pytest.raises(MailerError, match=r"another scheduler daemon \(elsewhere\.example:4242:abcdef\)"):
        daemon_lease.acquire(engine, me, now=NOW + timedelta(seconds=10))
    assert daemon_lease.renew(engine, other, now=NOW + timedelta(seconds=20))
    # it stopped renewing: after the TTL the lease is free
    later = NOW + timedelta(seconds=20) + daemon_lease.TTL + timedelta(seconds=1)
    assert daemon_lease.try_acquire(engine, me, now=later) is None
    assert not daemon_lease.renew(engine, other, now=later)  # the old holder learns it lost the lease
    daemon_lease.release(engine, me)
    assert daemon_lease.try_acquire(engine, other, now=later) is None


def test_dead_process_on_this_host_is_taken_over_at_once(engine: Engine) -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    dead = f"{socket.gethostname()}:{int(child.stdout)}:000000"  # that process has exited
    daemon_lease.acquire(engine, dead, now=NOW)
    assert daemon_lease.try_acquire(engine, daemon_lease.new_holder(), now=NOW + timedelta(seconds=1)) is None
