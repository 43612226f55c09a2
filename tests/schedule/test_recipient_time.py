"""``schedule --recipient-time``: the plan (one batch per zone, exact UTC instants in ``campaigns --json``), DST
days, the refusals and ``--late``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schedule.zonekit import cli, plans, zoned_project

OFFSETS = {
    "a@example.org": "Asia/Kolkata", "b@example.org": "Asia/Kolkata", "c@example.org": "Asia/Kathmandu",
    "d@example.org": "Australia/Adelaide", "e@example.org": "Pacific/Chatham", "f@example.org": None,
    "g@example.org": "",
}


def schedule(capsys: pytest.CaptureFixture[str], config: Path, campaign: Path, *args: str) -> tuple[int, str, str]:
    return cli(capsys, "schedule", str(campaign), "--config", str(config), *args)


def test_the_plan_of_zones_with_30_and_45_minute_offsets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    campaign, config = zoned_project(tmp_path, monkeypatch, OFFSETS)
    code, out, err = schedule(capsys, config, campaign, "--at", "2026-12-08 09:00", "--recipient-time",
                              "--tz", "Europe/Berlin")
    assert code == 0, err
    assert "batch Asia/Kathmandu: 2026-12-08T03:15:00Z, 1 recipient(s)" in out
    assert plans(capsys, config) == [[
        {"zone": "Pacific/Chatham", "at": "2026-12-07T19:15:00Z", "recipients": 1},
        {"zone": "Australia/Adelaide", "at": "2026-12-07T22:30:00Z", "recipients": 1},
        {"zone": "Asia/Kathmandu", "at": "2026-12-08T03:15:00Z", "recipients": 1},
        {"zone": "Asia/Kolkata", "at": "2026-12-08T03:30:00Z", "recipients": 2},
        {"zone": "Europe/Berlin", "at": "2026-12-08T08:00:00Z", "recipients": 2},
    ]]
    code, out, _ = cli(capsys, "campaigns", "--config", str(config))
    assert "at 2026-12-08 09:00 in each recipient's zone (else Europe/Berlin)" in out
    assert "next 2026-12-07 20:15 CET = 2026-12-07T19:15:00+00:00" in out
    assert "    batch Asia/Kolkata at 2026-12-08T03:30:00Z: 2 recipient(s)" in out


def test_the_plan_on_dst_change_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    zones = {"berlin@example.org": "Europe/Berlin", "ny@example.org": "America/New_York"}
    campaign, config = zoned_project(tmp_path, monkeypatch, zones)
    for at in ("2026-03-08 02:30", "2026-03-29 02:30", "2026-10-25 02:30", "2026-11-01 01:30"):
        code, _, err = schedule(capsys, config, campaign, "--at", at, "--recipient-time", "--tz", "UTC")
        assert code == 0, err
    assert plans(capsys, config) == [
        # New York springs forward: 02:30 does not exist, it becomes 03:30 EDT; Berlin is on CET
        [{"zone": "Europe/Berlin", "at": "2026-03-08T01:30:00Z", "recipients": 1},
         {"zone": "America/New_York", "at": "2026-03-08T07:30:00Z", "recipients": 1}],
        # Berlin springs forward: 02:30 becomes 03:30 CEST (01:30 UTC); New York is on EDT
        [{"zone": "Europe/Berlin", "at": "2026-03-29T01:30:00Z", "recipients": 1},
         {"zone": "America/New_York", "at": "2026-03-29T06:30:00Z", "recipients": 1}],
        # Berlin falls back: 02:30 happens twice, the first (CEST) is taken
        [{"zone": "Europe/Berlin", "at": "2026-10-25T00:30:00Z", "recipients": 1},
         {"zone": "America/New_York", "at": "2026-10-25T06:30:00Z", "recipients": 1}],
        # New York falls back: 01:30 happens twice, the first (EDT) is taken
        [{"zone": "Europe/Berlin", "at": "2026-11-01T00:30:00Z", "recipients": 1},
         {"zone": "America/New_York", "at": "2026-11-01T05:30:00Z", "recipients": 1}],
    ]


def test_the_plan_on_dst_change_days_of_zones_with_30_and_45_minute_offsets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    zones = {"lhi@example.org": "Australia/Lord_Howe", "cht@example.org": "Pacific/Chatham",
             "adl@example.org": "Australia/Adelaide", "ecl@example.org": "Australia/Eucla",
             "kol@example.org": "Asia/Kolkata"}
    campaign, config = zoned_project(tmp_path, monkeypatch, zones)
    for at in ("2026-10-04 02:15", "2026-04-05 01:45", "2026-09-27 03:00", "2026-04-05 02:45"):
        code, _, err = schedule(capsys, config, campaign, "--at", at, "--recipient-time", "--tz", "UTC")
        assert code == 0, err

    def plan(*entries: tuple[str, str]) -> list[dict[str, object]]:
        return [{"zone": zone, "at": at, "recipients": 1} for at, zone in entries]

    assert plans(capsys, config) == [  # (no batch for UTC: every recipient has a zone)
        # Lord Howe springs forward by 30 min (02:00 -> 02:30): 02:15 becomes 02:45 +11:00; Adelaide by an hour:
        # 02:15 becomes 03:15 +10:30; Chatham is on +13:45 since 27 September; Eucla (+8:45) and Kolkata keep theirs
        plan(("2026-10-03T12:30:00Z", "Pacific/Chatham"), ("2026-10-03T15:45:00Z", "Australia/Lord_Howe"),
             ("2026-10-03T16:45:00Z", "Australia/Adelaide"), ("2026-10-03T17:30:00Z", "Australia/Eucla"),
             ("2026-10-03T20:45:00Z", "Asia/Kolkata")),
        # Lord Howe falls back by 30 min (02:00 -> 01:30): 01:45 happens twice, the first (+11:00) is taken
        plan(("2026-04-04T12:00:00Z", "Pacific/Chatham"), ("2026-04-04T14:45:00Z", "Australia/Lord_Howe"),
             ("2026-04-04T15:15:00Z", "Australia/Adelaide"), ("2026-04-04T17:00:00Z", "Australia/Eucla"),
             ("2026-04-04T20:15:00Z", "Asia/Kolkata")),
        # Chatham springs forward 02:45 -> 03:45: 03:00 becomes 04:00 +13:45
        plan(("2026-09-26T14:15:00Z", "Pacific/Chatham"), ("2026-09-26T16:30:00Z", "Australia/Lord_Howe"),
             ("2026-09-26T17:30:00Z", "Australia/Adelaide"), ("2026-09-26T18:15:00Z", "Australia/Eucla"),
             ("2026-09-26T21:30:00Z", "Asia/Kolkata")),
        # Chatham falls back 03:45 -> 02:45 and Adelaide 03:00 -> 02:00: 02:45 happens twice in both, the first
        # (+13:45, +10:30) is taken; Lord Howe is back on +10:30
        plan(("2026-04-04T13:00:00Z", "Pacific/Chatham"), ("2026-04-04T16:15:00Z", "Australia/Adelaide"),
             ("2026-04-04T16:15:00Z", "Australia/Lord_Howe"), ("2026-04-04T18:00:00Z", "Australia/Eucla"),
             ("2026-04-04T21:15:00Z", "Asia/Kolkata")),
    ]


def test_an_earliest_zone_already_past_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # 2026-12-07T21:00Z: Chatham's 09:00 (19:15Z) is past, Adelaide's (22:30Z) is not
    campaign, config = zoned_project(tmp_path, monkeypatch, OFFSETS, now="2026-12-07T21:00:00+00:00")
    code, out, err = schedule(capsys, config, campaign, "--at", "2026-12-08 09:00", "--recipient-time",
                              "--tz", "Europe/Berlin")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "2026-12-08 09:00 in Pacific/Chatham is already past (2026-12-07T19:15:00Z" in err
    assert "--late skip" in err and "Traceback" not in err
    assert plans(capsys, config) == []


def test_late_skip_leaves_the_past_zones_out_and_lists_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    campaign, config = zoned_project(tmp_path, monkeypatch, OFFSETS, now="2026-12-07T21:00:00+00:00")
    code, out, err = schedule(capsys, config, campaign, "--at", "2026-12-08 09:00", "--recipient-time",
                              "--tz", "Europe/Berlin", "--late", "skip")
    assert code == 0, err
    assert ("left out (--late skip): Pacific/Chatham, 1 recipient(s): its 2026-12-08 09:00 was "
            "2026-12-07T19:15:00Z") in out
    assert [z["zone"] for z in plans(capsys, config)[0]] == [  # type: ignore[union-attr]
        "Australia/Adelaide", "Asia/Kathmandu", "Asia/Kolkata", "Europe/Berlin"]


def test_late_now_sends_the_past_zones_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    campaign, config = zoned_project(tmp_path, monkeypatch, OFFSETS, now="2026-12-07T21:00:00+00:00")
    code, _, err = schedule(capsys, config, campaign, "--at", "2026-12-08 09:00", "--recipient-time",
                            "--tz", "Europe/Berlin", "--late", "now")
    assert code == 0, err
    (plan,) = plans(capsys, config)
    assert plan[0]["zone"] == "Pacific/Chatham" and plan[0]["at"].startswith("2026-12-07T21:00:0")  # type: ignore[index]
    assert plan[1] == {"zone": "Australia/Adelaide", "at": "2026-12-07T22:30:00Z", "recipients": 1}  # type: ignore[index]


def test_an_unknown_zone_in_the_list_is_refused_with_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    campaign, config = zoned_project(tmp_path, monkeypatch, {"a@example.org": "Europe/Berlin",
                                                             "b@example.org": "Europe/Berln"})
    code, out, err = schedule(capsys, config, campaign, "--at", "2026-12-08 09:00", "--recipient-time")
    assert code == 2 and out == ""
    assert "recipients/list.csv:3: unknown time zone 'Europe/Berln' in column 'tz'" in err
    assert err.count("\n") == 1
    code, out, err = cli(capsys, "lists", "check", str(tmp_path / "recipients" / "list.csv"))
    assert code != 0 and "list.csv:3: unknown time zone 'Europe/Berln'" in out + err


@pytest.mark.parametrize(("args", "message"), [
    (("--cron", "0 9 * * *", "--recipient-time"), "--recipient-time goes with --at"),
    (("--at", "2026-12-08 09:00", "--late", "skip"), "--late goes with --recipient-time"),
    (("--at", "2026-12-08 09:00+01:00", "--recipient-time"), "without offset"),
    (("--at", "2026-12-08 09:00", "--recipient-time", "--tz", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
])
def test_usage_mistakes_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    campaign, config = zoned_project(tmp_path, monkeypatch, OFFSETS)
    code, out, err = schedule(capsys, config, campaign, *args)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1, err
