"""Signed VERP envelope senders: a keyed, dated tag in the return path, in the manner of BATV and SRS.

``bounces@lists.example.net`` and ``jo@example.org`` sent on day ``D`` give
``bounces+{day}{mac}-jo=example.org@lists.example.net``: ``day`` is 4 hex digits of the days since 1970
(modulo 65536, about 179 years), ``mac`` 10 hex digits (40 bits) of HMAC-SHA256 under a key derived from the
project secret (``SOLIDARITY_MAILER_SECRET``; its own purpose label, so it never equals an unsubscribe token
or a Message-ID) over the day and the lower-cased recipient. Lower-case hex and a case-blind check survive
the MTAs that fold local parts to lower case; hex rather than base32 because ``bytes.hex`` is C code and
``base64.b32encode`` is not (about 2 µs a message). The tag adds 15 characters, SRS's ``SRS0=HHHH=TT=`` 13.
A bounce to such an address proves that we sent to that recipient on that day: a forger must guess 40 bits,
one bounce per guess.

Hand-written, not a library: BATV's ``prvs=`` form names no recipient (it signs the sender) and SRS
rewrites for forwarding; neither carries a recipient for VERP. One HMAC per message (about a microsecond).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: Default validity of a tag, in days after the day it was made (see :func:`check`). MTAs give up on a
#: message after 5 days by default (Postfix ``maximal_queue_lifetime``, sendmail ``Timeout.queuereturn``;
#: Exim and Exchange less), so 30 days leaves three weeks between a bounce's arrival and its import, while
#: a return path that leaked (the recipient's copy shows it in ``Return-Path``) unsubscribes nobody after a
#: month. SRS's libsrs2 keeps 21 days.
TAG_VALIDITY_DAYS = 30
_PURPOSE = b"solidarity-mailer/verp"
_CYCLE = 16 ** 4  # four hex digits of day number
_TAG_LENGTH = 4 + 10  # day, 40-bit MAC
_HEX = frozenset("0123456789abcdef")


class TagCheck(StrEnum):
    """What :func:`check` found in an envelope address."""

    VALID = "valid"
    EXPIRED = "expired"  # ours and genuine, but older than the validity (or from the future)
    FORGED = "forged"  # our bounce address with a tag that does not verify (or no tag: classic VERP)
    NOT_OURS = "not ours"  # not a VERP form of the configured bounce address


@dataclass(frozen=True)
class Tagged:
    """The verdict on one envelope address: the recipient it names (when VERP-shaped) and the tag's state."""

    check: TagCheck
    recipient: str = ""
    age_days: int = 0


def verp_key(secret: bytes) -> bytes:
    """The key that signs VERP tags, derived from the project secret."""
    return hmac.digest(secret, _PURPOSE, "sha256")


def day_number(when: datetime) -> int:
    """Whole days since 1970-01-01 UTC."""
    return int(when.timestamp()) // 86400


def _mac(key: bytes, day_code: str, recipient: str) -> str:
    return hmac.digest(key, f"{day_code}\0{recipient.lower()}".encode(), "sha256")[:5].hex()


def signed_verp(key: bytes, bounce_address: str, rcpt: str, day: int) -> str:
    """``bounces@d``, ``jo@example.org`` → ``bounces+{tag}-jo=example.org@d`` (the tag as described above)."""
    local, _, domain = bounce_address.rpartition("@")
    rlocal, _, rdomain = rcpt.rpartition("@")
    code = f"{day % _CYCLE:04x}"
    return f"{local}+{code}{_mac(key, code, rcpt)}-{rlocal}={rdomain}@{domain}"


def _parts(address: str, bounce_address: str) -> tuple[str, str] | None:
    """``(tag part, recipient)`` of a VERP form of ``bounce_address`` (same local part and domain)."""
    local, _, domain = address.rpartition("@")
    base, plus, rest = local.partition("+")
    want_local, _, want_domain = bounce_address.rpartition("@")
    if not plus or base.lower() != want_local.lower() or domain.lower() != want_domain.lower():
        return None
    rcpt_local, eq, rcpt_domain = rest.rpartition("=")
    if not eq or "@" in rest or "." not in rcpt_domain or not rcpt_local:
        return None
    tag, dash, rcpt_local = rcpt_local.partition("-")
    if not dash or len(tag) != _TAG_LENGTH:
        return "", f"{tag}{dash}{rcpt_local}@{rcpt_domain}"  # classic (unsigned) VERP
    return tag.lower(), f"{rcpt_local}@{rcpt_domain}"


def check(key: bytes | None, address: str, bounce_address: str, today: int,
          validity_days: int = TAG_VALIDITY_DAYS) -> Tagged:
    """Is ``address`` a VERP form of ``bounce_address`` with a genuine tag at most ``validity_days`` old?

    Without a key nothing verifies (FORGED); a tag up to a day in the future is accepted (clock skew).
    """
    parts = _parts(address, bounce_address)
    if parts is None:
        return Tagged(TagCheck.NOT_OURS)
    tag, recipient = parts
    if key is None or not tag or not _HEX.issuperset(tag):
        return Tagged(TagCheck.FORGED, recipient)
    code, mac = tag[:4], tag[4:]
    if not hmac.compare_digest(mac, _mac(key, code, recipient)):
        return Tagged(TagCheck.FORGED, recipient)
    age = (today - int(code, 16)) % _CYCLE
    if age > _CYCLE - 2:  # made "tomorrow": a sender's clock slightly ahead
        age -= _CYCLE
    if age > validity_days:
        return Tagged(TagCheck.EXPIRED, recipient, age)
    return Tagged(TagCheck.VALID, recipient, age)
