"""`resume run ID --resend-uncertain` (issue 14): any run's uncertain rows are sent again, a manual run's by the
next `send`, a scheduled run's by the daemon; with a real aiosmtpd server and a real SQLite ledger."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import update

from solidarity_mailer.cli import main
from solidarity_mailer.deliver.dispatcher import deliver_run
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect, deliveries
from solidarity_mailer.schedule.due_runs import process_due
from solidarity_mailer.schedule.schedules import add_schedule
from tests.sendkit import addresses, send, settings_for, states, write_project

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py


def _make_uncertain(config: Path, run_id: int, address: str) -> None:
    """As a crash after the final dot leaves it: the row `uncertain` (maybe delivered)."""
    with connect(settings_for(config).database_url).begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.address == address)
                     .values(state="uncertain", last_reply="interrupted: maybe delivered"))


def test_a_finished_manual_run_sends_its_uncertain_rows_again(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(4)
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config) == 0
    _make_uncertain(config, 1, emails[2])
    capsys.readouterr()
    assert main(["resume", "run", "1", "--resend-uncertain", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "run 1: 1 uncertain message(s) will be sent again" in out and "run 1 is now pending" in out
    assert "solidarity-mailer send test" in out
    assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter([*emails, emails[2]])  # asked for: a second copy
    assert set(states(tmp_path).values()) == {"sent"}


def test_a_scheduled_run_is_resent_by_the_daemon_and_nothing_to_resend_is_one_line(tmp_path: Path, server,
                                                                                   capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(3)
    campaign, config = write_project(tmp_path, controller.port, emails)
    settings = settings_for(config)
    engine = connect(settings.database_url)
    start = ledger.utcnow()
    sched = add_schedule(engine, find_campaign(str(campaign)), every="1h", now=start)
    [run_id] = process_due(engine, sched.id, start + dt.timedelta(hours=1, seconds=1)).fired
    deliver_run(engine, run_id, settings)
    _make_uncertain(config, run_id, emails[0])
    assert main(["resume", "run", str(run_id), "--resend-uncertain", "--config", str(config)]) == 0
    assert "the running daemon picks it up" in capsys.readouterr().out
    assert ledger.run_state(engine, run_id) == "pending"
    deliver_run(engine, run_id, settings)  # what the daemon does with a pending run
    assert Counter(handler.recipients()) == Counter([*emails, emails[0]])
    assert main(["resume", "run", str(run_id), "--resend-uncertain", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == f"error: run {run_id} has no uncertain rows to send again"
    assert main(["resume", "schedule", str(sched.id), "--resend-uncertain", "--config", str(config)]) == 2
    assert "--resend-uncertain applies to a run" in capsys.readouterr().err
