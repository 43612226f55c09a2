"""The scheduler daemon as a real process (``solidarity-mailer run``), a real SMTP server, a real SQLite file.

Delays are not asserted (bench/schedule_delay.py measures them); only that nothing fires early, nothing
is missed and nothing is sent twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER
from tests.daemonproc import CAMPAIGN, Daemon, Env, delivery_states, local_at, run_rows, wait_for, write_list
from tests.databases import on_postgresql
from tests.smtpserver import RecordingHandler, smtp_server

pytestmark = pytest.mark.slow


class TimedHandler(RecordingHandler):
    """Records when each message arrived; ``delay`` slows every DATA down (a slow relay)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.delay = delay
        self.on_data = self._on_data

    def _on_data(self, server: SMTP, session: Session, envelope: Envelope) -> str | None:
        if self.delay:
            time.sleep(self.delay)
        self.arrivals.append(time.time())
        return None


@pytest.fixture
def slow_smtp() -> Iterator[tuple[int, TimedHandler]]:
    handler = TimedHandler(delay=0.15)
    with smtp_server(handler) as (controller, _):
        yield controller.port, handler


@pytest.fixture
def timed_smtp() -> Iterator[tuple[int, TimedHandler]]:
    handler = TimedHandler()
    with smtp_server(handler) as (controller, _):
        yield controller.port, handler


def test_one_off_fires_at_its_time_exactly_once(tmp_path: Path, timed_smtp: tuple[int, TimedHandler]) -> None:
    port, handler = timed_smtp
    env = Env(tmp_path, port)
    people = write_list(tmp_path / "members.csv", 12)
    daemon = Daemon(env)
    try:
        daemon.wait_log("started")
        at, epoch = local_at(3)
        sid = env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
        wait_for(lambda: len(handler.received) >= len(people), 30, "every message")
        wait_for(lambda: "finished" in daemon.log(), 10, "the run to finish")
    finally:
        assert daemon.terminate() == 0
    assert min(handler.arrivals) >= epoch  # never early
    assert sorted(handler.recipients()) == people  # each exactly once
    [run] = run_rows(env.engine())
    assert run["fire_key"] == f"sched:{sid}:{datetime.fromtimestamp(epoch, UTC).isoformat()}"
    assert run["state"] == "finished"
    [camp] = [c for c in env.campaigns() if c["id"] == "peru-solidarity-2023"]
    assert camp["schedules"][0]["state"] == "done"
    assert camp["last_run"]["counts"] == {"sent": 12}
    assert "daemon stopped" in daemon.log()


def test_recurring_cron_fires_at_each_occurrence_across_the_dst_gap(
    tmp_path: Path, timed_smtp: tuple[int, TimedHandler]
) -> None:
    # Test clock: six simulated hours per real second, shared by the CLI and the daemon (same origin).
    port, handler = timed_smtp
    clock = f"start=2026-03-27T00:00:00+00:00,speed=21600,origin={time.time():.3f}"
    env = Env(tmp_path, port, extra={"SOLIDARITY_MAILER_TEST_CLOCK": clock})
    people = write_list(tmp_path / "members.csv", 3)
    daemon = Daemon(env)
    try:
        daemon.wait_log("started")
        env.schedule("--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--list", str(tmp_path / "members.csv"),
                     "--grace", "86400", "--again")  # the same content every day, to everyone on purpose
        # 2026-03-28 01:30Z (CET), 2026-03-29 01:30Z (02:30 does not exist: fired at 03:30 CEST), 03-30 00:30Z
        wait_for(lambda: len(handler.received) >= 3 * len(people), 40, "three daily firings")
        wait_for(lambda: sum(r["state"] == "finished" for r in run_rows(env.engine())) >= 3, 10, "three runs")
    finally:
        daemon.terminate()
    rows = run_rows(env.engine())
    keys = [r["fire_key"].split(":", 2)[2] for r in rows][:3]
    daily = ["2026-03-28T01:30:00+00:00", "2026-03-29T01:30:00+00:00", "2026-03-30T00:30:00+00:00",
             "2026-03-31T00:30:00+00:00"]  # 01:30Z in CET; on the 29th 02:30 is in the gap; then 00:30Z in CEST
    assert keys in (daily[:3], daily[1:])  # three consecutive days, through the gap (the start depends on load)
    assert all(r["state"] != "missed" for r in rows)
    for run in rows[:3]:
        assert delivery_states(env.engine(), run["id"]) == {p: "sent" for p in people}
    handed_over = Counter(a for r in rows for a, st in delivery_states(env.engine(), r["id"]).items()
                          if st in ("sent", "uncertain"))
    assert Counter(handler.recipients()) == handed_over  # once per run, never twice


def test_killed_before_firing_sends_once_within_grace_and_records_miss_beyond(
    tmp_path: Path, timed_smtp: tuple[int, TimedHandler]
) -> None:
    port, handler = timed_smtp
    env = Env(tmp_path, port)
    people = write_list(tmp_path / "members.csv", 5)
    first = Daemon(env, "first")
    first.wait_log("started")
    at, epoch = local_at(6)
    within = env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))  # grace 3600 s
    beyond = env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"), "--grace", "1")
    first.kill()  # before the firing time
    wait_for(lambda: time.time() > epoch + 3, 10, "the firing time to pass")
    assert handler.received == []
    second = Daemon(env, "second")  # the dead daemon's lease is taken over at once
    try:
        wait_for(lambda: len(handler.received) >= len(people), 30, "the late firing")
        wait_for(lambda: any(r["state"] == "missed" for r in run_rows(env.engine())), 10, "the missed run")
        wait_for(lambda: any(r["state"] == "finished" for r in run_rows(env.engine())), 10, "the finished run")
        time.sleep(2.5)  # one more sync: nothing else may fire
    finally:
        assert second.terminate() == 0
    assert sorted(handler.recipients()) == people  # once, not twice
    by_key = {r["fire_key"].split(":")[1]: r for r in run_rows(env.engine())}
    assert by_key[str(within)]["state"] == "finished"
    assert by_key[str(beyond)]["state"] == "missed"
    assert "beyond the grace period of 1 s" in by_key[str(beyond)]["note"]
    assert "recorded as missed" in second.log()
    shown = env.cli("campaigns")
    assert "missed firing(s)" in shown.stdout


def test_run_killed_midway_finishes_after_restart_without_missing_anyone(
    tmp_path: Path, slow_smtp: tuple[int, TimedHandler]
) -> None:
    port, handler = slow_smtp
    env = Env(tmp_path, port)
    people = write_list(tmp_path / "members.csv", 40)
    first = Daemon(env, "first")
    first.wait_log("started")
    at, _ = local_at(1)
    env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
    wait_for(lambda: len(handler.received) >= 10, 30, "ten messages")
    first.kill()  # mid-run, possibly in the middle of a transaction
    [run] = run_rows(env.engine())
    assert run["state"] == "running"
    second = Daemon(env, "second")
    try:
        second.wait_log("resuming run")
        wait_for(lambda: run_rows(env.engine())[0]["state"] == "finished", 60, "the run to finish")
    finally:
        second.terminate()
    states = delivery_states(env.engine(), run["id"])
    uncertain = {a for a, s in states.items() if s == "uncertain"}
    received = Counter(handler.recipients())
    assert set(states) == set(people)
    assert all(s in ("sent", "uncertain") for s in states.values())
    assert set(received) | uncertain == set(people)  # nobody missed: delivered, or reported uncertain
    assert {a for a, n in received.items() if n > 1} <= uncertain  # duplicates only among the uncertain
    assert len(uncertain) <= HELD_PER_SENDER  # one connection: at most the rows its sender held


def test_second_daemon_refuses_and_two_unlocked_daemons_never_double_send(
    tmp_path: Path, timed_smtp: tuple[int, TimedHandler]
) -> None:
    port, handler = timed_smtp
    env = Env(tmp_path, port)
    first = Daemon(env, "first")
    first.wait_log("started")
    if not on_postgresql():  # (on PostgreSQL a second daemon is one more worker: tests/deliver/test_workers.py)
        refused = Daemon(env, "refused")
        assert refused.wait() == 2
        assert "another scheduler daemon" in refused.log() and "run --wait" in refused.log()
    first.terminate()
    # Without the lease (test-only switch), two daemons race for every firing: the ledger must hold.
    people = write_list(tmp_path / "members.csv", 30)
    a = Daemon(env, "a", SOLIDARITY_MAILER_TEST_NO_LOCK="1")
    b = Daemon(env, "b", SOLIDARITY_MAILER_TEST_NO_LOCK="1")
    try:
        a.wait_log("started")
        b.wait_log("started")
        at, _ = local_at(2)
        for _ in range(2):
            env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
        wait_for(lambda: sum(r["state"] == "finished" for r in run_rows(env.engine())) == 2, 40, "both runs")
        time.sleep(2.5)
    finally:
        a.terminate()
        b.terminate()
    assert len(run_rows(env.engine())) == 2  # one run per occurrence, not one per daemon
    # two schedules of the same content, two daemons racing for both runs: still once per person
    assert Counter(handler.recipients()) == {p: 1 for p in people}


def test_waiting_daemon_takes_over_when_the_first_stops(
    tmp_path: Path, timed_smtp: tuple[int, TimedHandler]
) -> None:
    port, handler = timed_smtp
    env = Env(tmp_path, port)
    people = write_list(tmp_path / "members.csv", 4)
    first = Daemon(env, "first")
    first.wait_log("started")
    second = Daemon(env, "second", "--wait")
    try:
        second.wait_log("waiting idle")
        assert first.terminate() == 0  # releases the lease
        second.wait_log("took over the scheduler lease" if on_postgresql() else "started")
        at, _ = local_at(2)
        env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
        wait_for(lambda: len(handler.received) >= len(people), 30, "the waiting daemon to send")
    finally:
        second.terminate()
    assert sorted(handler.recipients()) == people


@pytest.mark.sqlite_only  # on PostgreSQL it goes on delivering as a worker (tests/deliver/test_workers.py)
def test_daemon_that_loses_its_lease_stops_with_an_error(tmp_path: Path) -> None:
    from sqlalchemy import update

    from solidarity_mailer.ledger.schema import locks

    env = Env(tmp_path, 2525)
    daemon = Daemon(env)
    daemon.wait_log("started")
    with env.engine().begin() as conn:  # another daemon took the lease over (e.g. this one hung past the TTL)
        conn.execute(update(locks).where(locks.c.name == "scheduler").values(holder="elsewhere.example:1:ffffff"))
    assert daemon.wait(20) == 2
    assert "another daemon took over the scheduler lease" in daemon.log()


def test_pause_and_cancel_take_effect_within_seconds(tmp_path: Path, slow_smtp: tuple[int, TimedHandler]) -> None:
    port, handler = slow_smtp
    env = Env(tmp_path, port)
    people = write_list(tmp_path / "members.csv", 40)
    daemon = Daemon(env)
    try:
        daemon.wait_log("started")
        at, epoch = local_at(4)
        sid = env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
        assert env.cli("pause", "schedule", str(sid)).stdout.startswith(f"schedule {sid} is now paused")
        wait_for(lambda: time.time() > epoch + 3, 10, "the paused firing time to pass")
        assert handler.received == [] and run_rows(env.engine()) == []
        env.cli("resume", "schedule", str(sid))  # still within its grace period: it goes out now
        wait_for(lambda: len(handler.received) >= 5, 20, "the resumed schedule to send")
        run_id = run_rows(env.engine())[0]["id"]
        done = env.cli("pause", "run", str(run_id))
        assert done.returncode == 0, done.stderr
        time.sleep(2)
        settled = len(handler.received)
        time.sleep(2)
        assert len(handler.received) == settled < len(people)  # stopped between messages
        assert run_rows(env.engine())[0]["state"] == "paused"
        env.cli("resume", "run", str(run_id))
        wait_for(lambda: run_rows(env.engine())[0]["state"] == "finished", 40, "the resumed run to finish")
        # cancel: an interval schedule whose first firing is 8 s away fires no more once cancelled (8 s: the two
        # commands' own start-up took over 3 s on a loaded machine, and the firing came before the cancel)
        scheduled_at = time.time()
        every = env.schedule("--every", "8s", "--list", str(tmp_path / "members.csv"))
        assert env.cli("cancel", "schedule", str(every)).returncode == 0
        wait_for(lambda: time.time() > scheduled_at + 10, 15, "the cancelled schedule's first firing time to pass")
    finally:
        daemon.terminate()
    assert sorted(handler.recipients()) == people
    assert len(run_rows(env.engine())) == 1


def test_dst_gap_and_overlap_are_refused_by_the_cli(tmp_path: Path) -> None:
    env = Env(tmp_path, 2525)
    gap = env.cli("schedule", str(CAMPAIGN), "--at", "2026-03-29 02:30", "--tz", "Europe/Berlin")
    overlap = env.cli("schedule", str(CAMPAIGN), "--at", "2026-10-25 02:30", "--tz", "Europe/Berlin")
    assert gap.returncode == overlap.returncode == 2
    assert gap.stderr.count("\n") == overlap.stderr.count("\n") == 1  # one line, no traceback
    assert "does not exist in Europe/Berlin" in gap.stderr and "'2026-03-29 03:30'" in gap.stderr
    assert "ambiguous in Europe/Berlin" in overlap.stderr and "'2026-10-25 02:30+01:00'" in overlap.stderr

