"""SMTP replies classified (RFC 5321 / RFC 3463): sent, deferred, failed, or a pause when the problem is ours."""

from __future__ import annotations

import re

from solidarity_mailer.transports.base import Outcome, TransportPaused, Verdict

_STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_status(reply: str) -> str:
    """The RFC 3463 enhanced status code at the start of ``reply`` ("5.1.1"), or ""."""
    match = _STATUS_RE.match(reply)
    return match.group(0) if match else ""


def reply_text(reply: bytes | str) -> str:
    """A reply as text (bytes decoded as UTF-8, undecodable bytes replaced)."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def classify(code: int, reply: bytes | str, *, recipient: bool = False) -> Outcome:
    """The outcome of an SMTP reply; raises :class:`TransportPaused` when the problem is ours.

    2xx sent; 421 deferred (the server closes, reconnect and retry); 530/534/535/538 (authentication)
    pause the run; a 4.7.x/5.7.x (policy, reputation) pauses it too, except in reply to one RCPT
    (``recipient``): there it concerns that recipient alone ("550 5.7.1 Recipient address rejected"
    fails it, greylisting's "451 4.7.1" defers it); other 4xx deferred; other 5xx failed.
    """
    text = reply_text(reply).strip()
    status = enhanced_status(text)
    if 200 <= code < 300:
        return Outcome(Verdict.SENT, code, status, text)
    if code == 421:
        return Outcome(Verdict.DEFER, code, status, text)
    if code in (530, 534, 535, 538) or (not recipient and status.startswith(("4.7.", "5.7."))):
        raise TransportPaused(f"{code} {text}", code, status)
    if 400 <= code < 500:
        return Outcome(Verdict.DEFER, code, status, text)
    return Outcome(Verdict.FAIL, code, status, text)
