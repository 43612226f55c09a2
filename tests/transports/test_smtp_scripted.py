"""The SMTP transport against a scripted server, for replies no real server gives (252 to RCPT, 250 to DATA,
354 to DATA for no recipient, a hang-up at a chosen command)."""

from __future__ import annotations

from solidarity_mailer.transports import Verdict
from solidarity_mailer.transports.smtp import SmtpTransport
from tests.scriptedsmtp import answering, scripted_server, usual

MSG = b"From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n"


def test_drop_before_rcpt_is_a_connection_failure_drop_at_rcpt_is_not(smtpd) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtpd
    handler.vanish_at_rcpt.add("b@example.org")
    t = SmtpTransport(controller.hostname, controller.port, timeout=5)
    assert not t.send("s@example.org", ["b@example.org"], MSG)["b@example.org"].connection
    t.close()
    with scripted_server(answering(MAIL=None)) as server:  # the server hangs up at MAIL FROM
        t = SmtpTransport("127.0.0.1", server.port, timeout=5)
        outcome = t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"]
        assert outcome.verdict is Verdict.DEFER and outcome.connection  # the relay's trouble: no attempt used
        assert server.bodies == []
        t.close()


def test_pipelined_data_taken_with_no_recipient_sends_no_body() -> None:
    with scripted_server(answering(RCPT="550 5.1.1 no such user", DATA="354 go on anyway")) as server:
        t = SmtpTransport("127.0.0.1", server.port, timeout=5)
        outcome = t.send("s@example.org", ["x@example.org"], MSG, crlf_only=True)["x@example.org"]
        assert outcome.verdict is Verdict.FAIL and outcome.status == "5.1.1"
        assert t._conn is None  # dropped: the server is waiting for a body
        # no body bytes left (the server may or may not have recorded the close as an empty body yet: a race)
        assert not any(server.bodies)
        t.close()


def test_a_2xx_to_rcpt_is_accepted_and_a_2xx_to_data_is_not_a_delivery() -> None:
    with scripted_server(answering(RCPT="252 2.1.5 will try")) as server:
        t = SmtpTransport("127.0.0.1", server.port, timeout=5)
        assert t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.SENT
        assert len(server.bodies) == 1
        t.close()
    with scripted_server(answering(DATA="250 2.0.0 fine")) as server:
        t = SmtpTransport("127.0.0.1", server.port, timeout=5)
        outcome = t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"]
        assert outcome.verdict is Verdict.DEFER and "unexpected reply to DATA" in outcome.reply
        assert server.bodies == []
        t.close()


def test_a_connection_closed_while_replies_are_owed_is_dropped_and_reopened() -> None:
    first = {"MAIL": "553 5.1.8 sender refused", "RCPT": None}  # then the server hangs up at the owed RCPT

    def script(command: str) -> str | None:
        verb = command.split(" ", 1)[0].upper()
        return first.pop(verb) if verb in first else usual(command)

    with scripted_server(script) as server:
        t = SmtpTransport("127.0.0.1", server.port, timeout=5)
        outcome = t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"]
        assert outcome.verdict is Verdict.FAIL and outcome.code == 553  # the refusal stands, not "connection lost"
        assert t.send("s@example.org", ["b@example.org"], MSG)["b@example.org"].verdict is Verdict.SENT
        assert server.connections == 2 and len(server.bodies) == 1
        t.close()
