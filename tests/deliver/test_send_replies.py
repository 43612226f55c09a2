"""`send` through what the server answers: 4xx retried, 5xx failed once, 421 and dropped connections,
policy refusals, a wrong password.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from solidarity_mailer.cli import main
from solidarity_mailer.deliver.manual_send import EXIT_FAILURES, EXIT_PAUSED
from solidarity_mailer.ledger import suppressions as suppression
from solidarity_mailer.ledger.schema import campaigns, connect, deliveries, runs, suppressions
from tests.databases import ledger_url
from tests.sendkit import SlowHandler, addresses, send, states, status, write_project
from tests.smtpserver import Credentials, RecordingHandler, drop_connection, smtp_server

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py


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
    engine = connect(ledger_url(tmp_path))
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


def _ledger_tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    engine = connect(ledger_url(path.parent, path.name))
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)))) for t in (campaigns, runs, deliveries)}


def test_authentication_refused_by_a_new_run_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys) -> None:  # type: ignore[no-untyped-def]
    creds = Credentials("mailer", "right-password")
    with smtp_server(RecordingHandler(), authenticator=creds, auth_require_tls=False) as (controller, handler):
        campaign, config = write_project(tmp_path, controller.port, addresses(3), extra_smtp='username = "mailer"')
        monkeypatch.setenv("SOLIDARITY_MAILER_SMTP_PASSWORD", "wrong-password")
        before = _ledger_tables(tmp_path / "ledger.db")
        assert send(campaign, config) == 2
        err = capsys.readouterr().err
        assert "the relay refused the run: authentication failed: 535" in err and "nothing recorded" in err
        assert handler.received == []
        assert _ledger_tables(tmp_path / "ledger.db") == before == {"campaigns": [], "runs": [], "deliveries": []}
        monkeypatch.setenv("SOLIDARITY_MAILER_SMTP_PASSWORD", "right-password")
        assert send(campaign, config) == 0
        assert sorted(handler.recipients()) == addresses(3)
