"""The database gone away (ledger/reachability.py, ledger/writer.py): which errors are outages, the backoff, results
recorded after an outage, also over the `uncertain` another worker set meanwhile. Real SQLite, real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError

from solidarity_mailer.ledger import leases
from solidarity_mailer.ledger.reachability import Backoff, database_unreachable, reason
from solidarity_mailer.ledger.row_claims import claim_batch, lease_name, recover_dead_workers
from solidarity_mailer.ledger.schema import connect, deliveries
from solidarity_mailer.ledger.writer import LedgerWriter
from tests import postgres
from tests.databases import on_postgresql
from tests.ledger.test_row_claims import NOW, _run
from tests.processes import cli_command

ALIVE, SILENT = "elsewhere.example:1:a", "elsewhere.example:2:b"  # hosts of their own: judged by their leases only
TTL = dt.timedelta(seconds=30)
LATER = NOW + dt.timedelta(seconds=31)  # the silent worker's lease has run out


def _states(engine: Engine, run_id: int) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(deliveries.c.address, deliveries.c.state)
                                 .where(deliveries.c.run_id == run_id)).all())


def test_results_held_through_an_outage_are_recorded_over_the_uncertain_set_meanwhile(engine: Engine) -> None:
    run_id = _run(engine, 4)
    shared = engine.dialect.name == "postgresql"
    for worker in (ALIVE, SILENT):
        leases.try_acquire(engine, lease_name(run_id, worker, shared=shared), worker, ttl=TTL, now=NOW)
    rows = claim_batch(engine, run_id, SILENT, now=NOW, until=NOW + TTL, limit=4)
    silent = LedgerWriter(engine, run_id, worker=SILENT).start()
    try:
        silent.claim_many([(row.address, f"<{i}@x>", NOW) for i, row in enumerate(rows)])  # handed over
        leases.renew(engine, lease_name(run_id, ALIVE, shared=shared), ALIVE, ttl=TTL * 2, now=LATER)
        assert recover_dead_workers(engine, run_id, now=LATER, worker=ALIVE) == 4  # judged dead: maybe delivered
        with engine.begin() as conn:  # one of them resent (--resend-uncertain) by the other worker
            conn.execute(deliveries.update().where(deliveries.c.address == rows[3].address).values(state="pending"))
        taken = claim_batch(engine, run_id, ALIVE, now=LATER, until=LATER + TTL)
        assert [r.address for r in taken] == [rows[3].address]
        other = LedgerWriter(engine, run_id, worker=ALIVE).start()
        other.claim_many([(rows[3].address, "<3@y>", LATER)])
        other.close()
        silent.outcome(rows[0].address, "sent", "250 ok", LATER)  # what really happened, known to the silent one
        silent.outcome(rows[1].address, "deferred", "451 later", LATER, LATER + TTL)
        silent.release(rows[2].address, "not attempted", LATER)  # its claim's COMMIT went through unacknowledged
        silent.outcome(rows[3].address, "sent", "250 ok", LATER)  # the other holds it now: left alone
        silent.flush()
    finally:
        silent.close()
    states = _states(engine, run_id)
    assert [states[r.address] for r in rows] == ["sent", "deferred", "pending", "sending"]


def test_a_row_left_sending_by_a_worker_holding_nothing_becomes_uncertain(engine: Engine) -> None:
    """A database crash that lost an acknowledged COMMIT of its outcome: the worker, holding nothing, says so."""
    run_id = _run(engine, 2)
    rows = claim_batch(engine, run_id, ALIVE, now=NOW, until=NOW + TTL)
    writer = LedgerWriter(engine, run_id, worker=ALIVE).start()
    writer.claim_many([(rows[0].address, "<0@x>", NOW)])
    writer.close()
    assert recover_dead_workers(engine, run_id, now=NOW, worker=ALIVE) == 1
    assert _states(engine, run_id)[rows[0].address] == "uncertain"


def test_outages_are_told_apart_from_other_errors() -> None:
    psycopg = pytest.importorskip("psycopg")
    with pytest.raises(psycopg.OperationalError) as refused:  # nothing listens on that socket
        psycopg.connect(host="/nonexistent-solidarity", dbname="x", connect_timeout=2)
    assert database_unreachable(refused.value) and "nonexistent-solidarity" in reason(refused.value)
    engine = create_engine("postgresql+psycopg://u:secret@/x?host=/nonexistent-solidarity")
    with pytest.raises(OperationalError) as wrapped:
        engine.connect()
    engine.dispose()
    assert database_unreachable(wrapped.value) and "secret" not in reason(wrapped.value)
    for outage in (psycopg.errors.AdminShutdown, psycopg.errors.CannotConnectNow, psycopg.errors.TooManyConnections):
        assert database_unreachable(outage("terminating connection due to administrator command"))
    for other in (psycopg.errors.DiskFull("no space"), psycopg.errors.QueryCanceled("timeout"),
                  psycopg.errors.UniqueViolation("dup"), sqlite3.OperationalError("database is locked"),
                  ValueError("x")):
        assert not database_unreachable(other)


def test_a_command_finding_the_database_unreachable_says_so_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://mailer:hunter2@/ledger?host=/nonexistent-solidarity"
    config = tmp_path / "solidarity-mailer.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    for args in (["campaigns", "--config", str(config)], ["run", "--config", str(config)]):
        done = subprocess.run([*cli_command(), *args], capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, "SOLIDARITY_MAILER_SECRET": "s" * 32})
        assert done.returncode == 2, done.stderr
        [line] = [x for x in done.stderr.splitlines() if "error:" in x]
        assert "nonexistent-solidarity" in line  # where it looked (the socket), no password
        assert "Traceback" not in done.stderr and "hunter2" not in done.stderr + done.stdout


def test_the_backoff_doubles_from_one_second_to_thirty_with_jitter() -> None:
    most, least = Backoff(draw=lambda: 1.0), Backoff(draw=lambda: 0.0)
    assert [most.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [least.next_delay() for _ in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]


@pytest.fixture
def cluster() -> Iterator[postgres.Cluster]:
    own = postgres.Cluster()
    yield own
    own.remove()


@pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql (the server stops)")
@pytest.mark.slow
def test_the_writer_keeps_its_results_while_the_server_is_down(cluster: postgres.Cluster) -> None:
    engine = connect(cluster.create_database("writer"))
    try:
        run_id = _run(engine, 2)
        rows = claim_batch(engine, run_id, ALIVE, now=NOW, until=NOW + TTL)
        writer = LedgerWriter(engine, run_id, worker=ALIVE).start()
        writer.claim_many([(row.address, f"<{i}@x>", NOW) for i, row in enumerate(rows)])
        cluster.stop("immediate")
        writer.outcome(rows[0].address, "sent", "250 ok", NOW)
        with pytest.raises(Exception) as down:
            writer.flush()
        assert database_unreachable(down.value) and writer.error is None
        with pytest.raises(Exception) as still_down:
            writer.claim_many([(rows[1].address, "<9@x>", NOW)])
        assert database_unreachable(still_down.value)
        cluster.start()
        writer.reconnect()  # a new connection; the result held in memory is committed
        writer.outcome(rows[1].address, "sent", "250 ok", NOW)
        writer.close()
        assert _states(engine, run_id) == {rows[0].address: "sent", rows[1].address: "sent"}
        with engine.connect() as conn:  # the engine's pool, too, recovers by itself (pool_pre_ping)
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
