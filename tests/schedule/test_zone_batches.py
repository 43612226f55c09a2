"""Firing a ``--recipient-time`` schedule, time driven by hand: one run per zone at its instant, the lists read
again at each firing (newcomers join, new zones get a batch, past ones fire within the grace or are missed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect, runs
from solidarity_mailer.schedule.due_runs import process_due
from solidarity_mailer.schedule.schedules import get_schedule
from tests.schedule.zonekit import cli, plans, write_zoned_list, zoned_project
from tests.sendkit import settings_for

ZONES: dict[str, str | None] = {
    "kol1@example.org": "Asia/Kolkata", "ktm1@example.org": "Asia/Kathmandu", "adl1@example.org": "Australia/Adelaide",
    "cht1@example.org": "Pacific/Chatham", "ber1@example.org": None,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def batch_runs(engine) -> list[tuple[str | None, str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [(r.zone, r.state, r.fire_key) for r in conn.execute(select(runs).order_by(runs.c.id))]


def audience_of(engine, settings, run_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    from solidarity_mailer.deliver.prepare import prepare_run

    return sorted(r.key for r in prepare_run(engine, ledger.get_run(engine, run_id), settings).audience())


def test_each_zone_fires_at_its_instant_and_the_lists_are_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    campaign, config = zoned_project(tmp_path, monkeypatch, ZONES)
    code, out, err = cli(capsys, "schedule", str(campaign), "--config", str(config), "--at", "2026-12-08 09:00",
                         "--recipient-time", "--tz", "Europe/Berlin")
    assert code == 0, err
    settings = settings_for(config)
    engine = connect(settings.database_url)
    sid = int(out.split(":", 1)[0].removeprefix("schedule "))
    assert process_due(engine, sid, at("2026-12-07T19:14:59")).fired == []  # not yet
    first = process_due(engine, sid, at("2026-12-07T19:15:00"))
    assert len(first.fired) == 1 and get_schedule(engine, sid).next_fire_at == at("2026-12-07T22:30:00")
    assert batch_runs(engine) == [("Pacific/Chatham", "pending", "sched:1:2026-12-07T19:15:00+00:00:Pacific/Chatham")]
    assert audience_of(engine, settings, first.fired[0]) == ["cht1@example.org"]

    # before Adelaide's batch: a newcomer in Kolkata, two new zones (Sydney 30 min past: within the grace;
    # Auckland 2.5 h past: beyond it), and a newcomer in Chatham, whose batch went out 3 h 15 min ago
    write_zoned_list(tmp_path / "recipients" / "list.csv", {
        **ZONES, "kol2@example.org": "Asia/Kolkata", "syd1@example.org": "Australia/Sydney",
        "akl1@example.org": "Pacific/Auckland", "cht2@example.org": "Pacific/Chatham"})
    second = process_due(engine, sid, at("2026-12-07T22:30:00"))
    assert [z for z, _, _ in batch_runs(engine)] == [
        "Pacific/Chatham", "Pacific/Auckland", "Australia/Sydney", "Australia/Adelaide"]
    states = {zone: state for zone, state, _ in batch_runs(engine)}
    assert states["Pacific/Auckland"] == "missed" and len(second.missed) == 1 and len(second.fired) == 2
    note = ledger.get_run(engine, second.missed[0]).note
    assert "the batch of Pacific/Auckland was 2.5 h late, beyond the grace period of 3600 s" in note
    assert audience_of(engine, settings, second.fired[0]) == ["syd1@example.org"]
    assert plans(capsys, config)[0] == [
        {"zone": "Pacific/Chatham", "at": "2026-12-07T19:15:00Z", "recipients": 1},
        {"zone": "Pacific/Auckland", "at": "2026-12-07T20:00:00Z", "recipients": 1},
        {"zone": "Australia/Sydney", "at": "2026-12-07T22:00:00Z", "recipients": 1},
        {"zone": "Australia/Adelaide", "at": "2026-12-07T22:30:00Z", "recipients": 1},
        {"zone": "Asia/Kathmandu", "at": "2026-12-08T03:15:00Z", "recipients": 1},
        {"zone": "Asia/Kolkata", "at": "2026-12-08T03:30:00Z", "recipients": 2},
        {"zone": "Europe/Berlin", "at": "2026-12-08T08:00:00Z", "recipients": 1},
    ]

    # Kathmandu fires and finishes; a newcomer there joins its batch at Kolkata's firing (15 min: in the grace)
    (ktm,) = process_due(engine, sid, at("2026-12-08T03:15:00")).fired
    ledger.set_run_state(engine, ktm, "finished", now=at("2026-12-08T03:16:00"))
    write_zoned_list(tmp_path / "recipients" / "list.csv", {**ZONES, "ktm2@example.org": "Asia/Kathmandu"})
    third = process_due(engine, sid, at("2026-12-08T03:30:00"))
    assert ktm in third.fired and ledger.get_run(engine, ktm).state == "pending"
    assert audience_of(engine, settings, ktm) == ["ktm1@example.org", "ktm2@example.org"]

    last = process_due(engine, sid, at("2026-12-08T08:00:01"))
    assert audience_of(engine, settings, last.fired[0]) == ["ber1@example.org"]  # no zone: the --tz batch
    assert get_schedule(engine, sid).state == "done" and get_schedule(engine, sid).next_fire_at is None
    engine.dispose()
