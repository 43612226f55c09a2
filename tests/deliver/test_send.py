"""`send` and `status` against a real aiosmtpd server and a real SQLite ledger: exactly once, through faults."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from solidarity_mailer.cli import main
from solidarity_mailer.deliver.feeder import STATE_EVERY, WAIT_SLICE
from solidarity_mailer.deliver.manual_send import EXIT_FAILURES, EXIT_PAUSED
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger import suppressions as suppression
from solidarity_mailer.ledger.schema import connect, suppressions
from tests.sendkit import Clock, SlowHandler, addresses, clean_environment, open_manual_run, send, states, write_project
from tests.smtpserver import Credentials, RecordingHandler, drop_connection, smtp_server


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


@pytest.fixture
def server() -> Iterator[tuple[Controller, SlowHandler]]:
    with smtp_server(SlowHandler()) as pair:
        yield pair  # type: ignore[misc]


def status(capsys: pytest.CaptureFixture[str], config: Path) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["status", "test", "--config", str(config), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


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


def test_451_retried_until_delivered_550_failed_once_5_1_1_suppressed(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(10)
    handler.rcpt_replies[emails[3]] = ["451 4.3.0 try later", "451 4.2.1 busy"]
    handler.rcpt_replies[emails[2]] = ["550 5.1.1 no such user", "550 5.1.1 no such user"]
    handler.rcpt_replies[emails[4]] = ["554 5.2.1 mailbox disabled", "554 5.2.1 mailbox disabled"]
    campaign, config = write_project(tmp_path, controller.port, emails)
    assert send(campaign, config) == EXIT_FAILURES
    assert sorted(handler.recipients()) == sorted(set(emails) - {emails[2], emails[4]})
    assert handler.rcpt_replies[emails[3]] == []  # asked twice, delivered the third time
    assert len(handler.rcpt_replies[emails[2]]) == 1  # 5xx: asked once, never retried
    assert len(handler.rcpt_replies[emails[4]]) == 1
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    assert suppression.is_suppressed(engine, emails[2])  # 5.1.1: suppressed as bounced
    assert not suppression.is_suppressed(engine, emails[4])
    with engine.connect() as conn:
        assert conn.execute(select(suppressions.c.reason)).scalars().all() == ["bounced"]
    run = status(capsys, config)["runs"][0]
    assert run["counts"]["sent"] == 8 and run["counts"]["failed"] == 2
    problems = {p["address"]: p for p in run["problems"]}
    assert problems[emails[2]]["last_reply"] == "550 5.1.1 no such user"
    assert problems[emails[4]]["attempts"] == 1
    capsys.readouterr()
    assert main(["status", "test", "--config", str(config)]) == 0
    assert f"failed: {emails[4]} (attempts 1): 554 5.2.1 mailbox disabled" in capsys.readouterr().out


def test_4xx_for_ever_gives_up_after_max_attempts(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(3)
    handler.rcpt_replies[emails[1]] = ["452 4.2.2 mailbox full"] * 10
    campaign, config = write_project(tmp_path, controller.port, emails, max_attempts=3)
    assert send(campaign, config) == EXIT_FAILURES
    assert len(handler.rcpt_replies[emails[1]]) == 7
    assert states(tmp_path)[emails[1]] == "failed"


@dataclass
class After421Handler(SlowHandler):
    """Notes each connection the server answered 421 on, and any MAIL the client sends there afterwards
    (RFC 5321 3.8: after 421 the connection is over; the client must open a new one, not go on)."""

    said_421: list[Session] = field(default_factory=list)
    mail_after_421: list[str] = field(default_factory=list)

    def _said_421(self, session: Session, reply: str) -> str:
        if reply.startswith("421"):
            self.said_421.append(session)
        return reply

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if any(s is session for s in self.said_421):
            self.mail_after_421.append(address)
        return self._said_421(session, await super().handle_MAIL(server, session, envelope, address, mail_options))

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        return self._said_421(session, await super().handle_RCPT(server, session, envelope, address, rcpt_options))

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self._said_421(session, await super().handle_DATA(server, session, envelope))


def test_421_and_drops_before_the_final_dot_are_retried(tmp_path: Path) -> None:
    emails = addresses(12)
    with smtp_server(After421Handler()) as (controller, handler):
        handler.rcpt_replies[emails[1]] = ["421 4.3.2 service shutting down"]
        handler.data_replies.append("421 4.4.2 timeout")
        handler.vanish_at_rcpt.add(emails[5])  # the connection drops mid-transaction, before any DATA
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=2)
        assert send(campaign, config) == 0
    assert handler.dropped_at_rcpt == [emails[5]]
    assert len(handler.said_421) == 2 and handler.mail_after_421 == []  # each 421 ended its connection
    assert Counter(handler.recipients()) == Counter(emails)  # each exactly once
    assert set(states(tmp_path).values()) == {"sent"}


def test_drop_after_the_final_dot_is_uncertain_and_resent_only_on_request(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(6)
    seen: list[str] = []

    def drop_first_for_r3(server, session, envelope):  # type: ignore[no-untyped-def]
        if envelope.rcpt_tos == [emails[3]] and not seen:
            seen.append(emails[3])
            return drop_connection(server, session, envelope)
        return None

    handler.on_data = drop_first_for_r3
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
    assert send(campaign, config) == 0
    assert states(tmp_path)[emails[3]] == "uncertain"
    assert emails[3] not in handler.recipients()
    run = status(capsys, config)["runs"][0]
    assert [(p["address"], p["state"]) for p in run["problems"]] == [(emails[3], "uncertain")]
    assert "after the final dot" in run["problems"][0]["last_reply"]
    assert send(campaign, config) == 0  # not resent by default: it may have arrived
    assert emails[3] not in handler.recipients()
    assert send(campaign, config, "--resend-uncertain") == 0
    assert Counter(handler.recipients()) == Counter(emails)


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


def test_policy_refusal_pauses_the_run_and_a_later_send_finishes(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(8)
    refused: list[str] = []

    def refuse_r4_once(server, session, envelope):  # type: ignore[no-untyped-def]
        if envelope.rcpt_tos == [emails[4]] and not refused:
            refused.append(emails[4])
            return "554 5.7.1 client host blocked by policy"  # the message refused, not the recipient: pause
        return None

    handler.on_data = refuse_r4_once
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
    assert send(campaign, config) == EXIT_PAUSED  # paused: non-zero
    out = capsys.readouterr().out
    assert "paused" in out and "5.7.1 client host blocked" in out
    assert len(handler.received) == 4
    assert states(tmp_path)[emails[4]] == "pending"
    run = status(capsys, config)["runs"][0]
    assert run["state"] == "paused" and "5.7.1" in run["note"]
    assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter(emails)


def test_policy_refusal_of_one_recipient_fails_or_defers_it_alone(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(8)
    handler.rcpt_replies[emails[4]] = ["550 5.7.1 Recipient address rejected"] * 3
    handler.rcpt_replies[emails[5]] = ["451 4.7.1 greylisted, try again later"]
    campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
    assert send(campaign, config) == EXIT_FAILURES  # finished, but with a failure: non-zero
    assert "finished" in capsys.readouterr().out
    assert sorted(handler.recipients()) == sorted(set(emails) - {emails[4]})  # 4.7.1 retried and delivered
    assert len(handler.rcpt_replies[emails[4]]) == 2  # 5.7.1 at RCPT: asked once, failed, never retried
    assert states(tmp_path)[emails[4]] == "failed"
    assert send(campaign, config) == EXIT_FAILURES  # the run is not stuck on it: nothing left, nothing re-sent
    assert len(handler.rcpt_replies[emails[4]]) == 2 and len(handler.received) == 7


def test_authentication_failure_pauses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    creds = Credentials("mailer", "right-password")
    with smtp_server(RecordingHandler(), authenticator=creds, auth_require_tls=False) as (controller, handler):
        campaign, config = write_project(tmp_path, controller.port, addresses(3), extra_smtp='username = "mailer"')
        monkeypatch.setenv("SOLIDARITY_MAILER_SMTP_PASSWORD", "wrong-password")
        assert send(campaign, config) == EXIT_PAUSED
        assert "authentication failed: 535" in capsys.readouterr().out
        assert handler.received == []
        monkeypatch.setenv("SOLIDARITY_MAILER_SMTP_PASSWORD", "right-password")
        assert send(campaign, config) == 0
        assert sorted(handler.recipients()) == addresses(3)


def test_suppression_added_mid_run_is_honoured(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    emails = addresses(10)
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")

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
    engine = connect(f"sqlite:///{tmp_path / 'ledger.db'}")

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
