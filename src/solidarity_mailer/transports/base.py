"""The one small transport interface (after Django's mail backends): hand over bytes, get per-recipient outcomes.

Transports never raise for an SMTP reply: they classify every recipient of the transaction into an
:class:`Outcome` (RFC 5321 / RFC 3463), so a partial refusal can never be lost. They raise
:class:`TransportPaused` only when the problem is ours (authentication, a 4.7.x/5.7.x policy reply to the
session or the message rather than to one recipient), so the dispatcher pauses the run instead of burning
through the list. A deferral marked ``connection`` (cannot connect, TLS/greeting failure, dropped before any
RCPT) is the relay's trouble, not the recipient's: the dispatcher backs off the whole run without counting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Verdict(StrEnum):
    """What the dispatcher should do with a recipient after a transaction."""

    SENT = "sent"  # 250 after the final dot
    DEFER = "deferred"  # 4xx, or a connection problem before the final dot: retry with backoff
    FAIL = "failed"  # 5xx: never retry
    UNCERTAIN = "uncertain"  # the connection dropped after the final dot: maybe delivered


@dataclass(frozen=True)
class Outcome:
    """The result for one recipient: verdict, SMTP code and enhanced status (when known), reply text."""

    verdict: Verdict
    code: int = 0
    status: str = ""  # enhanced status code such as "5.1.1", "" when the server gave none
    reply: str = ""
    connection: bool = False  # DEFER because the server could not be reached or used (not this recipient's doing)

    @property
    def suppress(self) -> bool:
        """A permanent "no such user" (5.1.1): the address should go on the suppression list."""
        return self.verdict is Verdict.FAIL and self.status == "5.1.1"


class TransportPaused(Exception):
    """The server refuses us, not the recipient (auth failure, a session/message 4.7.x/5.7.x): pause the run."""

    def __init__(self, reply: str, code: int = 0, status: str = "") -> None:
        super().__init__(reply)
        self.reply = reply
        self.code = code
        self.status = status

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        return (TransportPaused, (self.reply, self.code, self.status))  # crosses the sender-process pipe whole


class Transport(Protocol):
    """Delivers one prepared message to one or more envelope recipients."""

    def open(self) -> None:
        """Connect (and log in) if the transport needs a connection; idempotent."""

    def send(
        self, mail_from: str, rcpt_tos: Sequence[str], data: bytes, *, smtputf8: bool = False,
        crlf_only: bool = False, wire: bytes | None = None,
    ) -> dict[str, Outcome]:
        """Hand ``data`` over for ``rcpt_tos``; one :class:`Outcome` per recipient, never an exception for a reply.

        ``crlf_only``: the caller vouches that every line of ``data`` ends CRLF and that it holds no bare CR
        or LF (as :class:`~solidarity_mailer.compose.message.MessageFactory` builds it), so a transport that must
        send CRLF may skip scanning for them. ``wire``: the same message as SMTP sends it after DATA (dot-stuffed,
        ending CRLF.CRLF), when the caller has it at no cost (the SMTP transport then sends it as it is).
        """
        ...

    def close(self) -> None:
        """Close the connection, if any; idempotent."""
