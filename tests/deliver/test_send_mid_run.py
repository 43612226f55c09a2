"""`send` while the world changes under it: a suppression added, a pause from another process, the hourly
limit across a restart.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from solidarity_mailer.deliver.feeder import STATE_EVERY, WAIT_SLICE
from solidarity_mailer.deliver.manual_send import EXIT_PAUSED
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger import suppressions as suppression
from solidarity_mailer.ledger.schema import connect
from tests.databases import ledger_url
from tests.sendkit import Clock, addresses, open_manual_run, send, states, write_project

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py


def test_suppression_added_mid_run_is_honoured(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(10)
    engine = connect(ledger_url(tmp_path))

    def unsubscribe_last(server, session, envelope):  # type: ignore[no-untyped-def]
        if envelope.rcpt_tos == [emails[0]]:
            suppression.add(engine, emails[9].upper(), "unsubscribed")
        return None

    handler.on_data = unsubscribe_last
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
    assert send(campaign, config) == 0
    assert sorted(handler.recipients()) == emails[:9]
    assert states(tmp_path)[emails[9]] == "skipped"


def test_run_paused_by_another_process_stops_within_a_batch(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(150)
    engine = connect(ledger_url(tmp_path))

    def pause_at_third(server, session, envelope):  # type: ignore[no-untyped-def]
        if envelope.rcpt_tos == [emails[2]]:
            run_id = ledger.open_run(engine, "test", "manual:test", now=ledger.utcnow())
            ledger.set_run_state(engine, run_id, "paused", now=ledger.utcnow(), note="paused by operator")
        return None

    handler.on_data = pause_at_third
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
    assert send(campaign, config) == EXIT_PAUSED
    assert 3 <= len(handler.received) <= STATE_EVERY  # noticed within STATE_EVERY messages
    handler.on_data = None
    assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter(emails)


def test_hourly_limit_survives_a_restart_and_waits_in_slices(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    from solidarity_mailer.deliver.dispatcher import RunOptions, deliver_run

    controller, handler = server
    emails = addresses(6)
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1, extra_delivery="per_hour = 4")
    settings, engine, run_id = open_manual_run(config, campaign)
    clock = Clock()
    first = deliver_run(engine, run_id, settings, RunOptions(limit=3), clock.dependencies())
    assert (first.state, first.this_call["sent"], clock.slept) == ("pending", 3, [])
    second = deliver_run(engine, run_id, settings,
                         dependencies=clock.dependencies())  # a new process: the hour's 3 messages come from the ledger
    assert second.state == "finished" and second.counts["sent"] == 6
    assert sorted(handler.recipients()) == emails
    assert 3599 <= sum(clock.slept) <= 3602  # the 5th message waited for the first to leave the hour
    assert max(clock.slept) <= WAIT_SLICE
