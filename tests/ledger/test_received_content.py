"""The once-per-content rule at the instant of the claim (ledger/received_content.py, ledger/writer.py), on a
real SQLite file: two runs of a campaign that overlap never both hand the same content to one address."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.received_content import (
    WAITING,
    ContentChanged,
    manual_run_key,
    record_content,
    skip_already_received,
    skipped_since,
)
from solidarity_mailer.ledger.schema import campaigns, connect, deliveries, locks, runs
from solidarity_mailer.ledger.writer import LedgerWriter
from tests.databases import ledger_url, on_postgresql

NOW = ledger.utcnow()
ADDRESS = "reader@example.org"


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = connect(ledger_url(tmp_path))
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


@pytest.mark.parametrize("held", ["sent", "uncertain"])
def test_a_row_another_run_of_the_same_content_delivered_is_skipped_at_the_claim(engine, held: str) -> None:  # type: ignore[no-untyped-def]
    first, second = _run(engine, "a", "d1"), _run(engine, "b", "d1")
    assert _claim(engine, first) is Claim.CLAIMED
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == first).values(state=held))
    assert _claim(engine, second) is Claim.ALREADY_RECEIVED
    assert _row(engine, second) == ("skipped", f"already received this content in run {first}")


def _lease(engine, run_id: int, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """The run's lease, as the process sending it holds it (``run:ID``), expiring ``seconds`` from NOW."""
    with engine.begin() as conn:
        conn.execute(locks.delete().where(locks.c.name == f"run:{run_id}"))
        conn.execute(locks.insert().values(name=f"run:{run_id}", holder="host:1",
                                           expires_at=NOW + dt.timedelta(seconds=seconds)))


def test_a_row_another_run_is_handing_over_waits_and_is_sent_if_that_attempt_fails(engine) -> None:  # type: ignore[no-untyped-def]
    first, second = _run(engine, "a", "d1"), _run(engine, "b", "d1")
    assert _claim(engine, first) is Claim.CLAIMED  # `sending` in the first run
    _lease(engine, first, 60)  # held by a live process
    assert _claim(engine, second) is Claim.WAITING
    assert _row(engine, second) == ("deferred", WAITING)
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == first).values(state="failed"))
    assert _claim(engine, second) is Claim.CLAIMED  # the first attempt failed: this run sends it


def test_a_row_left_sending_by_a_process_that_is_gone_counts_as_maybe_delivered(engine) -> None:  # type: ignore[no-untyped-def]
    first, second = _run(engine, "a", "d1"), _run(engine, "b", "d1")
    assert _claim(engine, first) is Claim.CLAIMED
    _lease(engine, first, -1)  # its process died: the lease ran out
    assert _claim(engine, second) is Claim.ALREADY_RECEIVED
    assert _row(engine, second) == ("skipped", f"already received this content in run {first}")


def test_failed_elsewhere_other_content_or_again_are_claimed(engine) -> None:  # type: ignore[no-untyped-def]
    failed = _run(engine, "a", "d1")
    _claim(engine, failed)
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == failed).values(state="failed"))
    assert _claim(engine, _run(engine, "b", "d1")) is Claim.CLAIMED  # a failure received nothing
    assert _claim(engine, _run(engine, "c", "d2")) is Claim.CLAIMED  # another content
    assert _claim(engine, _run(engine, "d", "d1", again=True)) is Claim.CLAIMED  # on purpose


def test_a_run_recorded_before_digests_counts_as_the_same_content(engine) -> None:  # type: ignore[no-untyped-def]
    legacy = _run(engine, "manual:c", None)  # sent by release 0.1.0, which recorded no digest
    with engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.run_id == legacy).values(state="sent", attempts=1))
    new = _run(engine, "b", "d1")
    assert skip_already_received(engine, record_content(engine, new, "d1"), now=NOW) == 1
    [earlier] = skipped_since(engine, new, NOW)
    assert (earlier.run_id, earlier.skipped) == (legacy, 1)
    assert _row(engine, new) == ("skipped", f"already received this content in run {legacy}")
    assert manual_run_key(engine, "c", "d1") == "manual:c"  # it continues, and keeps its digest from now on
    record_content(engine, legacy, "d1")
    assert manual_run_key(engine, "c", "d2") == "manual:c:d2"


def test_a_run_keeps_the_content_it_began_sending(engine) -> None:  # type: ignore[no-untyped-def]
    run_id = _run(engine, "a", "d1")
    assert record_content(engine, run_id, "d2").digest == "d2"  # nothing attempted yet: the new content
    _claim(engine, run_id)
    with pytest.raises(ContentChanged, match=f"changed after run {run_id} began sending"):
        record_content(engine, run_id, "d3")
    assert record_content(engine, run_id, "d2").digest == "d2"
    with engine.connect() as conn:
        assert conn.execute(runs.select().where(runs.c.id == run_id)).one().content_digest == "d2"


@pytest.mark.skipif(not on_postgresql(), reason="PostgreSQL's READ COMMITTED: run with --database postgresql")
def test_overlapping_claims_exclude_each_other_on_postgresql(engine) -> None:  # type: ignore[no-untyped-def]
    from solidarity_mailer.ledger.received_content import run_content
    from solidarity_mailer.ledger.transitions import Statements

    first, second = _run(engine, "a", "d1"), _run(engine, "b", "d1")
    _lease(engine, first, 60)
    claims: dict[int, Claim] = {}

    def claim(run_id: int, commit_after: float) -> None:
        raw = engine.raw_connection()
        try:
            claims[run_id] = Statements(engine, run_content(engine, run_id)).claim_row(
                raw.cursor(), run_id, ADDRESS, f"<{run_id}@x>", NOW)
            time.sleep(commit_after)
            raw.commit()
        finally:
            raw.close()

    other = threading.Thread(target=claim, args=(first, 0.5))  # two claim transactions that overlap, as two
    other.start()  # live runs' group commits do
    time.sleep(0.2)  # the first holds its claim, uncommitted
    claim(second, 0.0)
    other.join()
    assert (claims[first], claims[second]) == (Claim.CLAIMED, Claim.WAITING)
