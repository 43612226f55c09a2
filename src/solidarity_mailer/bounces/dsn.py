"""Read one returned message: an RFC 3464 delivery status notification, a free-text bounce, or an auto-reply.

Pure parsing, no database: :func:`parse` turns bytes into a :class:`Parsed` that says what the message is
(hard or soft bounce, auto-reply, something else, or unreadable), the per-recipient statuses, the
Message-IDs of the original message it returns, and the addresses it was delivered to (for VERP).

Standard DSNs (``multipart/report; report-type=delivery-status``, as Postfix, Exchange and Gmail send)
are read field by field. Free-text bounces (Exim's "This message was created automatically by mail
delivery software", Gmail's older "Delivery to the following recipient failed permanently", Exchange's
"Remote Server returned '550 5.1.1 …'", qmail's "failure notice") are read by their SMTP replies and
enhanced status codes (RFC 3463), in the text *before* the copy of the returned message, so the copy's
own headers (``Received: … Exim 4.94.2``) are never mistaken for a status.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from enum import StrEnum
from html import unescape


class Kind(StrEnum):
    """What a returned message is."""

    HARD = "hard"  # permanent failure (5.x.x)
    SOFT = "soft"  # transient failure or delay (4.x.x)
    AUTOREPLY = "autoreply"  # out-of-office and other RFC 3834 auto-responses
    OTHER = "other"  # not a bounce (a human reply, a "delivered" DSN…)
    UNPARSEABLE = "unparseable"  # looks like a bounce, or is not mail, but yields no status


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient verdict of a bounce."""

    address: str  # Final-Recipient (or the address named in the text), lower-cased; "" when unknown
    status: str  # enhanced status code "5.1.1"
    action: str = "failed"  # RFC 3464 Action: failed | delayed | delivered | relayed | expanded
    diagnostic: str = ""


@dataclass(frozen=True)
class Parsed:
    """The reading of one message."""

    kind: Kind
    key: str  # the message's own Message-ID, or "sha256:…" of its bytes when it has none
    statuses: tuple[RecipientStatus, ...] = ()
    original_message_ids: tuple[str, ...] = ()  # without angle brackets
    delivered_to: tuple[str, ...] = ()  # Delivered-To, X-Original-To, Envelope-To, To (VERP lives here)
    subject: str = ""
    reason: str = ""  # why it is UNPARSEABLE or OTHER

    @property
    def worst(self) -> RecipientStatus | None:
        """The failure that decides the outcome: a permanent one first, else the first transient one."""
        failing = [s for s in self.statuses if s.status[:1] in "45"]
        failing.sort(key=lambda s: s.status[:1] != "5")
        return failing[0] if failing else None


_STATUS = r"[245]\.\d{1,3}\.\d{1,3}"
_SMTP_AND_STATUS = re.compile(rf"(?<![\d.])([45]\d\d)[ -]#?({_STATUS})(?![\d.])")
_MARKED_STATUS = re.compile(rf"(?:#|status:?\s*|\()({_STATUS})(?![\d.])", re.IGNORECASE)
_BARE_SMTP = re.compile(r"(?:^|[\s:'\"(])([45][0-5]\d)(?:[ :-](?=\D)|$)", re.MULTILINE)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_MSGID_LINE = re.compile(r"^message-id:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
_COPY_MARKERS = re.compile(
    r"^(?:-+ ?This is a copy of the message|-+ ?Original message|-+ ?Below this line is a copy|"
    r"Original message headers:|--- Below this line|-+ ?The header of the original message|"
    r"Received: |Return-Path: )",
    re.IGNORECASE | re.MULTILINE,
)
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (?:subsystem|system)", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification|mail delivery failed|returned mail|"
    r"failure notice|delivery failure|could not be delivered|non.?delivery|delivery has failed|"
    r"warning: message .* delayed|delayed mail|mail delivery delayed",
    re.IGNORECASE,
)
_BOUNCE_BODY = re.compile(
    r"created automatically by mail delivery software|delivery to the following recipients? failed|"
    r"could not be delivered|couldn't be delivered|wasn't delivered|delivery has failed|"
    r"I'm afraid I wasn't able to deliver|this is the qmail-send program|permanent error|"
    r"has not yet been delivered|delivery (?:is )?delayed|will (?:keep trying|retry)",
    re.IGNORECASE,
)
_PERMANENT_TEXT = re.compile(r"permanent(?:ly)? (?:error|failure|fatal)|failed permanently|does not exist|"
                             r"user unknown|no such user|address not found|recipient not found", re.IGNORECASE)
_TEMPORARY_TEXT = re.compile(r"temporar(?:y|ily)|has not yet been delivered|delayed|will (?:keep trying|retry)|"
                             r"mailbox (?:is )?full|over quota|quota exceeded", re.IGNORECASE)
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
    """``rfc822; Alice@Example.org`` → ``alice@example.org``."""
    _, _, addr = value.partition(";") if ";" in value else ("", "", value)
    return addr.strip().strip("<>").lower()


def _status_of(status: str, diagnostic: str) -> str:
    found = re.search(_STATUS, status)
    if found:
        return found.group(0)
    both = _SMTP_AND_STATUS.search(diagnostic)
    if both:
        return both.group(2)
    code = _BARE_SMTP.search(diagnostic)
    return f"{code.group(1)[0]}.0.0" if code else ""


def _dsn_statuses(part: Message) -> list[RecipientStatus]:
    """The per-recipient blocks of a message/delivery-status part (the first block is per-message)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):  # some MTAs send it unparsed: read it as header blocks ourselves
        raw = blocks if isinstance(blocks, str) else ""
        blocks = [HeaderParser().parsestr(chunk.strip() + "\n") for chunk in re.split(r"\n\s*\n", raw)]
    out = []
    for block in blocks:
        recipient = _text(block.get("Final-Recipient")) or _text(block.get("Original-Recipient"))
        if not recipient:
            continue
        diagnostic = " ".join(_text(block.get("Diagnostic-Code")).split())
        status = _status_of(_text(block.get("Status")), diagnostic)
        if status:
            action = _text(block.get("Action")).lower() or "failed"
            out.append(RecipientStatus(_typed_address(recipient), status, action, diagnostic))
    return out


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


def _text_statuses(report: str, exclude: set[str]) -> list[RecipientStatus]:
    """Statuses from a free-text bounce (only the report, before the returned copy)."""
    codes = [m.group(2) for m in _SMTP_AND_STATUS.finditer(report) if m.group(1)[0] == m.group(2)[0]]
    codes = codes or _MARKED_STATUS.findall(report)
    codes = codes or [f"{c[0]}.0.0" for c in _BARE_SMTP.findall(report)]
    if not codes:
        if _PERMANENT_TEXT.search(report):
            codes = ["5.0.0"]
        elif _TEMPORARY_TEXT.search(report):
            codes = ["4.0.0"]
    codes = [c for c in codes if c[0] in "45"]
    if not codes:
        return []
    status = next((c for c in codes if c[0] == "5"), codes[0])
    addresses = [a.lower() for a in _ADDRESS.findall(report) if a.lower() not in exclude]
    addresses = [a for a in addresses if not _BOUNCE_SENDER.search(a.split("@")[0])]
    action = "failed" if status[0] == "5" or not _TEMPORARY_TEXT.search(report) else "delayed"
    line = next((ln.strip() for ln in report.splitlines() if status in ln), "")
    return [RecipientStatus(addresses[0] if addresses else "", status, action, " ".join(line.split())[:300])]


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
    statuses = [s for p in dsn_parts for s in _dsn_statuses(p)]
    exclude = set(delivered) | set(_addresses(msg, "From", "Sender", "Reply-To"))
    if dsn_parts and not any(s.status[:1] in "45" for s in statuses):
        if statuses:  # delivered / relayed / expanded: a success report, nothing to do
            return Parsed(Kind.OTHER, statuses=tuple(statuses), reason="a success report", **common)
        statuses = _text_statuses(report, exclude)
        if not statuses:
            return Parsed(Kind.UNPARSEABLE, reason="a delivery report without any recipient status", **common)

    bounce_like = bool(dsn_parts) or bool(
        _BOUNCE_SENDER.search(sender)
        or _BOUNCE_SUBJECT.search(subject)
        or _BOUNCE_BODY.search(report)
    )
    if not dsn_parts:
        if _is_autoreply(msg, subject) and not (_BOUNCE_SENDER.search(sender) or _BOUNCE_BODY.search(report)):
            return Parsed(Kind.AUTOREPLY, reason="an auto-reply", **common)
        if not bounce_like:
            return Parsed(Kind.OTHER, reason="not a bounce", **common)
        statuses = _text_statuses(report, exclude)
        if not statuses:
            return Parsed(Kind.UNPARSEABLE, reason="a bounce without a recognisable status", **common)

    kind = Kind.HARD if any(s.status.startswith("5") for s in statuses) else Kind.SOFT
    return Parsed(kind, statuses=tuple(statuses), **common)
