"""Replies that are not SMTP (garbage, a code such as 999, a reply that never ends), silence and hang-ups,
against a scripted server on 127.0.0.1: after the final dot the message may have been taken (``uncertain``);
before it nothing was (deferred). Only a well-formed 5xx fails a recipient, only a well-formed 4xx defers one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from solidarity_mailer.transports import Verdict
from solidarity_mailer.transports.smtp import SmtpTransport
from tests.scriptedsmtp import Reply, answering, scripted_server

MSG = b"From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n"
TIMEOUT = 1.0  # the client's [smtp] timeout in these tests


def endless(first: bytes = b"250-still going\r\n", seconds: float = 5.0) -> Iterator[bytes]:
    """A multiline reply that goes on (for ``seconds``, then ends with a 250 line) while the client listens."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        yield first * 20
    yield b"250 2.0.0 queued at last\r\n"


NOT_SMTP = {
    "garbage": b"\x00\xff\xfegarbage\x1b[2J\r\n",
    "code-999": "999 what",
    "two-digits": "25 ok",
    "four-digits": "2500 ok",
    "text-glued-to-code": "250ok",
    "mixed-codes": b"250-first\r\n550 second\r\n",
    "never-ends": endless(),
    "continuation-then-silence": b"250-half a reply\r\n",
    "3xx": "354 go on again",
    "drop": None,
    "silence": b"",
}


def _send(reply: Reply, **envelope: Reply) -> tuple[Verdict, str, int, bool]:
    """One transaction against a server answering ``reply`` after the final dot (and ``envelope`` before it):
    (verdict, reply text, bodies the server took, whether it was a connection-level deferral)."""
    script = answering(**envelope, **{"<eom>": reply})
    muted: list[bool] = []

    def silent_after_silence(command: str) -> Reply:  # after a silence nothing more is said (not even out of step)
        answer = b"" if muted else script(command)
        muted.extend([True] if answer == b"" else [])
        return answer

    with scripted_server(silent_after_silence) as server:
        t = SmtpTransport("127.0.0.1", server.port, timeout=TIMEOUT)
        outcome = t.send("s@example.org", ["a@example.org"], MSG, crlf_only=True)["a@example.org"]
        t.close()
        taken = sum(1 for body in server.bodies if body)  # (a hang-up while it waits for one is no body)
        return outcome.verdict, outcome.reply, taken, outcome.connection


@pytest.mark.parametrize("reply", NOT_SMTP.values(), ids=NOT_SMTP.keys())
def test_anything_but_a_well_formed_reply_after_the_final_dot_is_uncertain(reply: Reply) -> None:
    started = time.monotonic()
    verdict, text, bodies, _ = _send(reply)
    assert (verdict, bodies) == (Verdict.UNCERTAIN, 1), text
    assert "after the final dot" in text
    assert not any(ord(c) < 32 or ord(c) == 127 for c in text)  # garbage is shown escaped, never raw
    assert time.monotonic() - started < 4 * TIMEOUT  # an endless reply is cut short, not read for ever


@pytest.mark.parametrize(("reply", "verdict", "code"), [
    ("550 5.6.0 content rejected", Verdict.FAIL, 550),
    ("554-5.6.0 content rejected,\r\n554 5.6.0 really", Verdict.FAIL, 554),
    ("451 4.3.0 try later", Verdict.DEFER, 451),
    ("421 4.3.2 shutting down", Verdict.DEFER, 421),
    ("250-2.0.0 queued\r\n250 2.0.0 as 1234", Verdict.SENT, 250),
    ("250", Verdict.SENT, 250),
    ("250 2.0.0 \x1b[2J queued", Verdict.SENT, 250),  # the code decides, never the text (RFC 5321 4.2)
])
def test_a_well_formed_reply_after_the_final_dot_is_judged_by_its_code(reply: str, verdict: Verdict, code: int) -> None:
    with scripted_server(answering(**{"<eom>": reply})) as server:
        t = SmtpTransport("127.0.0.1", server.port, timeout=TIMEOUT)
        outcome = t.send("s@example.org", ["a@example.org"], MSG, crlf_only=True)["a@example.org"]
        t.close()
    assert (outcome.verdict, outcome.code) == (verdict, code)


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize("reply", [NOT_SMTP["garbage"], "999 what", "2500 ok", "334 go on", b""],
                         ids=["garbage", "code-999", "four-digits", "3xx", "silence"])
def test_anything_but_a_well_formed_reply_before_the_final_dot_defers(command: str, reply: Reply) -> None:
    verdict, text, bodies, connection = _send(b"250 ok\r\n", **{command: reply})
    assert (verdict, bodies) == (Verdict.DEFER, 0), text  # nothing was taken: retried with backoff
    assert connection is (command == "MAIL")  # before any RCPT it is the relay's trouble, not the recipient's
    assert not any(ord(c) < 32 or ord(c) == 127 for c in text)
