"""Compose: the campaign's MIME message built ONCE, its bytes personalised per recipient.

:class:`MessageFactory` does everything that is the same for every recipient when it is created
(header folding and RFC 2047 encoding of From / Reply-To / Subject, the multipart skeleton, the choice of
transfer encodings, the quoted-printable encoding of the template text between placeholders, header
checks). :meth:`MessageFactory.build` then only encodes the recipient's values with the C codecs
(``binascii``; always 7-bit safe), joins them between the pre-encoded segments with soft line breaks,
writes the per-recipient headers and joins bytes: far cheaper than an ``EmailMessage`` build and
``as_bytes()`` per recipient. The decoded parts are exactly :meth:`Rendition.personalise`'s (line breaks
inside a recipient's values made CRLF, as MIME text wants: the message never holds a bare CR or LF), and a
mail client sees the same headers as from the stdlib (``tests/compose/test_message.py`` checks both).
A campaign with translations is prepared once per language (its Subject, ``Content-Language``, parts and
"View in browser" link, ``{public_base_url}/v/{campaign}/{lang}.html``, the same for all its readers); each
recipient gets the variant of their ``lang`` through a dict lookup.

Per-recipient headers: ``To``, ``Date``, ``Message-ID`` (``<r{run}.{hmac16}@{domain}>``, derived from the
run and the recipient key, so a duplicate is recognisable), ``List-Id`` (the recipient's RFC 2919 list id,
the campaign id under the Message-ID domain otherwise), ``List-Unsubscribe`` (https and
mailto, with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, RFC 8058). Every header value is
checked for CR, LF and NUL: a campaign-wide value raises :class:`MailerError` at construction, a
recipient's value raises it from :meth:`build` (the dispatcher fails that recipient alone).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from solidarity_mailer.audience.list_ids import is_list_id
from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.headers import (
    ascii_address,
    check_header,
    format_address,
    parse_mailbox,
)
from solidarity_mailer.compose.mime_parts import Part, dot_stuffed
from solidarity_mailer.compose.unsubscribe_tokens import make_token
from solidarity_mailer.compose.verp import day_number, signed_verp, verp_key
from solidarity_mailer.config import Settings
from solidarity_mailer.errors import MailerError
from solidarity_mailer.languages import best_match, is_tag
from solidarity_mailer.render.rendition import Rendition, Renditions, personal_values, web_path

_LABEL_UNSAFE = re.compile(r"[^a-z0-9-]+")
_BAD_ADDRESS = re.compile(r"[\s<>]")
_DOMAIN_RE = re.compile(r"[A-Za-z0-9.-]+")  # fullmatch: "$" would let a trailing newline through
_SIGNED_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"List-Id", b"List-Unsubscribe",
    b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type", b"Content-Language",
)
_CHOICES_KEPT = 4096  # language tags whose variant is remembered (a list has a few; a hostile one cannot grow it)


def _same(value: str) -> str:
    return value


def _html_escape(value: str) -> str:
    """Exactly what :meth:`Rendition.personalise` does to a value in the HTML part."""
    return html.escape(value, quote=True)


@dataclass(frozen=True)
class PreparedMessage:
    """One recipient's message, ready for a transport.

    ``mail_from`` is the envelope sender (signed VERP, :mod:`compose.verp`, when a bounce address is
    configured; the From address otherwise), ``rcpt`` the envelope
    recipient, ``data`` the complete message (not dot-stuffed; CRLF line ends only, never a bare CR or LF:
    header values are checked, literal text and recipient values normalised), ``message_id`` the
    Message-ID header value with its angle brackets, ``smtputf8`` True when the envelope or headers need
    the SMTPUTF8 extension (an internationalised local part), ``wire`` the message as SMTP sends it after DATA
    (dot-stuffed, ending CRLF.CRLF), made without scanning ``data`` again (None: the transport makes it).
    """

    mail_from: str
    rcpt: str
    data: bytes
    message_id: str
    smtputf8: bool
    wire: bytes | None = None


class _Variant:
    """One language's message, prepared once: the headers that are the same for all its readers, and its parts."""

    __slots__ = ("fallback_name", "html", "language", "static", "text")

    def __init__(self, rendition: Rendition, headers: tuple[str, str, str], where: Path,
                 web_url: Callable[[str], str]) -> None:
        self.language, self.fallback_name = rendition.language, rendition.fallback_name
        if not is_tag(self.language):
            raise MailerError(f"the language {self.language!r} is not a language tag", where=where,
                              hint='write a BCP 47 tag such as language = "en"')
        rendition = rendition.with_web_url(web_url(self.language))
        check_header("Subject", rendition.subject, where)
        subject = policy.SMTP.fold("Subject", policy.SMTP.header_factory("Subject", rendition.subject))
        head, mime, rest = headers
        self.static = f"{head}{subject}{mime}Content-Language: {self.language}\r\n{rest}".encode("ascii")
        self.text = Part("plain", rendition.text, _same)
        self.html = Part("html", rendition.html, _html_escape)


class MessageFactory:
    """Builds each recipient's message from the campaign's renditions (see the module docstring), in the variant
    of the recipient's ``lang`` (a dict lookup; ``es-PE`` gets ``es``, an unknown or empty tag the default).

    ``campaign`` gives From / Reply-To (falling back to ``settings.sender``) and the default list id;
    ``secret`` signs unsubscribe tokens and Message-IDs; ``run_id`` makes Message-IDs unique per run;
    ``now`` is the clock for the Date header. DKIM-signs every message when ``settings.dkim`` is set.
    :meth:`build` may be called from several sender threads at once.
    """

    def __init__(self, campaign: Campaign, rendition: Rendition | Renditions, settings: Settings, secret: bytes,
                 run_id: int, *, now: Callable[[], dt.datetime] | None = None) -> None:
        where = campaign.path
        self.campaign, self.renditions, self.settings = campaign, Renditions.of(rendition), settings
        self.secret, self.run_id = secret, run_id
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        sender = campaign.sender or settings.sender.from_
        if not sender:
            raise MailerError("no sender: set 'from' in the campaign or [sender] from in the settings", where=where)
        from_name, self.from_addr = parse_mailbox(sender, "From", where)
        reply_to = campaign.reply_to or settings.sender.reply_to
        domain = settings.sender.message_id_domain or self.from_addr.rpartition("@")[2]
        if not _DOMAIN_RE.fullmatch(domain):
            raise MailerError(f"Message-ID domain {domain!r} is not an ASCII domain name", where=where)
        self.domain = domain
        self.mailto = check_header("unsubscribe_mailto", settings.web.unsubscribe_mailto or self.from_addr,
                                   settings.source)
        self.base_url = check_header("public_base_url", settings.web.public_base_url.rstrip("/"), settings.source)
        if not self.base_url.isascii():
            raise MailerError("[web] public_base_url must be ASCII (use the punycode form of the host)",
                              where=settings.source)
        head = f"From: {format_address(from_name, self.from_addr)}\r\n"
        if reply_to:
            name, addr = parse_mailbox(reply_to, "Reply-To", where)
            head += f"Reply-To: {format_address(name, addr)}\r\n"
        self.boundary = f"=_sm_{secrets.token_hex(12)}"
        mime = f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{self.boundary}"\r\n'
        rest = ("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                "Precedence: bulk\r\nAuto-Submitted: auto-generated\r\n")
        variants = [_Variant(r, (head, mime, rest), where, self.web_url) for r in self.renditions.variants]
        self._default = variants[0]
        self._languages = {v.language: v for v in variants}
        self._chosen: dict[str | None, _Variant] = {None: variants[0], "": variants[0], **self._languages}
        self._sep = f"--{self.boundary}\r\n".encode("ascii")
        self._end = f"--{self.boundary}--\r\n".encode("ascii")
        self._list_ids: dict[str, bytes] = {}
        self._date: tuple[int, bytes] = (-1, b"")
        self._msgid_key = hmac.new(secret, b"message-id", hashlib.sha256).digest()
        self._verp_key = verp_key(secret)
        dkim = settings.dkim
        self._dkim = (dkim.selector.encode(), dkim.domain.encode(), dkim.private_key) if dkim else None

    # -- per recipient ---------------------------------------------------------------------------

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        """Pickles as its inputs (a sender process rebuilds it); a custom ``now`` is not carried over."""
        return (MessageFactory, (self.campaign, self.renditions, self.settings, self.secret, self.run_id))

    def variant_language(self, tag: str | None) -> str:
        """The language of the variant a reader of ``tag`` gets (see :meth:`Renditions.choose`)."""
        return self._variant(tag).language

    def _variant(self, tag: str | None) -> _Variant:
        """The variant for ``tag``: a dict lookup, the fallback rule only for a tag not seen before."""
        chosen = self._chosen.get(tag)
        if chosen is None:
            chosen = self._languages[best_match(tag, self._languages, self._default.language)]
            if len(self._chosen) < _CHOICES_KEPT:
                self._chosen[tag] = chosen
        return chosen

    def message_id(self, recipient: Recipient) -> str:
        """``<r{run}.{16 hex}@{domain}>``: the same for the same (run, recipient), unguessable otherwise."""
        return self.message_id_for(recipient.key)

    def message_id_for(self, key: str) -> str:
        """The Message-ID of the recipient whose address key is ``key`` (the ledger's ``address``)."""
        mac = hmac.digest(self._msgid_key, f"{self.run_id}\0{key}".encode(), "sha256")
        return f"<r{self.run_id}.{mac[:8].hex()}@{self.domain}>"

    def list_id(self, recipient: Recipient) -> str:
        """The list an unsubscribe applies to: the recipient's list, else the campaign id."""
        return check_header("list id", recipient.list_id or self.campaign.id)

    def web_url(self, language: str) -> str:
        """The "View in browser" link of the variant in ``language``: ``{public_base_url}/v/{campaign}/{lang}.html``,
        the same for all its readers."""
        return f"{self.base_url}/{web_path(self.campaign.id, language)}"

    def unsubscribe_url(self, recipient: Recipient) -> str:
        """``{public_base_url}/u/{token}`` for this recipient and list."""
        return f"{self.base_url}/u/{make_token(self.secret, self.list_id(recipient), recipient.key)}"

    def _list_id_header(self, list_id: str) -> bytes:
        """``List-Id: <list_id>`` for an RFC 2919 id (``label.namespace``), else ``<label.{domain}>``."""
        cached = self._list_ids.get(list_id)
        if cached is None:
            if is_list_id(list_id):
                value = list_id
            else:
                value = f"{_LABEL_UNSAFE.sub('-', list_id.lower()).strip('-') or 'list'}.{self.domain}"
            cached = self._list_ids[list_id] = f"List-Id: <{value}>\r\n".encode("ascii")
        return cached

    def _date_header(self) -> bytes:
        now = self.now()
        second = int(now.timestamp())
        if self._date[0] != second:
            self._date = (second, f"Date: {format_datetime(now.astimezone(dt.UTC))}\r\n".encode("ascii"))
        return self._date[1]

    def build(self, recipient: Recipient, message_id: str = "") -> PreparedMessage:
        """The recipient's complete message, with ``message_id`` (the ledger's) if given, else
        :meth:`message_id`; :class:`MailerError` when one of its header values is unsafe."""
        where = recipient.source or None
        check_header("recipient name", recipient.name, where)
        check_header("recipient address", recipient.email, where)
        addr = recipient.ascii_email or ascii_address(recipient.email) or recipient.email
        if _BAD_ADDRESS.search(addr) or "@" not in addr:
            raise MailerError(f"not a usable address: {addr!r}", where=where)
        smtputf8 = not addr.isascii()
        list_id = self.list_id(recipient)
        token = make_token(self.secret, list_id, recipient.key)
        url = f"{self.base_url}/u/{token}"
        message_id = message_id or self.message_id(recipient)
        variant = self._variant(recipient.lang)
        values = personal_values(recipient.name, recipient.email, url, lang=recipient.lang or variant.language,
                                 fallback_name=variant.fallback_name, fields=recipient.fields)
        to = f"To: {format_address(recipient.name, addr)}\r\n"
        unsubscribe = f"List-Unsubscribe: <{url}>"
        if self.mailto.isascii():
            unsubscribe += f",\r\n <mailto:{self.mailto}?subject=unsubscribe-{token}>"
        head = b"".join((
            variant.static,
            to.encode("utf-8"),
            self._date_header(),
            f"Message-ID: {message_id}\r\n".encode("ascii"),
            self._list_id_header(list_id),
            f"{unsubscribe}\r\n".encode("ascii"),
        ))
        encoded: dict[str, bytes] = {}  # values quoted-printable, shared by the two parts
        text, text_wire = variant.text.encode(values, encoded)
        html_body, html_wire = variant.html.encode(values, encoded)
        data = b"".join((head, b"\r\n", self._sep, variant.text.head, text, b"\r\n",
                         self._sep, variant.html.head, html_body, b"\r\n", self._end))
        # every piece starts a line: the wire form is dot-stuffed piece by piece (see compose/mime_parts.py)
        wire = b"".join((dot_stuffed(head), b"\r\n", self._sep, variant.text.head, text_wire, b"\r\n",
                         self._sep, variant.html.head, html_wire, b"\r\n", self._end, b".\r\n"))
        if self._dkim is not None:
            signature = self._signature(data)  # header lines: the same on the wire, dot-stuffed for certain
            data, wire = signature + data, dot_stuffed(signature) + wire
        bounce = self.settings.sender.bounce_address  # no bounce address: no VERP, bounces go to From
        mail_from = signed_verp(self._verp_key, bounce, addr, day_number(self.now())) if bounce else self.from_addr
        return PreparedMessage(mail_from, addr, data, message_id, smtputf8 or not mail_from.isascii(), wire)

    def _signature(self, data: bytes) -> bytes:
        """The DKIM-Signature header (folded, ending CRLF) of ``data``."""
        import dkim

        assert self._dkim is not None
        selector, domain, key = self._dkim
        return dkim.sign(data, selector, domain, key, canonicalize=(b"relaxed", b"relaxed"),
                         include_headers=list(_SIGNED_HEADERS), linesep=b"\r\n")
