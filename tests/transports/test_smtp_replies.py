"""SMTP replies classified: sent, deferred, failed, or a pause when the problem is ours."""

from __future__ import annotations

import io
import smtplib

import pytest

from solidarity_mailer.transports import TransportPaused, Verdict
from solidarity_mailer.transports.smtp_replies import _LINE_RE, StrictSMTP, classify, read_reply


@pytest.mark.parametrize(
    ("code", "reply", "verdict"),
    [
        (250, "2.0.0 ok", Verdict.SENT),
        (451, "4.3.0 later", Verdict.DEFER),
        (421, "4.7.0 too many connections", Verdict.DEFER),
        (550, "5.1.1 unknown", Verdict.FAIL),
        (552, "message too big", Verdict.FAIL),
    ],
)
def test_classify(code: int, reply: str, verdict: Verdict) -> None:
    assert classify(code, reply).verdict is verdict


@pytest.mark.parametrize(("code", "reply"), [(535, "5.7.8 bad credentials"), (530, "auth required"),
                                             (451, "4.7.1 rate limited"), (554, "5.7.1 blocked")])
def test_classify_pauses(code: int, reply: str) -> None:
    with pytest.raises(TransportPaused):
        classify(code, reply)


@pytest.mark.parametrize(("code", "reply", "verdict"), [(550, "5.7.1 Recipient address rejected", Verdict.FAIL),
                                                       (451, "4.7.1 greylisted", Verdict.DEFER)])
def test_classify_policy_reply_to_one_recipient(code: int, reply: str, verdict: Verdict) -> None:
    assert classify(code, reply, recipient=True).verdict is verdict


def test_classify_auth_required_at_rcpt_still_pauses() -> None:
    with pytest.raises(TransportPaused):
        classify(530, "5.7.0 authentication required", recipient=True)


@pytest.mark.parametrize("line", [b"250 2.0.0 Ok: queued as 4F1\r\n", b"250 \r\n", b"250 ok\r\r\n",
                                  b"250  padded \t\r\n", b"354 go on\n", b"550 5.1.1 \xffno\r\n", b"221 bye"])
def test_a_one_line_reply_reads_as_the_strict_pattern_reads_it(line: bytes) -> None:
    """One-line replies take a shortcut in ``read_reply``: the same (code, text) as the strict pattern gives."""
    conn = StrictSMTP()
    conn.file = io.BufferedReader(io.BytesIO(line))  # type: ignore[assignment]
    match = _LINE_RE.fullmatch(line.removesuffix(b"\n").removesuffix(b"\r"))
    if not line.endswith(b"\n") or match is None:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            read_reply(conn)
        return
    assert read_reply(conn) == (int(match[1]), (match[3] or b"").strip(b" \t"))
