"""Holes in once-per-content across runs (issue 12, hole 1), found by review, against a real aiosmtpd server and a
real SQLite ledger. Each test states what the rule promises and is marked xfail until the code keeps it.

The invariant behind most of them: a row ``skipped`` as *already received* stands for a real delivery (``sent`` or
``uncertain``) of the same content to the same address in another run; and nobody gets the same content twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select, update

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.deliver.dispatcher import RunOptions, deliver_run
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.received_content import ContentChanged, already_received_count, record_content
from solidarity_mailer.ledger.schema import connect, deliveries
from solidarity_mailer.render.once import render_once
from solidarity_mailer.schedule.due_runs import process_due
from solidarity_mailer.schedule.schedules import add_schedule
from tests.sendkit import (
    Clock,
    SlowHandler,
    addresses,
    open_manual_run,
    send,
    settings_for,
    status,
    write_project,
)
from tests.smtpserver import smtp_server

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py

@dataclass
class HoldingHandler(SlowHandler):
    """Holds the DATA of ``hold`` until ``release`` is set, then answers ``reply``."""

    hold: str = ""
    release: threading.Event = field(default_factory=threading.Event)
    reply: str = "451 4.3.0 try again later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hold in envelope.rcpt_tos:
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return self.reply
        return await super().handle_DATA(server, session, envelope)


def _scheduled_run(config: Path, campaign: Path) -> int:
    """A schedule of the campaign, fired once (the run is not delivered yet); the run's id."""
    engine = connect(settings_for(config).database_url)
    start = ledger.utcnow()
    sched = add_schedule(engine, find_campaign(str(campaign)), every="1h", now=start)
    [run_id] = process_due(engine, sched.id, start + dt.timedelta(hours=1, seconds=1)).fired
    return run_id


def _row_state(config: Path, run_id: int, address: str) -> str | None:
    engine = connect(settings_for(config).database_url)
    with engine.connect() as conn:
        return conn.execute(select(deliveries.c.state).where(  # type: ignore[no-any-return]
            deliveries.c.run_id == run_id, deliveries.c.address == address)).scalar_one_or_none()


def test_a_row_skipped_while_another_run_had_it_in_flight_is_not_lost(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    reader = "r0000@example.org"
    with smtp_server(HoldingHandler(hold=reader)) as (controller, handler):
        campaign, config = write_project(tmp_path, controller.port, [reader], max_attempts=1)
        scheduled = _scheduled_run(config, campaign)
        engine = connect(settings_for(config).database_url)
        daemon = threading.Thread(target=deliver_run, args=(engine, scheduled, settings_for(config)))
        daemon.start()
        try:
            deadline = time.monotonic() + 20
            while _row_state(config, scheduled, reader) != "sending":  # the scheduled run is handing it over
                assert time.monotonic() < deadline
                time.sleep(0.02)
            # meanwhile `send`: the reader waits for that attempt, which the relay refuses (451; with
            # max_attempts = 1 the scheduled run gives up), then gets the message from this run
            def relay_refuses_then_accepts() -> None:
                handler.hold = ""  # the next attempt is taken
                handler.release.set()  # the one held is refused

            threading.Timer(1.0, relay_refuses_then_accepts).start()
            assert send(campaign, config) == 0
        finally:
            handler.release.set()
            daemon.join()
        assert _row_state(config, scheduled, reader) == "failed"
        assert send(campaign, config) == 0  # a later send: nothing more
        manual = status(capsys, config)["runs"][-1]
        assert handler.recipients() == [reader]
        assert manual["already_received"] == 0


def test_a_scheduled_run_is_not_continued_with_an_edited_campaign(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(6)
    campaign, config = write_project(tmp_path, controller.port, emails)
    settings, scheduled = settings_for(config), _scheduled_run(config, campaign)
    engine = connect(settings.database_url)
    deliver_run(engine, scheduled, settings, RunOptions(limit=2))  # stopped after 2 (or paused, or a crash)
    campaign.write_text(campaign.read_text(encoding="utf-8").replace("Peruvian people", "Peruvian people (v2)"),
                        encoding="utf-8")
    with pytest.raises(ContentChanged, match=f"changed after run {scheduled} began sending"):
        deliver_run(engine, scheduled, settings)  # resumed with another text: refused, nothing sent
    assert len(handler.received) == 2
    assert send(campaign, config) == 0  # v2 by hand: a run of its own, to all 6 once
    pairs = Counter((m.message["To"], m.message["Subject"]) for m in handler.received)
    assert max(pairs.values()) == 1 and len(handler.received) == 8


def test_a_repeat_with_a_failure_can_be_retried_without_repeating_to_everyone(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(4)
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config) == 0
    handler.rcpt_replies[emails[1]] = ["552 5.2.2 mailbox full"]
    assert send(campaign, config, "--again") == 4  # EXIT_FAILURES: "--retry-failed requeues them"
    send(campaign, config, "--retry-failed")
    send(campaign, config, "--again", "--retry-failed")
    assert Counter(handler.recipients()) == Counter(emails * 2)  # the repeat reached emails[1] once, nobody 3x


def test_a_dry_run_with_again_says_what_send_again_would_send(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(4)
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config) == 0
    capsys.readouterr()
    assert send(campaign, config, "--dry-run", "--again") == 0
    out = capsys.readouterr().out
    assert "0 new for the run" not in out and "a send skips them" not in out
    assert send(campaign, config, "--again") == 0
    assert len(handler.received) == 8


def test_rows_skipped_at_the_claim_are_said_too(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(2)
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1, per_second=1)
    settings, overlapping = settings_for(config), _scheduled_run(config, campaign)
    engine = connect(settings.database_url)
    camp = find_campaign(str(campaign))
    record_content(engine, overlapping, render_once(camp).content_digest())
    ledger.enqueue(engine, overlapping, [Recipient(email=emails[1], key=emails[1], ascii_email=emails[1],
                                                   list_id="x")], now=ledger.utcnow())
    _, _, manual = open_manual_run(config, campaign)
    clock = Clock()

    def other_run_delivers(_: int) -> None:  # while the manual run waits for the rate limit, before emails[1]
        with engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.run_id == overlapping)
                         .values(state="sent", sent_at=clock.t))

    clock.on_sleep.append(other_run_delivers)
    summary = deliver_run(engine, manual, settings, dependencies=clock.dependencies())
    assert handler.recipients() == [emails[0]]
    assert already_received_count(engine, manual) == 1
    assert sum(earlier.skipped for earlier in summary.already_received) == 1
