"""The text/* parts of a message, prepared once: quoted-printable (or base64) encoding with recipient values
joined in per message (``compose/message.py``).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

from solidarity_mailer.render.rendition import split_tokens

_PLAIN_MAX = 72  # a value this short fits on a line with a soft break (76)


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


def _qp_value(value: str) -> bytes:
    """A recipient's value (escaped, not yet normalised) quoted-printable, as :func:`_qp` of it normalised.

    Most values (names, addresses) are short printable ASCII without ``=``, which quoted-printable leaves as
    they are: those skip the codec (``bench/send_cpu_bench.py`` counts every microsecond of a message's build;
    ``tests/compose/test_message_encoding.py`` checks the shortcut against the codec)."""
    if (len(value) <= _PLAIN_MAX and value.isascii() and value.isprintable() and "=" not in value
            and not value.endswith(" ") and value != "."):
        return value.encode("ascii")
    return _qp(normalise(value))


def dot_stuffed(lines: bytes) -> bytes:
    """``lines`` (starting at the start of a line, CRLF line ends) dot-stuffed for SMTP (RFC 5321 4.5.2)."""
    stuffed = lines.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _soft(piece: bytes) -> bytes:
    """A quoted-printable piece made to end a line: a soft line break (``=`` CRLF) after it unless it ends one."""
    return piece if not piece or piece.endswith(b"\n") else piece + b"=\r\n"


class Part:
    """One text/* alternative, prepared once: its part headers and its encoded literal segments.

    Quoted-printable (the shorter encoding for mostly-ASCII text, and the one spam filters expect) is
    composable: each literal segment between placeholders is encoded ONCE, each recipient value on its
    own, and the pieces are joined with soft line breaks (``=`` CRLF, which decode to nothing). Text that
    is mostly non-ASCII goes as base64 of the whole personalised part instead.

    Every piece so joined starts a line, so the part's SMTP wire form (dot-stuffed) is the pieces dot-stuffed
    one by one: the literal ones once, here. Base64 lines never start with a dot. The SMTP transport would
    otherwise scan every message's 25 KB for line-initial dots (~35 µs a message), which
    ``bench/send_cpu_bench.py`` counts; ``tests/compose/test_message_wire.py`` checks both forms.
    """

    def __init__(self, subtype: str, template: str, escape: Callable[[str], str]) -> None:
        text = normalise(template)
        raw = text.encode("utf-8")
        self.escape = escape
        self.qp = len(binascii.b2a_qp(raw, istext=True)) <= len(raw) * 4 // 3 * 78 // 76  # the shorter wins
        literals, names = split_tokens(text)
        self.literals, self.names = list(literals), list(names)
        self.distinct = tuple(dict.fromkeys(names))
        self.soft = [_soft(_qp(literal)) for literal in self.literals] if self.qp else []
        self.soft_wire = [dot_stuffed(piece) for piece in self.soft]
        cte = "quoted-printable" if self.qp else "base64"
        self.head = (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                     f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode("ascii")

    def encode(self, values: dict[str, str], encoded: dict[str, bytes] | None = None) -> tuple[bytes, bytes]:
        """The encoded body with ``values`` (raw, not yet escaped) filled in, and the same dot-stuffed for SMTP;
        the CRLF before the next boundary is not part of it (RFC 2046), so the decoded text ends exactly as the
        template does. ``encoded`` keeps the quoted-printable pieces of escaped values from one part to the next
        (an address or a link usually reads the same escaped for HTML)."""
        if not self.qp:
            filled = [self.literals[0]]
            for name, literal in zip(self.names, self.literals[1:], strict=True):
                filled += (self.escape(normalise(values.get(name, ""))), literal)
            b64 = binascii.b2a_base64("".join(filled).encode("utf-8"), newline=False)
            body = b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
            return body, body  # (the base64 alphabet has no dot)
        escape, known = self.escape, {} if encoded is None else encoded
        pieces: dict[str, bytes] = {}
        for name in self.distinct:
            value = escape(values.get(name, ""))
            if (piece := known.get(value)) is None:
                piece = known[value] = _soft(_qp_value(value))
            pieces[name] = piece
        soft, soft_wire = self.soft, self.soft_wire
        out, wire = [soft[0]], [soft_wire[0]]
        for i, name in enumerate(self.names, 1):
            value = pieces[name]
            out += (value, soft[i])
            wire += (dot_stuffed(value), soft_wire[i])
        body, body_wire = b"".join(out), b"".join(wire)
        if body.endswith(b"=\r\n"):  # the last soft line break ends nothing
            return body[:-3], body_wire[:-3]
        return body, body_wire
