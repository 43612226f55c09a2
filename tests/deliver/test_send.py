"""`send` and `status` against a real aiosmtpd server and a real SQLite ledger: exactly once, test copies,
dry runs, limits, and what is reported about the list.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.sendkit import addresses, send, status, write_project

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py


def test_all_delivered_once_and_a_second_send_sends_nothing(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(25)
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=3)
    assert send(campaign, config) == 0
    assert sorted(handler.recipients()) == emails
    ids = {m.message["Message-ID"] for m in handler.received}
    assert len(ids) == 25
    first = handler.received[0].message
    assert first["Subject"] == "Solidarity with the struggle of the Peruvian people"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {p.get_content_type() for p in first.walk()} >= {"text/plain", "text/html"}
    out = capsys.readouterr().out
    assert "finished" in out and "sent 25" in out

    assert send(campaign, config) == 0
    assert len(handler.received) == 25
    report = status(capsys, config)
    assert [r["fire_key"] for r in report["runs"]] == ["manual:test"]
    assert report["runs"][0]["counts"]["sent"] == 25 and report["runs"][0]["state"] == "finished"


def test_test_copy_partial_refusal_is_reported_and_the_ledger_untouched(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    campaign, config = write_project(tmp_path, controller.port, addresses(3))
    handler.rcpt_replies["b@example.net"] = ["550 5.1.1 unknown"]
    rc = send(campaign, config, "--to", "a@example.net", "--to", "b@example.net", "--to", "c@example.net")
    out = capsys.readouterr().out
    assert rc == 1
    assert "b@example.net: failed 550" in out and "a@example.net: sent" in out and "c@example.net: sent" in out
    assert [m.rcpt_tos for m in handler.received] == [["a@example.net", "c@example.net"]]
    assert handler.received[0].message["Subject"].startswith("[TEST] ")
    assert status(capsys, config)["runs"] == []


def test_dry_run_counts_and_sends_nothing(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    campaign, config = write_project(tmp_path, controller.port, [*addresses(4), "R0001@Example.org"])
    assert send(campaign, config, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 valid, 0 invalid, 1 duplicates, 0 suppressed" in out and "nothing was sent" in out
    assert handler.received == []


def test_limit_stops_and_the_next_send_continues(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(9)
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=2)
    assert send(campaign, config, "--limit", "4") == 0
    assert len(handler.received) == 4
    assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter(emails)


def test_progress_bar_on_a_terminal(tmp_path: Path, server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    controller, _ = server
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    campaign, config = write_project(tmp_path, controller.port, addresses(5))
    assert send(campaign, config) == 0
    assert "5/5" in terminal.getvalue()


def test_invalid_rows_are_reported_not_silently_dropped(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    campaign, config = write_project(tmp_path, controller.port, [*addresses(3), "not-an-address"])
    assert send(campaign, config) == 0
    err = capsys.readouterr().err
    assert "skipped invalid row:" in err and "list.csv:5" in err and "3 valid, 1 invalid" in err
    assert sorted(handler.recipients()) == addresses(3)


def test_header_injection_in_a_list_never_reaches_the_server(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    campaign, config = write_project(tmp_path, controller.port, addresses(2))
    with (tmp_path / "recipients" / "list.csv").open("a", encoding="utf-8", newline="") as fh:
        fh.write('r0002@example.org,"Eve\r\nBcc: victim@example.net"\r\n')
        fh.write('"r0003@example.org\r\nBcc: victim@example.net",Mallory\r\n')
    assert send(campaign, config) == 0
    err = capsys.readouterr().err
    assert "lists: 2 valid," in err and "list.csv:4: name" in err  # reported with file:line, not sent
    assert sorted(handler.recipients()) == addresses(2)
    for received in handler.received:
        assert b"victim" not in received.data
        assert received.message["Bcc"] is None
