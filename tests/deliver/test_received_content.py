"""Once per content across runs (issue 12, hole 1), against a real aiosmtpd server and a real SQLite ledger: a
new run of a campaign, manual or scheduled, skips whoever already received the same content in another run and
says so; `--again` repeats on purpose; a changed content goes to everyone; `status` counts the skipped ones."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from solidarity_mailer.deliver.dispatcher import deliver_run
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect
from solidarity_mailer.schedule.due_runs import process_due
from solidarity_mailer.schedule.schedules import add_schedule
from tests.sendkit import addresses, send, settings_for, status, write_list, write_project

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py

SKIPPED_LINE = re.compile(r"^([\d,]+) already received this content in run (\d+) on (\d{4}-\d\d-\d\d \d\d:\d\d) UTC: "
                          r"skipped$", re.MULTILINE)


def _fire_schedule(config: Path, campaign: Path, *, again: bool = False, every: str = "1h") -> tuple[int, int]:
    """Schedule the campaign every hour, fire its first occurrence and deliver that run; (schedule id, run id)."""
    settings = settings_for(config)
    engine = connect(settings.database_url)
    start = ledger.utcnow()
    sched = add_schedule(engine, find_campaign(str(campaign)), every=every, now=start, again=again)
    fired = process_due(engine, sched.id, start + dt.timedelta(hours=1, seconds=1))
    [run_id] = fired.fired
    deliver_run(engine, run_id, settings)
    return sched.id, run_id


def _fire_next(config: Path, schedule_id: int, hours: int) -> int:
    settings = settings_for(config)
    engine = connect(settings.database_url)
    fired = process_due(engine, schedule_id, ledger.utcnow() + dt.timedelta(hours=hours, seconds=1))
    [run_id] = fired.fired
    deliver_run(engine, run_id, settings)
    return run_id


def test_a_send_after_a_scheduled_run_skips_everyone_who_received_it(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(30)
    campaign, config = write_project(tmp_path, controller.port, emails)
    _, scheduled = _fire_schedule(config, campaign)
    assert sorted(handler.recipients()) == emails
    capsys.readouterr()

    assert send(campaign, config) == 0
    out = capsys.readouterr().out
    assert len(handler.received) == 30  # nobody twice
    [(count, run, when)] = SKIPPED_LINE.findall(out)
    assert (count, int(run)) == ("30", scheduled)
    assert when == ledger.get_run(connect(settings_for(config).database_url), scheduled).started_at.strftime(
        "%Y-%m-%d %H:%M")
    manual = status(capsys, config)["runs"][-1]
    assert manual["counts"]["skipped"] == 30 and manual["already_received"] == 30 and manual["counts"]["sent"] == 0


def test_the_summary_line_uses_thousands_separators(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(1200)
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=4)
    _fire_schedule(config, campaign)
    capsys.readouterr()
    write_list(tmp_path / "recipients" / "list.csv", [*emails, "late@example.org"])
    assert send(campaign, config) == 0
    out = capsys.readouterr().out
    assert [count for count, _, _ in SKIPPED_LINE.findall(out)] == ["1,200"]
    assert Counter(handler.recipients())["late@example.org"] == 1 and len(handler.received) == 1201
    assert main_status_text(capsys, config).splitlines()[-1].endswith(
        "finished: sent 1, skipped (already received) 1200")


def main_status_text(capsys: pytest.CaptureFixture[str], config: Path) -> str:
    from solidarity_mailer.cli import main

    capsys.readouterr()
    assert main(["status", "test", "--config", str(config)]) == 0
    return capsys.readouterr().out


def test_a_recurring_schedule_with_unchanged_content_mails_only_new_subscribers(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(10)
    campaign, config = write_project(tmp_path, controller.port, emails)
    schedule_id, first = _fire_schedule(config, campaign)
    write_list(tmp_path / "recipients" / "list.csv", [*emails, "new@example.org"])
    second = _fire_next(config, schedule_id, hours=2)
    assert second != first
    assert Counter(handler.recipients()) == Counter([*emails, "new@example.org"])
    runs = {r["id"]: r for r in status(capsys, config)["runs"]}
    assert runs[second]["counts"]["sent"] == 1 and runs[second]["already_received"] == 10


def test_a_schedule_made_with_again_repeats_on_purpose(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(5)
    campaign, config = write_project(tmp_path, controller.port, emails)
    schedule_id, _ = _fire_schedule(config, campaign, again=True)
    _fire_next(config, schedule_id, hours=2)
    assert Counter(handler.recipients()) == Counter(emails * 2)


def test_changed_content_goes_to_everyone_once_and_the_first_is_not_repeated(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(6)
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config) == 0
    original = campaign.read_text(encoding="utf-8")
    campaign.write_text(original.replace("Peruvian people", "Peruvian people (corrected)"), encoding="utf-8")
    assert send(campaign, config) == 0  # a new content: a run of its own, to everyone
    assert send(campaign, config) == 0  # continues that run: nobody twice
    campaign.write_text(original, encoding="utf-8")
    assert send(campaign, config) == 0  # the first content again: everyone had it
    assert Counter(handler.recipients()) == Counter(emails * 2)
    subjects = Counter(m.message["Subject"] for m in handler.received)
    assert set(subjects.values()) == {6} and len(subjects) == 2
    keys = [r["fire_key"] for r in status(capsys, config)["runs"]]
    assert keys[0] == "manual:test" and re.fullmatch(r"manual:test:[0-9a-f]{16}", keys[1]) and len(keys) == 2


def test_send_again_repeats_once_and_an_interrupted_repeat_is_continued(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(8)
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config) == 0
    assert send(campaign, config, "--again", "--limit", "3") == 0  # stopped after 3: the repeat run waits
    assert send(campaign, config, "--again") == 0  # continues that repeat, sends the other 5
    assert Counter(handler.recipients()) == Counter(emails * 2)
    assert send(campaign, config) == 0  # a plain send after the repeat: nothing
    assert len(handler.received) == 16
    keys = [r["fire_key"] for r in status(capsys, config)["runs"]]
    assert keys[0] == "manual:test" and re.fullmatch(r"manual:test:[0-9a-f]{16}:again:1", keys[1])
    assert send(campaign, config, "--again") == 0  # the repeat finished: a second repeat
    assert len(handler.received) == 24


def test_test_copies_stay_outside_the_ledger_and_skip_nobody(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(3)
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config, "--to", emails[0]) == 0
    assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter([emails[0], *emails])


def test_a_dry_run_counts_who_already_received_the_content(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(4)
    campaign, config = write_project(tmp_path, controller.port, emails)
    _fire_schedule(config, campaign)
    write_list(tmp_path / "recipients" / "list.csv", [*emails, "late@example.org"])
    capsys.readouterr()
    assert send(campaign, config, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 already received this content in another run: a send skips them" in out
    assert len(handler.received) == 4
