"""The claims of one COMMIT taken by one statement (ledger/transitions.py), on a real SQLite file or a real
PostgreSQL: each row gets the answer it would get alone, in order, and its own Message-ID."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger import suppressions
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.received_content import record_content
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


def _mid(address: str) -> str:
    return f"<m.{address}@x>"


def _enqueued_with_ids(engine: Engine, n: int) -> int:
    """A run of ``n`` rows enqueued with their Message-IDs (``_mid``), as the dispatcher enqueues them."""
    run_id = _run(engine, 0)
    people = [f"r{i:04d}@example.org" for i in range(n)]
    ledger.enqueue(engine, run_id, [Recipient(email=a, key=a, ascii_email=a, list_id="l") for a in people], now=NOW,
                   message_id=_mid)
    return run_id


def _alone(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses :meth:`Statements.claim_row` is asked for from now on (the rows looked at one by one)."""
    alone: list[str] = []
    one_by_one = Statements.claim_row
    monkeypatch.setattr(Statements, "claim_row", lambda self, cursor, run, address, *rest: (
        alone.append(address), one_by_one(self, cursor, run, address, *rest))[1])
    return alone


def test_one_statement_answers_each_row_as_alone_in_order(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _enqueued_with_ids(engine, 8)
    people = sorted(_rows(engine, run_id))
    suppressions.add(engine, people[1], reason="unsubscribed", detail="test", now=NOW)
    held = claim_batch(engine, run_id, ALIVE, now=NOW, until=NOW + dt.timedelta(seconds=30), limit=1,
                       after=people[2])  # another live worker holds people[3]
    assert [r.address for r in held] == [people[3]]
    alone = _alone(monkeypatch)
    writer = LedgerWriter(engine, run_id, worker=ME).start()
    try:
        assert writer.claim_many([(people[4], _mid(people[4]), NOW)]) == [Claim.CLAIMED]
        later = NOW + dt.timedelta(seconds=1)
        asked = [people[0], people[1], people[3], people[4], people[5], people[2]]
        claims = writer.claim_many([(a, _mid(a), later) for a in asked])
        assert alone == [people[4], people[1], people[3], people[4]]  # alone: the single one, then the untaken
        twice = writer.claim_many([(people[6], _mid(people[6]), later), (people[6], "<b@x>", later)])
    finally:
        writer.close()
    assert claims == [Claim.CLAIMED, Claim.SUPPRESSED, Claim.TAKEN, Claim.TAKEN, Claim.CLAIMED, Claim.CLAIMED]
    assert twice == [Claim.CLAIMED, Claim.TAKEN]  # the same address twice: the second finds it taken
    rows = _rows(engine, run_id)
    assert rows[people[0]] == ("sending", _mid(people[0]), 1)
    assert rows[people[1]][0] == "skipped"
    assert rows[people[3]] == ("pending", _mid(people[3]), 0)  # still the other worker's
    assert rows[people[4]] == ("sending", _mid(people[4]), 1)  # claimed once, by the first call
    assert rows[people[5]] == ("sending", _mid(people[5]), 1)
    assert rows[people[2]] == ("sending", _mid(people[2]), 1)
    assert rows[people[6]] == ("sending", _mid(people[6]), 1)
    assert rows[people[7]] == ("pending", _mid(people[7]), 0)  # not asked for


def test_a_row_holding_another_message_id_is_claimed_alone_and_gets_the_one_asked(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows enqueued without one (an older ledger: ``''``) or with another (a changed secret) are claimed alone, and
    the claim writes the Message-ID the message carries; the others are taken by the one statement, theirs kept."""
    run_id = _enqueued_with_ids(engine, 4)
    people = sorted(_rows(engine, run_id))
    older = ledger.open_run(engine, "c", "manual:c:older", now=NOW)  # enqueued as 0.1.0 did: Message-IDs empty
    record_content(engine, older, "1" * 64)
    ledger.enqueue(engine, older, [Recipient(email=a, key=a, ascii_email=a, list_id="l") for a in people[:2]], now=NOW)
    alone = _alone(monkeypatch)
    writer = LedgerWriter(engine, run_id, worker=ME).start()
    try:
        claims = writer.claim_many([(people[0], _mid(people[0]), NOW), (people[1], "<new.secret@x>", NOW),
                                    (people[2], _mid(people[2]), NOW)])
    finally:
        writer.close()
    assert claims == [Claim.CLAIMED] * 3
    assert alone == [people[1]]
    rows = _rows(engine, run_id)
    assert rows[people[0]] == ("sending", _mid(people[0]), 1)
    assert rows[people[1]] == ("sending", "<new.secret@x>", 1)
    assert rows[people[2]] == ("sending", _mid(people[2]), 1)
    alone.clear()
    writer = LedgerWriter(engine, older, worker=ME).start()
    try:
        assert writer.claim_many([(a, _mid(a), NOW) for a in people[:2]]) == [Claim.CLAIMED] * 2
    finally:
        writer.close()
    assert alone == people[:2]
    assert _rows(engine, older) == {a: ("sending", _mid(a), 1) for a in people[:2]}
