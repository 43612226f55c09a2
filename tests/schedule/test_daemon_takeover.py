"""The daemon that fires schedules dies; a `run --wait` daemon takes over and fires what fell due (issue 14): at
once when the dead one was on this host, within `[scheduler] lease_seconds` when it was on another. Real daemon
processes, a real SMTP server, a real ledger."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from solidarity_mailer.ledger.schema import aware, locks
from tests.daemonproc import Daemon, Env, local_at, run_rows, wait_for, write_list
from tests.databases import on_postgresql
from tests.smtpserver import RecordingHandler, smtp_server

pytestmark = pytest.mark.slow
LEASE_SECONDS = 5
# on PostgreSQL the standby starts at once as a worker, and says when it takes the lease over
TOOK_OVER = "took over the scheduler lease" if on_postgresql() else "started"


def _env(tmp_path: Path, port: int) -> Env:
    env = Env(tmp_path, port)
    with env.config.open("a", encoding="utf-8") as fh:
        fh.write(f"\n[scheduler]\nlease_seconds = {LEASE_SECONDS}\n")
    return env


def test_a_leader_killed_with_sigkill_is_replaced_at_once_and_its_firing_goes_out(tmp_path: Path) -> None:
    with smtp_server(RecordingHandler()) as (controller, handler):
        env = _env(tmp_path, controller.port)
        people = write_list(tmp_path / "members.csv", 3)
        leader = Daemon(env, "leader")
        leader.wait_log("started")
        with env.engine().connect() as conn:  # it holds the lease for lease_seconds at a time, not the default 30
            expires = conn.execute(select(locks.c.expires_at).where(locks.c.name == "scheduler")).scalar_one()
        left = (aware(expires) - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0 < left <= LEASE_SECONDS
        standby = Daemon(env, "standby", "--wait")
        try:
            standby.wait_log("waiting idle")
            at, _ = local_at(3)
            env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
            leader.kill()  # no goodbye: the lease stays in the ledger
            standby.wait_log(TOOK_OVER)
            wait_for(lambda: len(handler.received) >= len(people), 30, "the standby daemon to send")
        finally:
            standby.terminate()
        assert sorted(handler.recipients()) == people


def test_a_leader_dead_on_another_host_is_replaced_within_the_lease(tmp_path: Path) -> None:
    with smtp_server(RecordingHandler()) as (controller, handler):
        env = _env(tmp_path, controller.port)
        people = write_list(tmp_path / "members.csv", 2)
        at, _ = local_at(1)
        env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEASE_SECONDS)
        with env.engine().begin() as conn:  # it renewed its lease just before its host went down
            conn.execute(locks.insert().values(name="scheduler", holder="elsewhere.example:4242:x",
                                               expires_at=expires))
        started = time.monotonic()
        standby = Daemon(env, "standby", "--wait")
        try:
            standby.wait_log("waiting idle")
            standby.wait_log(TOOK_OVER)
            took_over = time.monotonic() - started
            wait_for(lambda: len(handler.received) >= len(people), 30, "the standby daemon to send")
        finally:
            standby.terminate()
        assert sorted(handler.recipients()) == people  # the firing that fell due while nobody led
        assert took_over >= LEASE_SECONDS - 1.5  # not before the dead leader's lease ran out


@pytest.mark.skipif(not on_postgresql(), reason="several daemons share a database on PostgreSQL only")
def test_a_silent_leader_is_replaced_within_the_lease_and_the_schedule_fires_once(tmp_path: Path) -> None:
    """Two plain `run` daemons. The leader falls silent (SIGSTOP: its process still exists, as when its host is cut
    off), the other takes the lease over once it ran out and fires the schedule that fell due; the old leader, woken,
    steps down, fires nothing, and is then SIGKILLed. One run, one copy each."""
    with smtp_server(RecordingHandler()) as (controller, handler):
        env = _env(tmp_path, controller.port)
        people = write_list(tmp_path / "members.csv", 5)
        leader = Daemon(env, "leader")
        leader.wait_log("started")
        other = Daemon(env, "other")
        try:
            other.wait_log("holds the lease")
            at, _ = local_at(LEASE_SECONDS + 4)
            env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
            time.sleep(2.5)  # a sync of the leader: it arms the firing (it must not fire it twice when it wakes)
            leader.proc.send_signal(signal.SIGSTOP)
            silent = time.monotonic()
            other.wait_log("took over the scheduler lease", 60)
            took_over = time.monotonic() - silent
            wait_for(lambda: len(handler.received) >= len(people), 60, "the other daemon to fire and send")
            leader.proc.send_signal(signal.SIGCONT)
            leader.wait_log("taken over by another daemon", 30)
            time.sleep(3)  # the woken leader's late job and next syncs: they must fire nothing
        finally:
            leader.kill()
            other.terminate()
        assert sorted(handler.recipients()) == people  # fired once, one copy each
        assert [run["fire_key"].startswith("sched:") for run in run_rows(env.engine())] == [True]
        assert took_over >= LEASE_SECONDS - 2.5  # not before the silent leader's lease ran out (renewed every 2 s)
        assert "fired: run" in other.log() and "fired: run" not in leader.log()
