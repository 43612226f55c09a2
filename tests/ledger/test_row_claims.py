"""Rows claimed in batches by workers (ledger/row_claims.py), on a real SQLite file or a real PostgreSQL: a batch
holds what it claimed, the others skip it, a dead worker's rows come back (pending) or become uncertain (sending)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.ledger import leases
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.received_content import record_content
from solidarity_mailer.ledger.row_claims import (
    claim_batch,
    lease_name,
    next_look,
    recover_dead_workers,
    release_claims,
)
from solidarity_mailer.ledger.schema import campaigns, deliveries
from solidarity_mailer.ledger.writer import LedgerWriter

NOW = ledger.utcnow()
LATER = NOW + dt.timedelta(seconds=30)
ALIVE, GONE = "elsewhere.example:1:a", "elsewhere.example:2:b"  # hosts of their own: judged by their leases only


def _run(engine: Engine, n: int) -> int:
    with engine.begin() as conn:
        conn.execute(campaigns.insert().values(id="c", path="c.toml", created_at=NOW))
    run_id = ledger.open_run(engine, "c", "manual:c", now=NOW)
    record_content(engine, run_id, "0" * 64)
    people = [f"r{i:04d}@example.org" for i in range(n)]
    ledger.enqueue(engine, run_id, [Recipient(email=a, key=a, ascii_email=a, list_id="l") for a in people], now=NOW)
    return run_id


def _shared(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def test_a_batch_takes_its_limit_and_the_next_worker_the_rows_after(engine: Engine) -> None:
    run_id = _run(engine, 500)
    first = claim_batch(engine, run_id, ALIVE, now=NOW, until=LATER, limit=200)
    second = claim_batch(engine, run_id, GONE, now=NOW, until=LATER, limit=200)
    assert len(first) == len(second) == 200
    assert not {r.address for r in first} & {r.address for r in second}
    assert [r.address for r in first] == sorted(r.address for r in first)
    assert len(claim_batch(engine, run_id, "third:3:c", now=NOW, until=LATER, limit=200)) == 100
    assert claim_batch(engine, run_id, "fourth:4:d", now=NOW, until=LATER) == []  # everything is held
    assert next_look(engine, run_id, "fourth:4:d", now=NOW) == LATER  # when the holds run out


def test_a_worker_gets_its_own_rows_again_and_gives_them_up(engine: Engine) -> None:
    run_id = _run(engine, 10)
    first = claim_batch(engine, run_id, ALIVE, now=NOW, until=LATER, limit=10)
    assert claim_batch(engine, run_id, ALIVE, now=NOW, until=LATER, limit=10) == first
    assert release_claims(engine, run_id, ALIVE) == 10
    assert len(claim_batch(engine, run_id, GONE, now=NOW, until=LATER, limit=10)) == 10


def test_a_dead_workers_held_rows_come_back_and_its_sending_rows_become_uncertain(engine: Engine) -> None:
    run_id = _run(engine, 6)
    shared = _shared(engine)
    for worker in (ALIVE, GONE):
        assert leases.try_acquire(engine, lease_name(run_id, worker, shared=shared), worker,
                                  ttl=dt.timedelta(seconds=30), now=NOW) is None or not shared
    held = claim_batch(engine, run_id, GONE, now=NOW, until=LATER, limit=4)
    writer = LedgerWriter(engine, run_id, worker=GONE).start()
    writer.claim_many([(row.address, f"<{i}@x>", NOW) for i, row in enumerate(held[:2])])  # handed over
    writer.close()
    mine = claim_batch(engine, run_id, ALIVE, now=NOW, until=LATER, limit=6)
    assert len(mine) == 2  # the dead one's rows are still held...
    after = NOW + dt.timedelta(seconds=31)  # ...until its lease expired (the alive one renewed its own)
    leases.renew(engine, lease_name(run_id, ALIVE, shared=shared), ALIVE, ttl=dt.timedelta(seconds=60), now=after)
    assert recover_dead_workers(engine, run_id, now=after, worker=ALIVE) == 2
    with engine.connect() as conn:
        states = dict(conn.execute(select(deliveries.c.address, deliveries.c.state)
                                   .where(deliveries.c.run_id == run_id)).all())
    assert sorted(states.values()) == ["pending"] * 4 + ["uncertain"] * 2
    assert {r.address for r in claim_batch(engine, run_id, ALIVE, now=after, until=after, limit=6)} == {
        a for a, s in states.items() if s == "pending"}
