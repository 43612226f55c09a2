"""SMTP replies read strictly (RFC 5321 4.2) and classified (RFC 3463): sent, deferred, failed, uncertain, or a
pause when the problem is ours.

smtplib reads any line as a reply (garbage is code -1, "2500 ok" is 250, a multiline reply may go on for ever);
:class:`StrictSMTP` and :class:`StrictSMTPS` take only well-formed replies and raise :class:`MalformedReply`
for anything else, closing the connection, which the transport then treats as a hang-up at that point.
"""

from __future__ import annotations

import re
import smtplib
import time

from solidarity_mailer.transports.base import Outcome, TransportPaused, Verdict

_STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
_LINE_RE = re.compile(rb"([2-5][0-5][0-9])(?:([ -])(.*))?")  # Reply-code [SP / "-" text]
_SINGLE = re.compile(rb"[2-5][0-5][0-9] [^\n]*\n?\Z")  # a last (or only) line, as _LINE_RE reads it, with its LF
MAX_LINE = 8192  # bytes of one reply line (as smtplib)
MAX_LINES = 100  # lines of one reply: a reply that goes on longer is not one


class MalformedReply(smtplib.SMTPServerDisconnected):
    """The server's answer is not an SMTP reply; the connection is closed (it can no longer be trusted)."""


def read_reply(conn: smtplib.SMTP) -> tuple[int, bytes]:
    """The next reply on ``conn`` as ``smtplib.SMTP.getreply`` gives it (code, lines joined by LF), but only a
    well-formed one: three digits 2-5/0-5/0-9, then SP, "-" or the end of the line, the same code on every line,
    at most :data:`MAX_LINES` lines within ``conn.timeout`` seconds. The text is not judged (RFC 5321 4.2: act on
    the code alone). Anything else raises :class:`MalformedReply`; a hang-up or a timeout
    ``SMTPServerDisconnected``."""
    if conn.file is None:
        conn.file = conn.sock.makefile("rb")
    line = _next_line(conn)
    if _SINGLE.match(line) and line.endswith(b"\n"):  # most replies: one line "250 text" (the pattern, faster)
        return int(line[:3]), line[4:].removesuffix(b"\n").removesuffix(b"\r").strip(b" \t")
    limit = conn.timeout if isinstance(conn.timeout, int | float) else None
    started, code, texts = time.monotonic(), b"", []
    while True:
        if texts:  # (the first line was read above)
            line = _next_line(conn)
        match = _LINE_RE.fullmatch(line.removesuffix(b"\n").removesuffix(b"\r"))
        if not line.endswith(b"\n") or match is None or code not in (b"", match[1]):
            conn.close()
            raise MalformedReply(f"not an SMTP reply: {line[:80]!r}")
        code = match[1]
        texts.append((match[3] or b"").strip(b" \t"))
        if match[2] != b"-":
            return int(code), b"\n".join(texts)
        if len(texts) >= MAX_LINES or (limit is not None and time.monotonic() - started > limit):
            conn.close()
            raise MalformedReply(f"a reply that does not end: {len(texts)} lines of {code.decode()}-")


def _next_line(conn: smtplib.SMTP) -> bytes:
    """The next line from the server; ``SMTPServerDisconnected`` on a hang-up or a timeout."""
    try:
        line: bytes = conn.file.readline(MAX_LINE + 1)  # type: ignore[union-attr]
    except OSError as exc:
        conn.close()
        raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from None
    if not line:
        conn.close()
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    return line


class StrictSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` reading replies with :func:`read_reply`."""

    def getreply(self) -> tuple[int, bytes]:
        return read_reply(self)


class StrictSMTPS(smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL`` reading replies with :func:`read_reply`."""

    def getreply(self) -> tuple[int, bytes]:
        return read_reply(self)


def enhanced_status(reply: str) -> str:
    """The RFC 3463 enhanced status code at the start of ``reply`` ("5.1.1"), or ""."""
    match = _STATUS_RE.match(reply)
    return match.group(0) if match else ""


def reply_text(reply: bytes | str) -> str:
    """A reply as text (bytes decoded as UTF-8, undecodable bytes replaced)."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def classify(code: int, reply: bytes | str, *, recipient: bool = False, final: bool = False) -> Outcome:
    """The outcome of an SMTP reply; raises :class:`TransportPaused` when the problem is ours.

    2xx sent; 421 deferred (the server closes, reconnect and retry); 530/534/535/538 (authentication)
    pause the run; a 4.7.x/5.7.x (policy, reputation) pauses it too, except in reply to one RCPT
    (``recipient``): there it concerns that recipient alone ("550 5.7.1 Recipient address rejected"
    fails it, greylisting's "451 4.7.1" defers it); other 4xx deferred; other 5xx failed. Any other code
    (3xx) answers something else: deferred, or ``uncertain`` for the reply after the final dot (``final``).
    """
    text = reply_text(reply).strip()
    status = enhanced_status(text)
    if 200 <= code < 300:
        return Outcome(Verdict.SENT, code, status, text)
    if not 400 <= code < 600:
        where = " after the final dot" if final else ""
        return Outcome(Verdict.UNCERTAIN if final else Verdict.DEFER, 0, "", f"unexpected reply{where}: {code} {text}")
    if code == 421:
        return Outcome(Verdict.DEFER, code, status, text)
    if code in (530, 534, 535, 538) or (not recipient and status.startswith(("4.7.", "5.7."))):
        raise TransportPaused(f"{code} {text}", code, status)
    if 400 <= code < 500:
        return Outcome(Verdict.DEFER, code, status, text)
    return Outcome(Verdict.FAIL, code, status, text)
