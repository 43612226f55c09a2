"""The text/* parts of a message, prepared once: quoted-printable (or base64) encoding with recipient values
joined in per message (``compose/message.py``).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

from solidarity_mailer.render.rendition import split_tokens


def normalise(text: str) -> str:
    """CRLF line ends everywhere (no bare CR or LF may travel in a 7-bit body)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _qp_tail(encoded: bytes) -> bytes:
    """Quoted-printable ``encoded`` with a last line short enough (75) to take a soft break ``=``."""
    line_start = encoded.rfind(b"\n") + 1
    last = encoded[line_start:]
    if len(last) <= 75:
        return encoded
    cut = 73
    while b"=" in last[cut - 2:cut]:  # never split an =XX escape
        cut -= 1
    return encoded[:line_start] + last[:cut] + b"=\r\n" + last[cut:]


def _qp(text: str) -> bytes:
    """``text`` (CRLF line ends) quoted-printable; soft breaks are CRLF too."""
    raw = text.encode("utf-8")
    encoded = binascii.b2a_qp(raw, istext=True)
    if b"\n" not in raw:  # b2a_qp writes soft breaks as bare LF when the data has no CRLF to copy
        encoded = encoded.replace(b"\n", b"\r\n")
    return _qp_tail(encoded)


class Part:
    """One text/* alternative, prepared once: its part headers and its encoded literal segments.

    Quoted-printable (the shorter encoding for mostly-ASCII text, and the one spam filters expect) is
    composable: each literal segment between placeholders is encoded ONCE, each recipient value on its
    own, and the pieces are joined with soft line breaks (``=`` CRLF, which decode to nothing). Text that
    is mostly non-ASCII goes as base64 of the whole personalised part instead.
    """

    def __init__(self, subtype: str, template: str, escape: Callable[[str], str]) -> None:
        text = normalise(template)
        raw = text.encode("utf-8")
        self.escape = escape
        self.qp = len(binascii.b2a_qp(raw, istext=True)) <= len(raw) * 4 // 3 * 78 // 76  # the shorter wins
        literals, names = split_tokens(text)
        self.literals, self.names = list(literals), list(names)
        self.pieces = [_qp(literal) for literal in self.literals] if self.qp else []
        cte = "quoted-printable" if self.qp else "base64"
        self.head = (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                     f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode("ascii")

    def encode(self, values: dict[str, str]) -> bytes:
        """The encoded body with ``values`` (raw, not yet escaped) filled in; the CRLF before the next
        boundary is not part of it (RFC 2046), so the decoded text ends exactly as the template does."""
        if not self.qp:
            filled = [self.literals[0]]
            for name, literal in zip(self.names, self.literals[1:], strict=True):
                filled += (self.escape(normalise(values.get(name, ""))), literal)
            b64 = binascii.b2a_base64("".join(filled).encode("utf-8"), newline=False)
            return b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
        encoded = {name: _qp(self.escape(normalise(values.get(name, "")))) for name in set(self.names)}
        out = [self.pieces[0]]
        for name, piece in zip(self.names, self.pieces[1:], strict=True):
            out += (encoded[name], piece)
        pieces = [p if p.endswith(b"\n") else p + b"=\r\n" for p in out if p]
        body = b"".join(pieces)
        return body[:-3] if body.endswith(b"=\r\n") else body
