"""The dispatcher through relay outages, races and lost leases, against a real aiosmtpd server and SQLite ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select, update

from solidarity_mailer.deliver.dispatcher import LEASE_LOST, RunDependencies, RunOptions, deliver_run
from solidarity_mailer.deliver.feeder import STATE_EVERY
from solidarity_mailer.deliver.manual_send import EXIT_FAILURES, EXIT_PAUSED
from solidarity_mailer.deliver.relays import OUTAGE_MAX_WAIT
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect, locks
from solidarity_mailer.schedule import schedules
from tests.sendkit import (
    Clock,
    SlowHandler,
    addresses,
    clean_environment,
    open_manual_run,
    rows,
    send,
    states,
    write_list,
    write_project,
)
from tests.smtpserver import free_port, smtp_server


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


@pytest.fixture
def servers() -> Iterator[ExitStack]:
    """Servers started during a test (a relay that comes back), stopped at its end."""
    with ExitStack() as stack:
        yield stack


def start_server(stack: ExitStack, port: int, handler: SlowHandler) -> object:
    """aiosmtpd on a port chosen beforehand (the relay comes back where it was)."""
    return stack.enter_context(smtp_server(handler, port=port))


def test_relay_outage_backs_off_the_run_without_using_attempts(tmp_path: Path, servers: ExitStack) -> None:
    port, handler, emails = free_port(), SlowHandler(), addresses(6)
    campaign, config = write_project(tmp_path, port, emails, max_attempts=2)  # nothing listens on the port yet
    settings, engine, run_id = open_manual_run(config, campaign)
    clock = Clock()
    clock.on_sleep.append(lambda n: n == 4 and start_server(servers, port, handler))  # back after 4 back-offs
    summary = deliver_run(engine, run_id, settings, dependencies=clock.dependencies())
    assert summary.state == "finished" and summary.counts["sent"] == 6 and summary.counts["failed"] == 0
    assert Counter(handler.recipients()) == Counter(emails)  # each exactly once
    assert {attempts for _, attempts, _ in rows(tmp_path).values()} == {1}  # the outage used no attempts
    assert clock.slept[:4] == [0.05, 0.1, 0.2, 0.2]  # the run backed off (retry policy, capped by its maximum)


def test_long_outage_pauses_the_run_and_send_exits_non_zero(tmp_path: Path, servers: ExitStack, capsys) -> None:  # type: ignore[no-untyped-def]
    port, handler, emails = free_port(), SlowHandler(), addresses(5)
    campaign, config = write_project(tmp_path, port, emails, max_attempts=2,
                                     extra_delivery="unreachable_pause_seconds = 0.4")
    assert send(campaign, config) == EXIT_PAUSED
    out = capsys.readouterr().out
    assert "paused" in out and "unreachable" in out and "connection failed" in out
    assert {(state, attempts) for state, attempts, _ in rows(tmp_path).values()} == {("pending", 0)}
    start_server(servers, port, handler)  # the relay is back: the next send delivers everything once
    assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter(emails)


def test_outage_wait_is_capped_and_pause_time_honoured(tmp_path: Path) -> None:
    emails = addresses(2)
    campaign, config = write_project(tmp_path, free_port(), emails)
    config.write_text(config.read_text().replace("retry_base_seconds = 0.05\nretry_max_seconds = 0.2\n",
                                                 "retry_base_seconds = 60\nretry_max_seconds = 7200\n"
                                                 "unreachable_pause_seconds = 1800\n"))
    settings, engine, run_id = open_manual_run(config, campaign)
    clock = Clock()
    summary = deliver_run(engine, run_id, settings, dependencies=clock.dependencies())
    assert summary.state == "paused" and ledger.run_state(engine, run_id) == "paused"
    assert "unreachable for 30 min" in summary.note
    assert max(clock.slept) <= OUTAGE_MAX_WAIT and 1799 <= sum(clock.slept) <= 1801


def test_retry_failed_requeues_failed_rows(tmp_path: Path, servers: ExitStack, capsys) -> None:  # type: ignore[no-untyped-def]
    port, handler, emails = free_port(), SlowHandler(), addresses(4)
    start_server(servers, port, handler)
    handler.rcpt_replies[emails[1]] = ["550 5.2.0 mailbox temporarily disabled"]
    handler.rcpt_replies[emails[2]] = ["550 5.1.1 no such user"]
    campaign, config = write_project(tmp_path, port, emails)
    assert send(campaign, config) == EXIT_FAILURES
    assert send(campaign, config) == EXIT_FAILURES  # still failed: a plain send does not retry them
    assert sorted(handler.recipients()) == [emails[0], emails[3]]
    assert send(campaign, config, "--retry-failed") == 0
    assert sorted(handler.recipients()) == [emails[0], emails[1], emails[3]]  # 5.1.1 was suppressed: skipped
    assert rows(tmp_path)[emails[2]][0] == "skipped"


def test_a_run_cancelled_while_being_prepared_is_not_resurrected(tmp_path: Path, servers: ExitStack) -> None:
    port, handler = free_port(), SlowHandler()
    start_server(servers, port, handler)
    campaign, config = write_project(tmp_path, port, addresses(3))
    settings, engine, run_id = open_manual_run(config, campaign)
    calls: list[int] = []

    def now() -> dt.datetime:  # the first clock reading is after rendering: cancel the run right there
        if not calls:
            schedules.cancel_run(engine, run_id, now=ledger.utcnow())
        calls.append(1)
        return ledger.utcnow()

    summary = deliver_run(engine, run_id, settings, dependencies=RunDependencies(now=now))
    assert summary.state == "cancelled" and "cancelled meanwhile" in summary.note
    assert ledger.run_state(engine, run_id) == "cancelled"
    assert handler.received == []


def test_a_lost_lease_stops_the_run(tmp_path: Path, servers: ExitStack) -> None:
    port, handler, emails = free_port(), SlowHandler(), addresses(150)
    start_server(servers, port, handler)
    campaign, config = write_project(tmp_path, port, emails, concurrency=1)
    settings, engine, run_id = open_manual_run(config, campaign)

    def take_over_at_third(server, session, envelope):  # type: ignore[no-untyped-def]
        if envelope.rcpt_tos == [emails[2]]:  # another process takes the run's lease over
            with engine.begin() as conn:
                conn.execute(update(locks).where(locks.c.name.like(f"run:{run_id}%")).values(holder="elsewhere:1"))
        return None

    handler.on_data = take_over_at_third
    summary = deliver_run(engine, run_id, settings)
    assert summary.note == LEASE_LOST
    assert 3 <= len(handler.received) <= STATE_EVERY + 2  # noticed within STATE_EVERY messages
    assert summary.counts["sending"] == 0 and summary.counts["pending"] == 150 - len(handler.received)
    with engine.connect() as conn:  # the other holder's lease is left alone
        assert conn.execute(select(locks.c.holder).where(locks.c.name.like(f"run:{run_id}%"))).scalar() == "elsewhere:1"


def test_send_list_skips_waiting_rows_of_lists_no_longer_in_the_run(tmp_path: Path, servers: ExitStack) -> None:
    port, handler, emails = free_port(), SlowHandler(), addresses(6)
    start_server(servers, port, handler)
    campaign, config = write_project(tmp_path, port, emails, concurrency=1)
    other = ["b0@example.net", "b1@example.net", emails[5]]  # emails[5] is on both lists
    write_list(tmp_path / "b.csv", other)
    assert send(campaign, config, "--limit", "2") == 0
    assert send(campaign, config, "--list", str(tmp_path / "b.csv")) == 0
    assert sorted(handler.recipients()) == sorted([*emails[:2], *other])  # nothing else of the first list
    found = rows(tmp_path)
    assert {a: found[a][0] for a in emails[2:5]} == dict.fromkeys(emails[2:5], "skipped")
    assert {found[a][2] for a in emails[2:5]} == {ledger.LIST_REMOVED}
    assert send(campaign, config, "--list", str(tmp_path / "recipients" / "list.csv")) == 0  # back on the run
    assert Counter(handler.recipients()) == Counter([*emails, *other[:2]])  # each exactly once


@pytest.mark.sqlite_only  # SQLite's WAL and synchronous=FULL
def test_the_ledger_commits_survive_power_loss(tmp_path: Path, servers: ExitStack) -> None:
    """WAL with synchronous=FULL: a committed ``sending`` is on disk before the message is handed over.

    During a real ``send``, at each message's final dot, a separate read-only connection reads the ledger
    file: what it sees is what a crash at that instant leaves (and, with FULL, what survives power loss)."""
    port, handler, emails = free_port(), SlowHandler(), addresses(5)
    start_server(servers, port, handler)
    campaign, config = write_project(tmp_path, port, emails, concurrency=1)
    on_disk: dict[str, tuple[str, int, str]] = {}

    def read_the_file(server, session, envelope):  # type: ignore[no-untyped-def]
        [address] = envelope.rcpt_tos
        disk = sqlite3.connect(f"file:{tmp_path / 'ledger.db'}?mode=ro", uri=True)
        try:
            [(state, attempts)] = disk.execute(
                "SELECT state, attempts FROM deliveries WHERE address = ?", (address,)).fetchall()
            on_disk[address] = (state, attempts, disk.execute("PRAGMA journal_mode").fetchone()[0])
        finally:
            disk.close()
        return None

    handler.on_data = read_the_file
    assert send(campaign, config) == 0
    assert on_disk == dict.fromkeys(emails, ("sending", 1, "wal"))  # committed before each hand-over, in WAL
    assert states(tmp_path) == dict.fromkeys(emails, "sent")
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")  # the settings of every ledger connection
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL (NORMAL is 1)
    finally:
        raw.close()
        engine.dispose()


def test_a_worker_joining_a_run_paused_meanwhile_leaves_it_paused(tmp_path: Path, servers: ExitStack) -> None:
    # a daemon found the run `running` and queued it; a `pause` came before it began: it must not resume it
    port, handler, emails = free_port(), SlowHandler(), addresses(3)
    start_server(servers, port, handler)
    campaign, config = write_project(tmp_path, port, emails, concurrency=1)
    settings, engine, run_id = open_manual_run(config, campaign)
    ledger.set_run_state(engine, run_id, "paused", now=ledger.utcnow(), note="paused by a command")
    summary = deliver_run(engine, run_id, settings, RunOptions(only_while_running=True))
    assert summary.state == "paused" and ledger.run_state(engine, run_id) == "paused"
    assert handler.received == []
