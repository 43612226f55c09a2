"""The SMTP transport against a real aiosmtpd server: reuse, partial refusals, faults, SMTPUTF8.

Every test on the ``smtpd`` fixture (tests/transports/conftest.py) runs twice: against a server that offers
PIPELINING (RFC 2920) and one that does not. TLS and AUTH: test_smtp_tls.py; replies no real server gives:
test_smtp_scripted.py."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator

import pytest

from solidarity_mailer.transports import TransportPaused, Verdict
from solidarity_mailer.transports.smtp import SmtpTransport
from solidarity_mailer.transports.smtp_wire import wire_body
from tests.smtpserver import drop_connection, free_port, smtp_server

MSG = b"From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n"


@pytest.fixture
def transport(smtpd) -> Iterator[SmtpTransport]:  # type: ignore[no-untyped-def]
    controller, _ = smtpd
    t = SmtpTransport(controller.hostname, controller.port, timeout=5)
    yield t
    t.close()


def test_one_connection_for_many_messages_and_dots_intact(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    for i in range(5):
        result = transport.send("s@example.org", [f"r{i}@example.org"], MSG)
        assert result[f"r{i}@example.org"].verdict is Verdict.SENT
    assert transport.connections == 1
    assert handler.recipients() == [f"r{i}@example.org" for i in range(5)]
    assert all(r.data == MSG for r in handler.received)


def test_bare_line_ends_are_normalised(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    smuggle = b"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.net>\r\nbare\rcr\r\n"
    assert transport.send("s@example.org", ["a@example.org"], smuggle)["a@example.org"].verdict is Verdict.SENT
    assert handler.received[0].data == b"Subject: x\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.net>\r\nbare\r\ncr\r\n"
    assert len(handler.received) == 1


def test_crlf_only_data_goes_out_byte_for_byte(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    """``crlf_only`` skips the bare CR/LF scan; CRLF data is still dot-stuffed and arrives unchanged."""
    _, handler = smtpd
    data = b".lead\r\n.\r\n..two\r\nend"
    for crlf_only in (False, True):
        outcome = transport.send("s@example.org", ["a@example.org"], data, crlf_only=crlf_only)["a@example.org"]
        assert outcome.verdict is Verdict.SENT
    assert [r.data for r in handler.received] == [data + b"\r\n"] * 2
    bare = b"a\nb\r\n"  # the flag is the caller's promise: with it, the scan (and its repair) is skipped
    assert wire_body(bare) == b"a\r\nb\r\n.\r\n" and wire_body(bare, crlf_only=True) == bare + b".\r\n"


def test_envelope_addresses_and_leading_dot(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    quoted = '"odd person"@example.org'  # not a plain addr-spec: goes through smtplib's quoting
    data = b".first line is a dot\r\n.\r\nlast line without CRLF"
    assert transport.send("bounce+x=y@example.org", ["a.b-c+d@example.org", quoted], data)[quoted].verdict \
        is Verdict.SENT
    got = handler.received[0]
    assert (got.mail_from, got.rcpt_tos) == ("bounce+x=y@example.org", ["a.b-c+d@example.org", quoted])
    assert got.data == data + b"\r\n"


def test_partial_refusal_is_never_lost(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.rcpt_replies["gone@example.org"] = ["550 5.1.1 no such user"]
    handler.rcpt_replies["later@example.org"] = ["451 4.3.0 try later"]
    rcpts = ["ok@example.org", "gone@example.org", "later@example.org", "ok2@example.org"]
    result = transport.send("s@example.org", rcpts, MSG)
    assert list(result) == rcpts
    assert result["ok@example.org"].verdict is Verdict.SENT and result["ok2@example.org"].verdict is Verdict.SENT
    assert result["gone@example.org"].verdict is Verdict.FAIL and result["gone@example.org"].suppress
    assert result["later@example.org"].verdict is Verdict.DEFER and result["later@example.org"].code == 451
    assert handler.recipients() == ["ok@example.org", "ok2@example.org"]
    # the connection stays usable for the next transaction
    assert transport.send("s@example.org", ["later@example.org"], MSG)["later@example.org"].verdict is Verdict.SENT
    assert transport.connections == 1


def test_all_refused_then_next_transaction_resets(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.rcpt_replies["x@example.org"] = ["550 5.1.1 no"]
    assert transport.send("s@example.org", ["x@example.org"], MSG)["x@example.org"].verdict is Verdict.FAIL
    assert transport.send("s@example.org", ["y@example.org"], MSG)["y@example.org"].verdict is Verdict.SENT
    assert handler.recipients() == ["y@example.org"]


def test_envelope_commands_share_one_write_when_pipelining_is_offered(smtpd, transport: SmtpTransport,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, handler = smtpd
    writes: list[bytes] = []
    real_send = smtplib.SMTP.send

    def counting_send(self: smtplib.SMTP, s: str | bytes) -> None:
        writes.append(s.encode() if isinstance(s, str) else s)
        real_send(self, s)

    transport.open()  # EHLO is not part of the count
    monkeypatch.setattr(smtplib.SMTP, "send", counting_send)
    result = transport.send("s@example.org", ["a@example.org", "b@example.org"], MSG)
    assert set(result) == {"a@example.org", "b@example.org"} and handler.recipients() == list(result)
    if handler.pipelining:  # MAIL, RCPT, RCPT, DATA in one write; then the body
        assert writes[0] == (b"MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.org>\r\n"
                             b"RCPT TO:<b@example.org>\r\nDATA\r\n")
        assert len(writes) == 2
    else:
        assert [w.split()[0] for w in writes[:4]] == [b"mail", b"rcpt", b"rcpt", b"data"] and len(writes) == 5


def test_refused_sender_fails_all_and_the_connection_stays_in_step(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.mail_replies.append("553 5.1.8 sender domain does not exist")
    result = transport.send("s@example.org", ["a@example.org", "b@example.org"], MSG)
    assert {o.verdict for o in result.values()} == {Verdict.FAIL} and result["b@example.org"].code == 553
    handler.mail_replies.append("451 4.3.0 try again later")  # pipelined RCPT/DATA were refused in turn
    assert transport.send("s@example.org", ["c@example.org"], MSG)["c@example.org"].verdict is Verdict.DEFER
    assert transport.send("s@example.org", ["d@example.org"], MSG)["d@example.org"].verdict is Verdict.SENT
    assert handler.recipients() == ["d@example.org"] and transport.connections == 1


def test_policy_refusal_of_the_sender_pauses_and_leaves_the_connection_usable(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.mail_replies.append("550 5.7.1 sender blocked by policy")
    with pytest.raises(TransportPaused):
        transport.send("s@example.org", ["a@example.org"], MSG)
    assert transport.send("s@example.org", ["b@example.org"], MSG)["b@example.org"].verdict is Verdict.SENT
    assert handler.recipients() == ["b@example.org"] and transport.connections == 1


def test_421_on_rcpt_defers_the_whole_transaction_and_reconnects(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.rcpt_replies["b@example.org"] = ["421 4.3.2 shutting down"]
    result = transport.send("s@example.org", ["a@example.org", "b@example.org", "c@example.org"], MSG)
    assert {r: o.verdict for r, o in result.items()} == dict.fromkeys(result, Verdict.DEFER)
    assert handler.received == []
    assert transport.send("s@example.org", ["b@example.org"], MSG)["b@example.org"].verdict is Verdict.SENT
    assert transport.connections == 2


def test_4xx_and_5xx_after_data(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.data_replies.extend(["452 4.3.1 disk full", "554 5.6.0 bad content", "421 4.4.2 bye"])
    assert transport.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.DEFER
    assert transport.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.FAIL
    assert transport.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.DEFER
    assert transport.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.SENT
    assert transport.connections == 2  # 421 closed the first one


def test_drop_after_final_dot_is_uncertain(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.on_data = drop_connection
    result = transport.send("s@example.org", ["a@example.org", "b@example.org"], MSG)
    assert {o.verdict for o in result.values()} == {Verdict.UNCERTAIN}
    handler.on_data = None
    assert transport.send("s@example.org", ["c@example.org"], MSG)["c@example.org"].verdict is Verdict.SENT
    assert transport.connections == 2


def test_drop_before_final_dot_is_deferred(smtpd) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtpd
    handler.vanish_at_rcpt.add("b@example.org")
    t = SmtpTransport(controller.hostname, controller.port, timeout=5)
    result = t.send("s@example.org", ["a@example.org", "b@example.org"], MSG)
    assert {o.verdict for o in result.values()} == {Verdict.DEFER}
    assert "connection lost" in result["a@example.org"].reply
    assert not result["a@example.org"].connection  # dropped at RCPT: counted against the recipients
    assert handler.received == []
    assert t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.SENT
    t.close()
    assert t.connections == 2


def test_idle_connection_closed_by_server_is_reopened_transparently() -> None:
    with smtp_server(timeout=0.3) as (controller, handler):
        t = SmtpTransport(controller.hostname, controller.port, timeout=5)
        assert t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.SENT
        time.sleep(0.8)  # the server's idle timeout closes our connection
        assert t.send("s@example.org", ["b@example.org"], MSG)["b@example.org"].verdict is Verdict.SENT
        t.close()
    assert t.connections == 2
    assert handler.recipients() == ["a@example.org", "b@example.org"]


def test_unreachable_server_defers() -> None:
    t = SmtpTransport("127.0.0.1", free_port(), timeout=2)
    result = t.send("s@example.org", ["a@example.org"], MSG)
    assert result["a@example.org"].verdict is Verdict.DEFER
    assert "connection failed" in result["a@example.org"].reply
    assert result["a@example.org"].connection  # the relay's trouble: the dispatcher does not count it


def test_policy_refusal_of_one_recipient_fails_or_defers_only_that_recipient(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.rcpt_replies["b@example.org"] = ["550 5.7.1 Recipient address rejected"]
    handler.rcpt_replies["c@example.org"] = ["451 4.7.1 greylisted, try again later"]
    result = transport.send("s@example.org", ["a@example.org", "b@example.org", "c@example.org"], MSG)
    assert {r: o.verdict for r, o in result.items()} == {
        "a@example.org": Verdict.SENT, "b@example.org": Verdict.FAIL, "c@example.org": Verdict.DEFER}
    assert result["b@example.org"].status == "5.7.1" and not result["c@example.org"].connection
    assert handler.recipients() == ["a@example.org"]


def test_policy_refusal_of_the_message_pauses_and_leaves_the_connection_usable(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    handler.data_replies.append("554 5.7.1 message refused by policy")
    with pytest.raises(TransportPaused) as info:
        transport.send("s@example.org", ["a@example.org", "b@example.org"], MSG)
    assert info.value.status == "5.7.1"
    assert handler.received == []  # nothing of the paused call was delivered
    assert transport.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.SENT
    assert transport.connections == 1


def test_smtputf8_used_when_needed_and_offered(smtpd, transport: SmtpTransport) -> None:  # type: ignore[no-untyped-def]
    _, handler = smtpd
    rcpt = "пользователь@пример.рф"
    result = transport.send("s@example.org", [rcpt], "Subject: тест\r\n\r\nпривет\r\n".encode(), smtputf8=True)
    assert result[rcpt].verdict is Verdict.SENT
    assert handler.recipients() == [rcpt]
    assert transport.send("s@example.org", ["plain@example.org"], MSG)["plain@example.org"].verdict is Verdict.SENT


def test_smtputf8_not_offered_fails_only_that_recipient() -> None:
    with smtp_server(enable_SMTPUTF8=False) as (controller, handler):
        t = SmtpTransport(controller.hostname, controller.port, timeout=5)
        result = t.send("s@example.org", ["müller@example.org"], MSG)
        assert result["müller@example.org"].verdict is Verdict.FAIL
        assert result["müller@example.org"].status == "5.6.7" and "SMTPUTF8" in result["müller@example.org"].reply
        assert t.send("s@example.org", ["ok@example.org"], MSG)["ok@example.org"].verdict is Verdict.SENT
        t.close()
    assert handler.recipients() == ["ok@example.org"]


def test_starttls_required_but_not_offered_pauses(smtpd) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtpd
    t = SmtpTransport(controller.hostname, controller.port, security="starttls", timeout=5)
    with pytest.raises(TransportPaused, match="does not offer STARTTLS"):
        t.send("s@example.org", ["a@example.org"], MSG)
    assert handler.received == []
