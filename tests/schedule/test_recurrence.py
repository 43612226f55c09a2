"""Local times in IANA zones (DST gap and overlap refused), crontab meanings, DST behaviour of cron, intervals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from solidarity_mailer.errors import MailerError
from solidarity_mailer.schedule.recurrence import Recurrence, cron_trigger, parse_at, parse_interval


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_local_time_becomes_utc_instant() -> None:
    assert parse_at("2026-12-07 09:00", "America/Lima") == utc("2026-12-07T14:00")
    assert parse_at("2026-07-01 09:00", "Europe/Berlin") == utc("2026-07-01T07:00")


def test_time_in_dst_gap_is_refused_with_alternatives() -> None:
    with pytest.raises(MailerError) as err:
        parse_at("2026-03-29 02:30", "Europe/Berlin")
    text = err.value.line()
    assert "does not exist in Europe/Berlin" in text
    assert "from 02:00 CET to 03:00 CEST" in text
    assert "'2026-03-29 03:30'" in text  # the suggested valid time


def test_time_in_dst_overlap_is_refused_and_explicit_offset_accepted() -> None:
    with pytest.raises(MailerError) as err:
        parse_at("2026-10-25 02:30", "Europe/Berlin")
    text = err.value.line()
    assert "ambiguous in Europe/Berlin" in text and "happens twice" in text
    assert "'2026-10-25 02:30+02:00'" in text and "'2026-10-25 02:30+01:00'" in text
    # the two suggestions work and are one hour apart
    assert parse_at("2026-10-25 02:30+02:00", "Europe/Berlin") == utc("2026-10-25T00:30")
    assert parse_at("2026-10-25 02:30+01:00", "Europe/Berlin") == utc("2026-10-25T01:30")


def test_offset_that_is_not_the_zones_is_refused() -> None:
    with pytest.raises(MailerError, match="Europe/Berlin is at \\+0100"):
        parse_at("2026-12-07 09:00+05:00", "Europe/Berlin")


def test_unknown_zone_and_bad_time() -> None:
    with pytest.raises(MailerError, match="unknown time zone 'Mars/Olympus'"):
        parse_at("2026-12-07 09:00", "Mars/Olympus")
    with pytest.raises(MailerError, match="cannot read the time"):
        parse_at("next monday", "UTC")


def occurrences(rec: Recurrence, start: str, n: int) -> list[datetime]:
    out, t = [], utc(start)
    for _ in range(n):
        nxt = rec.next_after(t)
        assert nxt is not None
        out.append(nxt)
        t = nxt
    return out


def test_cron_on_the_spring_gap_day_fires_once_shifted_by_the_gap() -> None:
    # 02:30 does not exist on 2026-03-29 in Berlin: APScheduler fires at 01:30 UTC (= 03:30 CEST), once.
    rec = Recurrence("cron", "30 2 * * *", "Europe/Berlin")
    assert occurrences(rec, "2026-03-27T12:00", 4) == [
        utc("2026-03-28T01:30"), utc("2026-03-29T01:30"), utc("2026-03-30T00:30"), utc("2026-03-31T00:30"),
    ]


def test_fixed_hour_cron_fires_once_on_the_autumn_overlap_day() -> None:
    # APScheduler alone would fire 02:30 CEST (00:30 UTC) and 02:30 CET (01:30 UTC): we keep the first.
    rec = Recurrence("cron", "30 2 * * *", "Europe/Berlin")
    assert occurrences(rec, "2026-10-24T12:00", 3) == [
        utc("2026-10-25T00:30"), utc("2026-10-26T01:30"), utc("2026-10-27T01:30"),
    ]


def test_hourly_cron_fires_every_real_hour_through_the_overlap() -> None:
    rec = Recurrence("cron", "0 * * * *", "Europe/Berlin")
    assert occurrences(rec, "2026-10-24T23:30", 4) == [
        utc("2026-10-25T00:00"), utc("2026-10-25T01:00"), utc("2026-10-25T02:00"), utc("2026-10-25T03:00"),
    ]


def test_crontab_weekday_numbers_mean_what_crontab_means() -> None:
    # 2026-11-29 is a Sunday. Crontab: 1 = Monday, 0 and 7 = Sunday (APScheduler 3 alone: 0 = Monday).
    monday = Recurrence("cron", "0 9 * * 1", "UTC").next_after(utc("2026-11-29T12:00"))
    sunday = Recurrence("cron", "0 9 * * 0", "UTC").next_after(utc("2026-11-29T12:00"))
    seven = Recurrence("cron", "0 9 * * 7", "UTC").next_after(utc("2026-11-29T12:00"))
    weekdays = Recurrence("cron", "0 9 * * 1-5", "UTC")
    assert monday == utc("2026-11-30T09:00")
    assert sunday == seven == utc("2026-12-06T09:00")
    assert [d.weekday() for d in occurrences(weekdays, "2026-11-29T12:00", 6)] == [0, 1, 2, 3, 4, 0]
    every_other = occurrences(Recurrence("cron", "0 9 * * */2", "UTC"), "2026-11-29T12:00", 4)
    assert [d.strftime("%a") for d in every_other] == ["Tue", "Thu", "Sat", "Sun"]  # crontab: 0,2,4,6


def test_monthly_cron_in_a_zone() -> None:
    rec = Recurrence("cron", "0 9 1 * *", "Europe/Berlin")
    assert occurrences(rec, "2026-11-29T00:00", 2) == [utc("2026-12-01T08:00"), utc("2027-01-01T08:00")]


def test_bad_cron_expressions_are_refused() -> None:
    with pytest.raises(MailerError, match="has 4 fields"):
        cron_trigger("0 9 1 *", "UTC")
    with pytest.raises(MailerError, match="both day of month and day of week"):
        cron_trigger("0 9 1 * 1", "UTC")
    with pytest.raises(MailerError, match="invalid cron expression"):
        cron_trigger("0 25 * * *", "UTC")


def test_intervals() -> None:
    assert [parse_interval(x) for x in ("90", "90s", "30m", "1h", "1h30m", "2d", "1w")] == [
        90, 90, 1800, 3600, 5400, 172800, 604800]
    for bad in ("", "1x", "h", "0s", "1h 30"):
        with pytest.raises(MailerError):
            parse_interval(bad)
    rec = Recurrence("interval", "3600", "Europe/Berlin", anchor=utc("2026-10-25T00:15"))
    # elapsed time: through the overlap it keeps firing every 3600 s
    assert occurrences(rec, "2026-10-24T23:00", 3) == [
        utc("2026-10-24T23:15"), utc("2026-10-25T00:15"), utc("2026-10-25T01:15")]
