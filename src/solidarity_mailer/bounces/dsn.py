"""Read one returned message: an RFC 3464 delivery status notification, another bounce format, or an auto-reply.

Pure parsing, no database: :func:`parse` turns bytes into a :class:`Parsed` that says what the message is
(hard or soft bounce, auto-reply, something else, or unreadable), the per-recipient statuses, the
Message-IDs of the original message it returns, and the addresses it was delivered to (for VERP).

Three readers, the strictest first:

1. a well-formed RFC 3464 report (a ``message/delivery-status`` part whose per-recipient blocks name an
   ``rfc822`` recipient and a status, as Postfix, Exchange Online and Gmail send) is read field by field
   here; the recipient is the Original-Recipient (what we addressed) when given, else the Final-Recipient;
2. anything else goes to flufl.bounce (:mod:`other_formats`: qmail, Exchange, GroupWise, Yahoo, AOL,
   older sendmail and Postfix, X.400 gateways, malformed reports…);
3. what flufl.bounce does not recognise but looks like a bounce is read by its SMTP replies and enhanced
   status codes (:mod:`free_text`).
"""

from __future__ import annotations

import email
import hashlib
import re
from email import policy
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from html import unescape

from solidarity_mailer.bounces.free_text import (
    BARE_SMTP,
    BOUNCE_BODY,
    BOUNCE_SENDER,
    SMTP_AND_STATUS,
    STATUS,
    looks_like_bounce,
    text_statuses,
)
from solidarity_mailer.bounces.other_formats import detected_statuses
from solidarity_mailer.bounces.verdict import Kind, Parsed, RecipientStatus

__all__ = ["Kind", "Parsed", "RecipientStatus", "parse"]

_MSGID_LINE = re.compile(r"^message-id:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_COPY_MARKERS = re.compile(
    r"^(?:-+ ?This is a copy of the message|-+ ?Original message|-+ ?Below this line is a copy|"
    r"Original message headers:|--- Below this line|-+ ?The header of the original message|"
    r"Received: |Return-Path: )",
    re.IGNORECASE | re.MULTILINE,
)
_AUTOREPLY_SUBJECT = re.compile(
    r"^(?:out of (?:the )?office|automatic reply|auto(?:matic)?[ -]?(?:reply|response)|autoreply|"
    r"auto:|abwesen|absence|réponse automatique|respuesta automática|risposta automatica|on vacation|"
    r"away from|i am away|vacation)",
    re.IGNORECASE,
)


def _text(value: object) -> str:
    return str(value or "").strip()


def _bare_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in (msg.get_all(name) or [])]
    return [addr.lower() for _, addr in getaddresses(values) if "@" in addr]


def _typed_address(value: str) -> str:
    """``rfc822; Alice@Example.org`` → ``alice@example.org``; "" for another address type (``x400; /S=…``)."""
    kind, semi, addr = value.partition(";")
    if not semi:
        kind, addr = "rfc822", value
    addr = addr.strip().strip("<>").lower()
    return addr if kind.strip().lower() in ("rfc822", "") and "@" in addr else ""


def _status_of(status: str, diagnostic: str) -> str:
    found = re.search(STATUS, status)
    if found:
        return found.group(0)
    both = SMTP_AND_STATUS.search(diagnostic)
    if both:
        return both.group(2)
    code = BARE_SMTP.search(diagnostic)
    return f"{code.group(1)[0]}.0.0" if code else ""


def _dsn_statuses(part: Message) -> tuple[list[RecipientStatus], bool]:
    """The per-recipient blocks of a message/delivery-status part (the first block is per-message), and
    whether one of them is well-formed: a failure with an ``rfc822`` recipient and a ``Status`` code."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):  # some MTAs send it unparsed: read it as header blocks ourselves
        raw = blocks if isinstance(blocks, str) else ""
        blocks = [HeaderParser().parsestr(chunk.strip() + "\n") for chunk in re.split(r"\n\s*\n", raw)]
    out, strict = [], False
    for block in blocks:
        final, original = _text(block.get("Final-Recipient")), _text(block.get("Original-Recipient"))
        if not (final or original):
            continue
        address = _typed_address(original) or _typed_address(final)
        diagnostic = " ".join(_text(block.get("Diagnostic-Code")).split())
        status = _status_of(_text(block.get("Status")), diagnostic)
        if status:
            action = _text(block.get("Action")).lower() or "failed"
            out.append(RecipientStatus(address, status, action, diagnostic))
            strict = strict or bool(address and status[0] in "45" and re.match(STATUS, _text(block.get("Status"))))
    return out, strict


def _walk_top(msg: Message) -> list[Message]:
    """Every part of ``msg``, but not the parts inside an attached message (the returned copy)."""
    parts: list[Message] = []

    def visit(part: Message) -> None:
        parts.append(part)
        if part.get_content_type() == "message/rfc822":
            return
        if part.is_multipart() and part.get_content_type() != "message/delivery-status":
            for sub in part.get_payload():
                visit(sub)

    visit(msg)
    return parts


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        text = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except (LookupError, ValueError, MessageError):  # an unknown or mangled charset name
        text = payload.decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        text = unescape(re.sub(r"<(?:br|/p|/div|/tr)[^>]*>", "\n", re.sub(r"(?s)<(style|script).*?</\1>", "", text)))
        text = re.sub(r"<[^>]+>", " ", text)
    return text


def _original_ids(msg: Message, parts: list[Message], body: str) -> list[str]:
    ids: list[str] = []
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and inner[0].get("Message-ID"):
                ids.append(_bare_id(str(inner[0]["Message-ID"])))
        elif ctype == "text/rfc822-headers":
            headers = HeaderParser().parsestr(_decoded_text(part) or str(part.get_payload()))
            if headers.get("Message-ID"):
                ids.append(_bare_id(str(headers["Message-ID"])))
    ids += _MSGID_LINE.findall(body)
    for name in ("In-Reply-To", "References"):
        ids += re.findall(r"<([^<>\s]+)>", _text(msg.get(name)))
    return list(dict.fromkeys(i for i in ids if i))


def _is_autoreply(msg: Message, subject: str) -> bool:
    """RFC 3834 ``Auto-Submitted: auto-replied``, the vendors' own headers, or a vacation subject."""
    return bool(
        _text(msg.get("Auto-Submitted")).lower().startswith("auto-replied")
        or msg.get("X-Autoreply")
        or msg.get("X-Autorespond")
        or _text(msg.get("Precedence")).lower() == "auto_reply"
        or _AUTOREPLY_SUBJECT.search(subject)
    )


def _header(msg: Message, name: str) -> str:
    """A header decoded from RFC 2047 encoded words, whitespace collapsed; "" when absent or broken."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError, MessageError):
        text = str(value)
    return " ".join(text.split())


def _key(msg: Message, data: bytes) -> str:
    mid = _bare_id(_text(msg.get("Message-ID")))
    return mid if mid and len(mid) <= 250 else "sha256:" + hashlib.sha256(data).hexdigest()


def _failing(statuses: list[RecipientStatus]) -> Kind:
    return Kind.HARD if any(s.status.startswith("5") for s in statuses) else Kind.SOFT


def parse(data: bytes) -> Parsed:
    """Read one message (raw bytes as found in the mailbox)."""
    msg = email.message_from_bytes(data, policy=policy.compat32)
    if not msg.keys() or (msg.defects and not (msg.get("From") or msg.get("Subject"))):
        return Parsed(Kind.UNPARSEABLE, _key(msg, data), reason="no mail headers")
    key = _key(msg, data)
    subject, sender = _header(msg, "Subject"), _header(msg, "From")
    delivered = tuple(dict.fromkeys(_addresses(msg, "Delivered-To", "X-Original-To", "Envelope-To", "To")))
    parts = _walk_top(msg)
    texts = [_decoded_text(p) for p in parts if p.get_content_maintype() == "text"
             and p.get_content_type() not in ("text/rfc822-headers",)]
    body = "\n".join(texts)
    copy_at = _COPY_MARKERS.search(body)
    report = body[: copy_at.start()] if copy_at else body
    original = tuple(_original_ids(msg, parts, body))
    common = {"key": key, "original_message_ids": original, "delivered_to": delivered, "subject": subject}

    dsn_parts = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    statuses: list[RecipientStatus] = []
    strict = False
    for part in dsn_parts:
        found, well_formed = _dsn_statuses(part)
        statuses += found
        strict = strict or well_formed
    failing = [s for s in statuses if s.status[:1] in "45"]
    if strict:  # 1. a well-formed RFC 3464 report
        return Parsed(_failing(failing), statuses=tuple(statuses), **common)
    if statuses and not failing:  # delivered / relayed / expanded: a success report, nothing to do
        return Parsed(Kind.OTHER, statuses=tuple(statuses), reason="a success report", **common)
    if not dsn_parts and _is_autoreply(msg, subject) and not (
            BOUNCE_SENDER.search(sender) or BOUNCE_BODY.search(report)):
        return Parsed(Kind.AUTOREPLY, reason="an auto-reply", **common)
    detected = detected_statuses(msg, report)  # 2. flufl.bounce
    if detected:
        return Parsed(_failing(detected), statuses=tuple(detected), **common)
    if failing:  # a report without an rfc822 recipient or with its code only in the diagnostic
        return Parsed(_failing(failing), statuses=tuple(statuses), **common)
    if not (dsn_parts or looks_like_bounce(sender, subject, report)):
        return Parsed(Kind.OTHER, reason="not a bounce", **common)
    exclude = set(delivered) | set(_addresses(msg, "From", "Sender", "Reply-To"))
    statuses = text_statuses(report, exclude)  # 3. the free-text reader
    if not statuses:
        reason = "a delivery report without any recipient status" if dsn_parts else \
            "a bounce without a recognisable status"
        return Parsed(Kind.UNPARSEABLE, reason=reason, **common)
    return Parsed(_failing(statuses), statuses=tuple(statuses), **common)
