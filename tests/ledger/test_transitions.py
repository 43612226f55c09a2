"""The claims of one COMMIT taken by one statement (ledger/transitions.py), on a real SQLite file or a real
PostgreSQL: each row gets the answer it would get alone, in order, and its own Message-ID."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from solidarity_mailer.ledger import suppressions
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.row_claims import claim_batch
from solidarity_mailer.ledger.schema import deliveries
from solidarity_mailer.ledger.transitions import Statements
from solidarity_mailer.ledger.writer import LedgerWriter
from tests.ledger.test_row_claims import ALIVE, NOW, _run

ME = "here.example:9:z"


def _rows(engine: Engine, run_id: int) -> dict[str, tuple[str, str | None, int]]:
    with engine.connect() as conn:
        return {a: (s, m, n) for a, s, m, n in conn.execute(
            select(deliveries.c.address, deliveries.c.state, deliveries.c.message_id, deliveries.c.attempts)
            .where(deliveries.c.run_id == run_id))}


def test_one_statement_answers_each_row_as_alone_in_order(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _run(engine, 8)
    people = sorted(_rows(engine, run_id))
    suppressions.add(engine, people[1], reason="unsubscribed", detail="test", now=NOW)
    held = claim_batch(engine, run_id, ALIVE, now=NOW, until=NOW + dt.timedelta(seconds=30), limit=1,
                       after=people[2])  # another live worker holds people[3]
    assert [r.address for r in held] == [people[3]]
    alone: list[str] = []  # the rows looked at one by one
    one_by_one = Statements.claim_row
    monkeypatch.setattr(Statements, "claim_row", lambda self, cursor, run, address, *rest: (
        alone.append(address), one_by_one(self, cursor, run, address, *rest))[1])
    writer = LedgerWriter(engine, run_id, worker=ME).start()
    try:
        assert writer.claim_many([(people[4], "<4@x>", NOW)]) == [Claim.CLAIMED]
        later = NOW + dt.timedelta(seconds=1)
        asked = [people[0], people[1], people[3], people[4], people[5], people[2]]
        claims = writer.claim_many([(a, f"<{i}.{a}@x>", later) for i, a in enumerate(asked)])
        assert alone == [people[4], people[1], people[3], people[4]]  # alone: the single one, then the untaken
        twice = writer.claim_many([(people[6], "<a@x>", later), (people[6], "<b@x>", later)])
    finally:
        writer.close()
    assert claims == [Claim.CLAIMED, Claim.SUPPRESSED, Claim.TAKEN, Claim.TAKEN, Claim.CLAIMED, Claim.CLAIMED]
    assert twice == [Claim.CLAIMED, Claim.TAKEN]  # the same address twice: the second finds it taken
    rows = _rows(engine, run_id)
    assert rows[people[0]] == ("sending", f"<0.{people[0]}@x>", 1)
    assert rows[people[1]][0] == "skipped"
    assert rows[people[3]] == ("pending", "", 0)  # still the other worker's
    assert rows[people[4]] == ("sending", "<4@x>", 1)  # claimed once, by the first call
    assert rows[people[5]] == ("sending", f"<4.{people[5]}@x>", 1)
    assert rows[people[2]] == ("sending", f"<5.{people[2]}@x>", 1)
    assert rows[people[6]] == ("sending", "<a@x>", 1)
    assert rows[people[7]] == ("pending", "", 0)  # not asked for
