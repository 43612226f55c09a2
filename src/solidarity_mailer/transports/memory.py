"""An in-memory transport for tests: keeps what it is given; replies can be scripted per recipient."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from solidarity_mailer.transports.base import Outcome, TransportPaused, Verdict


@dataclass(frozen=True)
class SentMessage:
    """One accepted transaction."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    smtputf8: bool = False


@dataclass
class MemoryTransport:
    """Records accepted messages in ``sent``.

    ``script[address]`` is a queue of outcomes handed out in turn before the address is accepted;
    a :class:`TransportPaused` in the queue is raised instead (nothing of that call is kept).
    """

    sent: list[SentMessage] = field(default_factory=list)
    script: dict[str, list[Outcome | TransportPaused]] = field(default_factory=lambda: defaultdict(list))
    opened: int = 0
    is_open: bool = False

    def open(self) -> None:
        if not self.is_open:
            self.is_open = True
            self.opened += 1

    def send(
        self, mail_from: str, rcpt_tos: Sequence[str], data: bytes, *, smtputf8: bool = False,
        crlf_only: bool = False, wire: bytes | None = None,
    ) -> dict[str, Outcome]:
        self.open()
        outcomes: dict[str, Outcome] = {}
        for rcpt in rcpt_tos:
            queue = self.script.get(rcpt)
            if queue:
                scripted = queue.pop(0)
                if isinstance(scripted, TransportPaused):
                    raise scripted
                outcomes[rcpt] = scripted
        accepted = tuple(r for r in rcpt_tos if r not in outcomes)
        if accepted:
            self.sent.append(SentMessage(mail_from, accepted, data, smtputf8))
        ok = Outcome(Verdict.SENT, 250, "2.0.0", "OK")
        return {**outcomes, **dict.fromkeys(accepted, ok)}

    def close(self) -> None:
        self.is_open = False

    def recipients(self) -> list[str]:
        """Every recipient of every kept message, in order (duplicates kept)."""
        return [r for m in self.sent for r in m.rcpt_tos]
