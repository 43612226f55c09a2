"""How many rows a sender holds committed `sending` (deliver/claim_loop.py): eight without a rate limit, three under
one (rows that waited in the loop would otherwise leave in a burst of up to eight, over the limit). A real SQLite
ledger, the real sender process and a real SMTP server that holds the first message's reply back, so the loop fills
the sender's hand and no further."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER, HELD_WHEN_LIMITED
from solidarity_mailer.deliver.dispatcher import deliver_run
from solidarity_mailer.ledger import queries as ledger
from tests.sendkit import addresses, clean_environment, open_manual_run, write_project
from tests.smtpserver import smtp_server


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


@pytest.mark.parametrize(("per_second", "most"), [(0, HELD_PER_SENDER), (1000, HELD_WHEN_LIMITED)],
                         ids=["no limit", "a rate limit"])
def test_a_sender_holds_fewer_rows_under_a_rate_limit(tmp_path: Path, per_second: int, most: int) -> None:
    emails = addresses(40)
    gate = threading.Event()
    with smtp_server() as (controller, handler):
        handler.on_data = lambda *_: (gate.wait(60), None)[1]  # the reply waits: the sender's hand fills
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1, per_second=per_second)
        settings, engine, run_id = open_manual_run(config, campaign)
        done: dict[str, object] = {}
        worker = threading.Thread(target=lambda: done.update(summary=deliver_run(engine, run_id, settings)),
                                  daemon=True)
        worker.start()
        try:
            _check_hold(engine, run_id, per_second, most)
        finally:
            gate.set()  # whatever was found: the run must end (a failed check must not hang the suite)
        worker.join(60)
        assert done["summary"].state == "finished"  # type: ignore[attr-defined]
        assert sorted(handler.recipients()) == sorted(emails)


def _check_hold(engine: Engine, run_id: int, per_second: int, most: int) -> None:
    """The rows in hand, once the first is and the count holds still for 0.5 s: at most ``most``."""
    deadline, seen = time.monotonic() + 30, [0]
    while not seen[-1] and time.monotonic() < deadline:  # the first row in hand
        seen.append(ledger.counts(engine, run_id)["sending"])
        time.sleep(0.05)
    start = len(seen)
    while (len(seen) < start + 10 or len(set(seen[-10:])) > 1) and time.monotonic() < deadline:  # 0.5 s unchanged
        seen.append(ledger.counts(engine, run_id)["sending"])
        time.sleep(0.05)
    assert 1 <= max(seen) <= most  # never more in hand than the hold (a rate limit: 2 or 3, as rows come)
    if not per_second:
        assert seen[-1] == most  # the rows were all there: the hand is filled
