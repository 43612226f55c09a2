"""Header values made safe: CR/LF/NUL checks, RFC 2047 display names, IDNA domains."""

from __future__ import annotations

import base64
import re
from email.utils import getaddresses

from solidarity_mailer.errors import MailerError

_FORBIDDEN = re.compile(r"[\r\n\0]")
_ATOM_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")  # atext and spaces: no quoting needed


def check_header(name: str, value: str, where: object = None) -> str:
    """``value`` unchanged, or :class:`MailerError` if it contains CR, LF or NUL (header injection)."""
    if _FORBIDDEN.search(value):
        raise MailerError(f"{name} must not contain a line break or NUL: {value!r}",
                          where=str(where) if where is not None else None)
    return value


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 base64 encoded-words (each under 76 characters), folded with CRLF SP.

    Words break after a space when one is near (the space stays inside the word), so even a decoder
    that wrongly keeps the folding whitespace between encoded-words (CPython's address parser does)
    shows a readable name.
    """
    raw = text.encode("utf-8")
    if len(raw) <= 45:
        return f"=?utf-8?b?{base64.b64encode(raw).decode('ascii')}?="
    words: list[str] = []
    rest = text
    while rest:
        end = size = last_space = 0
        while end < len(rest) and size + len(rest[end].encode("utf-8")) <= 45:
            size += len(rest[end].encode("utf-8"))
            end += 1
            if rest[end - 1] == " ":
                last_space = end
        if end < len(rest) and last_space > end // 2:
            end = last_space
        words.append(rest[:end])
        rest = rest[end:]
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def format_address(name: str, addr: str) -> str:
    """A ``name <addr>`` header value: the name as is, quoted, or RFC 2047-encoded when non-ASCII or long.

    A name that itself looks like an encoded-word (``=?``) is encoded too, so it is shown literally.
    """
    name = " ".join(name.split())
    if not name:
        return addr
    if name.isascii() and len(name) <= 60 and "=?" not in name:
        if _ATOM_PHRASE.match(name):
            return f"{name} <{addr}>"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr}>'
    return f"{_encoded_words(name)} <{addr}>"


def ascii_address(addr: str) -> str | None:
    """``addr`` with its domain in IDNA, or None when the local part is not ASCII."""
    local, _, domain = addr.rpartition("@")
    if not local.isascii():
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return f"{local}@{domain}"


def parse_mailbox(value: str, what: str, where: object) -> tuple[str, str]:
    """(display name, ASCII address) of a one-mailbox header such as the campaign's From."""
    check_header(what, value, where)
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise MailerError(f"{what} must be one address like 'Name <local@domain>', not {value!r}",
                          where=str(where) if where is not None else None,
                          hint="quote a name containing a comma: '\"Name, City\" <local@domain>'")
    name, addr = pairs[0]
    ascii_addr = ascii_address(addr)
    if ascii_addr is None:
        raise MailerError(f"{what} address {addr!r} must have an ASCII local part",
                          where=str(where) if where is not None else None)
    return name, ascii_addr

