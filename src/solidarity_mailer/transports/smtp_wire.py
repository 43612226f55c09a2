"""A message as it goes on the wire after DATA: CRLF line ends, dot-stuffed, ending CRLF.CRLF (RFC 5321 4.5.2)."""

from __future__ import annotations

import re

_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def has_bare_eol(data: bytes) -> bool:
    """True when ``data`` has a CR or LF outside a CRLF pair (three C-speed counts, no regex scan)."""
    lf = data.count(b"\n")
    return data.count(b"\r") != lf or data.count(b"\r\n") != lf


def wire_body(data: bytes, *, crlf_only: bool = False) -> bytes:
    """``data`` as sent after DATA: bare CR/LF made CRLF, dot-stuffed (RFC 5321 4.5.2), ending CRLF.CRLF.

    With CRLF-only line ends every line starts at 0 or after CRLF, so stuffing is a C-speed ``replace``
    (smtplib's multiline regex costs ~0.1 ms for 25 KB). ``crlf_only`` (the caller vouches for it) skips
    the scan for bare CR/LF (~50 µs for 25 KB, a sixth of a sender's CPU per message).
    """
    # a bare CR or LF is a protocol violation (and an SMTP smuggling vector)
    if not crlf_only and has_bare_eol(data):
        data = _BARE_EOL.sub(b"\r\n", data)
    body = data.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"
