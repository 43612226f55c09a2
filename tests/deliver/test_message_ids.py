"""The Message-ID a message carries is the one its ledger row holds (bounces are matched by it): written at enqueue,
carried to the sender with the row; a row enqueued without one (an older release) gets it at its claim. A real SQLite
ledger, the real sender process and a real SMTP server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from solidarity_mailer.deliver.dispatcher import RunOptions, deliver_run
from solidarity_mailer.ledger.schema import deliveries
from tests.sendkit import addresses, clean_environment, open_manual_run, write_project
from tests.smtpserver import smtp_server


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


def _ledger_ids(engine: Engine, run_id: int) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(deliveries.c.address, deliveries.c.message_id)
                                 .where(deliveries.c.run_id == run_id)).all())


def _set_ids(engine: Engine, run_id: int, ids: dict[str, str]) -> None:
    with engine.begin() as conn:
        for address, message_id in ids.items():
            conn.execute(update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.address == address)
                         .values(message_id=message_id))


def test_each_message_carries_the_message_id_its_row_holds(tmp_path: Path) -> None:
    emails = addresses(12)
    with smtp_server() as (controller, handler):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=2)
        settings, engine, run_id = open_manual_run(config, campaign)
        first = deliver_run(engine, run_id, settings, RunOptions(limit=2))
        assert first.state == "pending"
        enqueued = _ledger_ids(engine, run_id)
        pattern = rf"<r{run_id}\.[0-9a-f]{{16}}@[^>]+>"
        assert all(re.fullmatch(pattern, mid) for mid in enqueued.values()), enqueued  # written at enqueue
        assert len(set(enqueued.values())) == len(emails)
        older = [a for a in emails if a not in {r for m in handler.received for r in m.rcpt_tos}][:3]
        _set_ids(engine, run_id, {older[0]: "", older[1]: "", older[2]: "<kept.as.recorded@example.org>"})
        assert deliver_run(engine, run_id, settings).state == "finished"
        carried = {m.rcpt_tos[0]: m.message["Message-ID"] for m in handler.received}
    ledger_ids = _ledger_ids(engine, run_id)
    assert sorted(carried) == sorted(emails)  # each once
    assert carried == ledger_ids  # every message: the row's Message-ID
    assert ledger_ids[older[0]] == enqueued[older[0]] and ledger_ids[older[1]] == enqueued[older[1]]  # set at claim
    assert ledger_ids[older[2]] == "<kept.as.recorded@example.org>"
