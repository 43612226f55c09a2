"""The once-per-content rule at the instant of the claim (ledger/received_content.py, ledger/writer.py), on a
real SQLite file: two runs of a campaign that overlap never both hand the same content to one address."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.received_content import (
    CLAIM_SKIPPED,
    manual_run_key,
    record_content,
    skip_already_received,
)
from solidarity_mailer.ledger.schema import campaigns, connect, deliveries, runs
from solidarity_mailer.ledger.writer import LedgerWriter

NOW = ledger.utcnow()
ADDRESS = "reader@example.org"


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.begin() as conn:
        conn.execute(campaigns.insert().values(id="c", path="c.toml", created_at=NOW))
    return engine


def _run(engine, key: str, digest: str | None, *, again: bool = False) -> int:  # type: ignore[no-untyped-def]
    run_id = ledger.open_run(engine, "c", key, now=NOW, again=again)
    if digest is not None:
        record_content(engine, run_id, digest)
    ledger.enqueue(engine, run_id, [Recipient(email=ADDRESS, key=ADDRESS, ascii_email=ADDRESS, list_id="l")],
                   now=NOW)
    return run_id


def _claim(engine, run_id: int) -> Claim:  # type: ignore[no-untyped-def]
    writer = LedgerWriter(engine, run_id).start()
    try:
        [claim] = writer.claim_many([(ADDRESS, f"<{run_id}@x>", NOW)])
    finally:
        writer.close()
    return claim


def _row(engine, run_id: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        row = conn.execute(deliveries.select().where(deliveries.c.run_id == run_id)).one()
    return row.state, row.last_reply


@pytest.mark.parametrize("held", ["sending", "sent", "uncertain"])
def test_a_row_another_run_of_the_same_content_holds_is_skipped_at_the_claim(engine, held: str) -> None:  # type: ignore[no-untyped-def]
    first, second = _run(engine, "a", "d1"), _run(engine, "b", "d1")
    assert _claim(engine, first) is Claim.CLAIMED
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == first).values(state=held))
    assert _claim(engine, second) is Claim.SUPPRESSED
    assert _row(engine, second) == ("skipped", CLAIM_SKIPPED)


def test_failed_elsewhere_other_content_or_again_are_claimed(engine) -> None:  # type: ignore[no-untyped-def]
    failed = _run(engine, "a", "d1")
    _claim(engine, failed)
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == failed).values(state="failed"))
    assert _claim(engine, _run(engine, "b", "d1")) is Claim.CLAIMED  # a failure received nothing
    assert _claim(engine, _run(engine, "c", "d2")) is Claim.CLAIMED  # another content
    assert _claim(engine, _run(engine, "d", "d1", again=True)) is Claim.CLAIMED  # on purpose


def test_a_run_recorded_before_digests_counts_as_the_same_content(engine) -> None:  # type: ignore[no-untyped-def]
    legacy = _run(engine, "manual:c", None)
    _claim(engine, legacy)
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == legacy).values(state="sent"))
    new = _run(engine, "b", "d1")
    [earlier] = skip_already_received(engine, record_content(engine, new, "d1"), now=NOW)
    assert (earlier.run_id, earlier.skipped) == (legacy, 1)
    assert _row(engine, new) == ("skipped", f"already received this content in run {legacy}")
    assert manual_run_key(engine, "c", "d1") == "manual:c"  # it continues, and keeps its digest from now on
    record_content(engine, legacy, "d1")
    assert manual_run_key(engine, "c", "d2") == "manual:c:d2"


def test_a_run_keeps_the_content_it_began_with(engine) -> None:  # type: ignore[no-untyped-def]
    run_id = _run(engine, "a", "d1")
    assert record_content(engine, run_id, "d2").digest == "d1"
    with engine.connect() as conn:
        assert conn.execute(runs.select().where(runs.c.id == run_id)).one().content_digest == "d1"


@pytest.mark.xfail(strict=True, reason="a run without a digest counts as the same content for EVERY digest: once "
                   "a ledger is upgraded, whoever received the old send never gets any edited content")
def test_a_run_recorded_before_digests_is_not_every_content(engine) -> None:  # type: ignore[no-untyped-def]
    legacy = _run(engine, "sched:1:legacy", None)
    _claim(engine, legacy)
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == legacy).values(state="sent"))
    edited = _run(engine, "sched:1:edited", "d2")
    assert skip_already_received(engine, record_content(engine, edited, "d2"), now=NOW) == []
    assert _claim(engine, edited) is Claim.CLAIMED


POSTGRESQL = os.environ.get("SOLIDARITY_MAILER_TEST_POSTGRESQL", "")  # e.g. postgresql+psycopg://u@/db?host=…


@pytest.mark.skipif(not POSTGRESQL, reason="set SOLIDARITY_MAILER_TEST_POSTGRESQL to a scratch database's URL")
@pytest.mark.xfail(strict=True, reason="CLAIM_GUARD's NOT EXISTS sees no uncommitted claim: under PostgreSQL's "
                   "READ COMMITTED two overlapping runs both claim the address (SQLite serialises writers)")
def test_overlapping_claims_exclude_each_other_on_postgresql() -> None:
    from solidarity_mailer.ledger.received_content import run_content
    from solidarity_mailer.ledger.schema import metadata
    from solidarity_mailer.ledger.writer import Statements

    engine = connect(POSTGRESQL)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(campaigns.insert().values(id="c", path="c.toml", created_at=NOW))
    first, second = _run(engine, "a", "d1"), _run(engine, "b", "d1")
    connections = [engine.raw_connection(), engine.raw_connection()]
    try:  # two writers whose claim transactions overlap, as two live runs' group commits do
        claims = [Statements(engine, run_content(engine, run_id)).claim_row(raw.cursor(), run_id, ADDRESS,
                                                                            f"<{run_id}@x>", NOW)
                  for raw, run_id in zip(connections, (first, second), strict=True)]
        for raw in connections:
            raw.commit()
    finally:
        for raw in connections:
            raw.close()
        engine.dispose()
    assert claims.count(Claim.CLAIMED) == 1
