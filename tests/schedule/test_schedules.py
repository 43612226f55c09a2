"""Schedules and runs in a real SQLite file: adding, pausing, the misfire rule, exactly one run per occurrence."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import runs, schedules
from solidarity_mailer.schedule.due_runs import MAX_RECORDED_MISSES, process_due
from solidarity_mailer.schedule.schedules import (
    add_schedule,
    cancel_run,
    cancel_schedule,
    get_schedule,
    list_schedules,
    pause_run,
    pause_schedule,
    resume_run,
    resume_schedule,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def campaign(starter: Path):  # type: ignore[no-untyped-def]
    return find_campaign(str(starter / "campaigns" / "peru-solidarity-2023.toml"))


def all_runs(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [(r.fire_key, r.state, r.note) for r in conn.execute(select(runs).order_by(runs.c.id))]


def test_once_is_stored_as_utc_instant_with_its_zone(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    s = add_schedule(engine, campaign, at="2026-12-07 09:00", tz="America/Lima", now=NOW)
    assert (s.kind, s.spec, s.timezone, s.state) == ("once", "2026-12-07T14:00:00+00:00", "America/Lima", "active")
    assert s.next_fire_at == datetime(2026, 12, 7, 14, tzinfo=UTC)
    assert s.describe() == "once at 2026-12-07 09:00 America/Lima"
    assert get_schedule(engine, s.id) == s


def test_refusals(engine: Engine, campaign, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MailerError, match="does not exist in Europe/Berlin"):
        add_schedule(engine, campaign, at="2026-03-29 02:30", tz="Europe/Berlin", now=NOW)
    with pytest.raises(MailerError, match="ambiguous in Europe/Berlin"):
        add_schedule(engine, campaign, at="2026-10-25 02:30", tz="Europe/Berlin", now=NOW)
    with pytest.raises(MailerError, match="in the past"):
        add_schedule(engine, campaign, at="2026-11-29 11:59", tz="UTC", now=NOW)
    with pytest.raises(MailerError, match="exactly one of"):
        add_schedule(engine, campaign, at="2026-12-07 09:00", every="1h", tz="UTC", now=NOW)
    with pytest.raises(MailerError, match="list file not found"):
        add_schedule(engine, campaign, every="1h", lists=[tmp_path / "nope.csv"], now=NOW)
    assert stored_schedules(engine) == [] and list_schedules(engine) == []  # a refusal stores nothing
    accepted = add_schedule(engine, campaign, every="1h", now=NOW)
    with pytest.raises(MailerError, match="list file not found"):  # nor does one once a schedule exists
        add_schedule(engine, campaign, every="2h", lists=[tmp_path / "nope.csv"], now=NOW)
    assert stored_schedules(engine) == [accepted.id] and list_schedules(engine) == [accepted]


def stored_schedules(engine: Engine) -> list[int]:
    """The ids in the ``schedules`` table, read directly."""
    with engine.connect() as conn:
        return list(conn.execute(select(schedules.c.id).order_by(schedules.c.id)).scalars())


def test_pause_resume_cancel_schedule(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    s = add_schedule(engine, campaign, every="1h", now=NOW)
    assert s.next_fire_at == NOW + timedelta(hours=1)
    assert pause_schedule(engine, s.id, now=NOW).state == "paused"
    with pytest.raises(MailerError, match="schedule 1 is paused"):
        pause_schedule(engine, s.id, now=NOW)
    # resumed after three hours: the paused occurrences are skipped, the next is in the future
    later = NOW + timedelta(hours=3, minutes=10)
    resumed = resume_schedule(engine, s.id, now=later)
    assert resumed.state == "active" and resumed.next_fire_at == NOW + timedelta(hours=4)
    assert cancel_schedule(engine, s.id, now=later).state == "cancelled"
    with pytest.raises(MailerError, match="only a paused schedule can become active"):
        resume_schedule(engine, s.id, now=later)
    with pytest.raises(MailerError, match="there is no schedule 99"):
        pause_schedule(engine, 99, now=NOW)
    assert process_due(engine, s.id, NOW + timedelta(days=1)).fired == []


def test_once_fires_exactly_once_within_grace(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    s = add_schedule(engine, campaign, at="2026-11-29 13:00", tz="UTC", now=NOW)
    assert process_due(engine, s.id, NOW + timedelta(minutes=59)).fired == []  # not yet
    first = process_due(engine, s.id, NOW + timedelta(minutes=90))  # 30 min late: within 1 h grace
    again = process_due(engine, s.id, NOW + timedelta(minutes=91))
    assert len(first.fired) == 1 and again.fired == [] and again.missed == []
    assert all_runs(engine) == [(f"sched:{s.id}:2026-11-29T13:00:00+00:00", "pending", "")]
    assert get_schedule(engine, s.id).state == "done"


def test_once_beyond_grace_is_recorded_missed_and_can_be_sent_late(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    s = add_schedule(engine, campaign, at="2026-11-29 13:00", tz="UTC", grace_seconds=600, now=NOW)
    result = process_due(engine, s.id, NOW + timedelta(hours=3))
    assert result.fired == [] and len(result.missed) == 1
    [(key, state, note)] = all_runs(engine)
    assert (key, state) == (f"sched:{s.id}:2026-11-29T13:00:00+00:00", "missed")
    assert "2.0 h late, beyond the grace period of 600 s" in note
    assert get_schedule(engine, s.id).state == "done"
    run = resume_run(engine, result.missed[0], now=NOW + timedelta(hours=3))
    assert run.state == "pending"


def test_recurring_outage_coalesces_and_records_every_miss(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    s = add_schedule(engine, campaign, every="1h", grace_seconds=5400, now=NOW)  # first at 13:00
    result = process_due(engine, s.id, NOW + timedelta(hours=5, minutes=30))  # 17:30: 13,14,15,16,17 due
    assert len(result.fired) == 1 and len(result.missed) == 4
    states = [(k.split("T")[1][:2], st) for k, st, _ in all_runs(engine)]
    assert states == [("13", "missed"), ("14", "missed"), ("15", "missed"), ("16", "missed"), ("17", "pending")]
    notes = [n for _, _, n in all_runs(engine)]
    assert "beyond the grace period" in notes[0] and "coalesced into the firing at 2026-11-29 17:00" in notes[3]
    assert get_schedule(engine, s.id).next_fire_at == datetime(2026, 11, 29, 18, tzinfo=UTC)


def test_a_long_outage_still_fires_the_latest_occurrence_and_counts_the_unrecorded(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    """Every minute, the daemon down 3 h, grace 1 h: the 15:01 firing runs; 100 misses recorded, 80 counted."""
    s = add_schedule(engine, campaign, every="1m", grace_seconds=3600, now=NOW)  # first at 12:01
    result = process_due(engine, s.id, NOW + timedelta(hours=3, minutes=1))
    assert len(result.fired) == 1 and len(result.missed) == MAX_RECORDED_MISSES
    rows = all_runs(engine)
    fired = [k for k, st, _ in rows if st == "pending"]
    assert fired == [f"sched:{s.id}:2026-11-29T15:01:00+00:00"]
    assert "80 later occurrence(s) until 2026-11-29 15:01 UTC were not run" in rows[MAX_RECORDED_MISSES - 1][2]
    assert get_schedule(engine, s.id).next_fire_at == NOW + timedelta(hours=3, minutes=2)


def test_two_daemons_firing_the_same_occurrence_make_one_run(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    s = add_schedule(engine, campaign, at="2026-11-29 13:00", tz="UTC", now=NOW)
    results, barrier = [], threading.Barrier(4)

    def fire() -> None:
        barrier.wait()
        results.append(process_due(engine, s.id, NOW + timedelta(hours=1, seconds=1)))

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(all_runs(engine)) == 1
    assert len({run_id for r in results for run_id in r.fired}) == 1


def test_run_control(engine: Engine, campaign) -> None:  # type: ignore[no-untyped-def]
    ledger.ensure_campaign(engine, campaign, now=NOW)
    run_id = ledger.open_run(engine, campaign.id, "sched:x", now=NOW)
    assert pause_run(engine, run_id, now=NOW).state == "paused"
    assert resume_run(engine, run_id, now=NOW).state == "pending"
    assert cancel_run(engine, run_id, now=NOW).state == "cancelled"
    with pytest.raises(MailerError, match=f"run {run_id} is cancelled"):
        resume_run(engine, run_id, now=NOW)
    with pytest.raises(MailerError, match="there is no run 42"):
        pause_run(engine, 42, now=NOW)


def test_default_grace_from_the_environment() -> None:
    from solidarity_mailer.schedule.schedules import default_grace

    assert default_grace({}) == 3600
    assert default_grace({"SOLIDARITY_MAILER_GRACE_SECONDS": "600"}) == 600
    assert default_grace({}, configured=900) == 900  # [scheduler] grace_seconds
    assert default_grace({"SOLIDARITY_MAILER_GRACE_SECONDS": "600"}, configured=900) == 600  # env wins
    with pytest.raises(MailerError, match="must be a whole number of seconds"):
        default_grace({"SOLIDARITY_MAILER_GRACE_SECONDS": "1h"})
