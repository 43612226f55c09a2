"""Send windows, against a real aiosmtpd server, time driven by a fake clock: rows outside their recipient's window
are held and sent at its next opening (with the rate limit, `send`, the daemon's pick-up), bad strings refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from solidarity_mailer.config import Settings, load_settings
from solidarity_mailer.deliver import manual_send
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.schema import connect, deliveries
from solidarity_mailer.schedule.run_queue import scheduled_runs
from tests.schedule.zonekit import cli, zoned_project
from tests.sendkit import Clock, SlowHandler, settings_for

UTC = dt.UTC
FRIDAY_EVENING = dt.datetime(2026, 12, 11, 18, 59, 58, tzinfo=UTC)  # 19:59:58 in Berlin, 03:59:58 Sat in Tokyo
ZONES: dict[str, str | None] = {
    "a-berlin0@example.org": "Europe/Berlin", "a-berlin1@example.org": "Europe/Berlin",
    "a-berlin2@example.org": "Europe/Berlin", "a-berlin3@example.org": "Europe/Berlin",
    "b-lima@example.org": "America/Lima", "c-tokyo@example.org": "Asia/Tokyo", "d-nozone@example.org": None,
}
WINDOW = 'window = "08:00-20:00"\ndays = "mon-fri"\n'


def sent_at(config: Path) -> dict[str, dt.datetime]:
    engine = connect(settings_for(config).database_url)
    with engine.connect() as conn:
        found = {r.address: r.sent_at for r in conn.execute(select(deliveries.c.address, deliveries.c.sent_at))}
    engine.dispose()
    return {a: (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)) for a, t in found.items() if t}


def windowed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int, zones: dict[str, str | None],
                 per_second: float, config_lines: str = "") -> tuple[Path, Settings, Engine, manual_send.ManualRun]:
    """A project whose campaign has :data:`WINDOW`, sending ``per_second``, and a manual run opened on it:
    (config, settings, engine, the run)."""
    campaign, config = zoned_project(tmp_path, monkeypatch, zones, port=port, campaign_lines=WINDOW,
                                     config_lines=config_lines)
    config.write_text(config.read_text(encoding="utf-8").replace("per_second = 0", f"per_second = {per_second}"),
                      encoding="utf-8")
    settings = settings_for(config)
    engine = connect(settings.database_url)
    return config, settings, engine, manual_send.open_manual_run(engine, find_campaign(str(campaign)))


def test_the_window_end_holds_rows_until_each_recipients_next_opening(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Controller, SlowHandler]) -> None:
    controller, handler = server
    config, settings, engine, manual = windowed_run(tmp_path, monkeypatch, controller.port, ZONES, 1,
                                                    '[scheduler]\ntimezone = "America/Lima"\n')
    clock, notes = Clock(t=FRIDAY_EVENING), []
    result = manual_send.send_manual_run(engine, manual, settings, dependencies=clock.dependencies(),
                                         on_window=notes.append)
    assert result.summary.state == "finished" and result.summary.counts["sent"] == 7
    assert sorted(handler.recipients()) == sorted(ZONES)  # each exactly once
    times = sent_at(config)
    berlin_close, berlin_monday = dt.datetime(2026, 12, 11, 19, tzinfo=UTC), dt.datetime(2026, 12, 14, 7, tzinfo=UTC)
    tokyo_monday = dt.datetime(2026, 12, 13, 23, tzinfo=UTC)  # Monday 08:00 JST
    berlin = sorted(t for a, t in times.items() if "berlin" in a)
    # the window closed mid-run (one message a second from 19:59:58): the rows let through before 20:00 went
    # (recorded when the fake clock, moved by the feeder's waits, says), the others waited for Monday 08:00 CET
    friday = [t for t in berlin if t < berlin_monday]
    assert len(friday) == 2 and all(t <= berlin_close + dt.timedelta(seconds=10) for t in friday)
    assert berlin[-1] >= berlin_monday
    assert times["c-tokyo@example.org"] >= tokyo_monday
    assert times["b-lima@example.org"] < berlin_monday and times["d-nozone@example.org"] < berlin_monday  # Lima
    assert notes[0].startswith("waiting for the send window (08:00-20:00 mon-fri): ")
    assert "continue at 2026-12-13T23:00:00Z (2026-12-13 18:00 America/Lima)" in notes[0]
    engine.dispose()


def test_send_limit_counts_every_message_of_the_send_across_its_window_waits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Controller, SlowHandler]) -> None:
    from solidarity_mailer.deliver.dispatcher import RunOptions

    controller, handler = server
    _config, settings, engine, manual = windowed_run(tmp_path, monkeypatch, controller.port, ZONES, 1,
                                                    '[scheduler]\ntimezone = "America/Lima"\n')
    # 4 go on Friday evening (2 in Berlin, Lima, no zone), then the send waits; Tokyo's opens first: the fifth
    result = manual_send.send_manual_run(engine, manual, settings, RunOptions(limit=5),
                                         Clock(t=FRIDAY_EVENING).dependencies())
    assert len(handler.recipients()) == 5 and result.summary.this_call.get("sent") == 5
    assert result.summary.state == "pending" and "stopped after 5 messages (--limit)" in result.summary.note
    engine.dispose()


def test_a_scheduled_run_waiting_for_its_window_is_left_to_the_daemon_until_it_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Controller, SlowHandler],
        capsys: pytest.CaptureFixture[str]) -> None:
    from solidarity_mailer.deliver.dispatcher import deliver_run
    from solidarity_mailer.schedule.due_runs import process_due

    controller, _ = server
    campaign, config = zoned_project(tmp_path, monkeypatch, {"t@example.org": "Asia/Tokyo"}, port=controller.port,
                                     config_lines='[window]\nhours = "08:00-20:00"\n',
                                     now="2026-12-11T10:00:00+00:00")
    code, out, err = cli(capsys, "schedule", str(campaign), "--config", str(config), "--at", "2026-12-11 10:30",
                         "--tz", "UTC")
    assert code == 0, err
    settings = load_settings(config, environ={})
    engine = connect(settings.database_url)
    fired = dt.datetime(2026, 12, 11, 10, 30, tzinfo=UTC)  # 19:30 in Tokyo: the window is open
    (run_id,) = process_due(engine, 1, fired).fired
    clock = Clock(t=dt.datetime(2026, 12, 11, 11, 0, 1, tzinfo=UTC))  # 20:00:01 in Tokyo: closed
    summary = deliver_run(engine, run_id, settings, dependencies=clock.dependencies())
    assert summary.state == "pending" and "continue at 2026-12-11T23:00:00Z" in summary.note
    assert scheduled_runs(engine, ("pending",), clock.now()) == []  # the daemon leaves it alone…
    assert scheduled_runs(engine, ("pending",), dt.datetime(2026, 12, 11, 23, tzinfo=UTC)) == [run_id]  # …till then
    code, out, _ = cli(capsys, "status", "test", "--config", str(config))
    assert "waiting for the send window (08:00-20:00)" in out
    engine.dispose()


@pytest.mark.parametrize(("lines", "message"), [
    ('window = "20:00-08:00"\n', "test.toml:8: [campaign] window: '20:00-08:00' ends before it starts"),
    ('window = "8h-20h"\n', "test.toml:8: [campaign] window: cannot read the hours '8h-20h'"),
    ('days = "monday-friday"\n', "test.toml:8: [campaign] days: cannot read the days 'monday-friday'"),
    ('days = "sat-"\n', "test.toml:8: [campaign] days: cannot read the days 'sat-'"),
])
def test_a_bad_campaign_window_is_one_line_with_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: str, message: str) -> None:
    campaign, _ = zoned_project(tmp_path, monkeypatch, {"a@example.org": None}, campaign_lines=lines)
    with pytest.raises(MailerError) as caught:
        find_campaign(str(campaign))
    assert message in caught.value.line()


@pytest.mark.parametrize(("lines", "message"), [
    ('[window]\nhours = "25:00-26:00"\n', "[window] hours: '25:00-26:00' is not a time of day"),
    ('[window]\ndays = "mon-fry"\n', "[window] days: cannot read the days 'mon-fry'"),
])
def test_a_bad_configured_window_is_one_line_with_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: str, message: str) -> None:
    _, config = zoned_project(tmp_path, monkeypatch, {"a@example.org": None}, config_lines=lines)
    with pytest.raises(MailerError) as caught:
        load_settings(config, environ={})
    line = caught.value.line()
    assert message in line and "solidarity-mailer.toml:" in line and "\n" not in line


def test_a_row_held_by_its_window_uses_no_slot_of_the_rate_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Controller, SlowHandler]) -> None:
    from solidarity_mailer.deliver.dispatcher import deliver_run

    controller, handler = server
    closed = {f"a-tokyo{i}@example.org": "Asia/Tokyo" for i in range(4)}  # Saturday 03:59 in Tokyo: held
    config, settings, engine, manual = windowed_run(tmp_path, monkeypatch, controller.port,
                                                    {**closed, "b-lima@example.org": "America/Lima"}, 1)
    clock = Clock(t=FRIDAY_EVENING)
    summary = deliver_run(engine, manual.run_id, settings, dependencies=clock.dependencies())
    assert summary.state == "pending" and handler.recipients() == ["b-lima@example.org"]
    # the four held rows, before it in address order, took no slot of the one-a-second limit: it went at once
    assert sent_at(config)["b-lima@example.org"] < FRIDAY_EVENING + dt.timedelta(seconds=1)
    engine.dispose()


def test_status_says_when_rows_held_by_their_window_go_while_the_run_still_sends_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: tuple[Controller, SlowHandler],
        capsys: pytest.CaptureFixture[str]) -> None:
    from solidarity_mailer.deliver.dispatcher import deliver_run
    from solidarity_mailer.ledger.status import RunStatus, campaign_status

    controller, handler = server
    closed = {f"a-tokyo{i}@example.org": "Asia/Tokyo" for i in range(4)}  # Saturday 03:59 in Tokyo: held
    lima = {f"b-lima{i}@example.org": "America/Lima" for i in range(6)}  # Friday 13:59 in Lima: sent
    config, settings, engine, manual = windowed_run(tmp_path, monkeypatch, controller.port, {**closed, **lima},
                                                    0.1)  # one message every ten seconds: the run is long
    clock, seen = Clock(t=FRIDAY_EVENING), []

    def look(sleeps: int) -> None:  # while the run sends Lima's rows, a minute or so in
        if not seen and len(handler.recipients()) >= 3:
            seen.append(campaign_status(engine, "test", now=clock.now()).runs[0])
            seen.append(cli(capsys, "status", "test", "--config", str(config))[1])

    clock.on_sleep.append(look)
    summary = deliver_run(engine, manual.run_id, settings, dependencies=clock.dependencies())
    assert summary.state == "pending" and len(handler.recipients()) == 6
    during, printed = seen
    assert isinstance(during, RunStatus) and during.state == "running"
    monday = "2026-12-13T23:00:00+00:00"  # 08:00 in Tokyo
    assert (during.held, during.held_until) == (4, monday)
    assert during.held_line() == f"4 recipient(s) held by their send window, the first continue at {monday}"
    assert f"\n  {during.held_line()}\n" in printed and " running: " in printed
    after = campaign_status(engine, "test", now=clock.now()).runs[0]
    assert (after.state, after.held, after.held_until, after.resume_at) == ("pending", 4, monday, monday)
    engine.dispose()
