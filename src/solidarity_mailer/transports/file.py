"""The file transport: every message becomes an ``.eml`` file in the outbox folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from solidarity_mailer.transports.base import Outcome, Verdict
from solidarity_mailer.transports.outbox import write_eml


class FileTransport:
    """Writes each message to ``outbox`` (created on demand); an unwritable folder defers the recipients."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = Path(outbox)
        self.written: list[Path] = []

    def open(self) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)

    def send(
        self, mail_from: str, rcpt_tos: Sequence[str], data: bytes, *, smtputf8: bool = False,
        crlf_only: bool = False, wire: bytes | None = None,
    ) -> dict[str, Outcome]:
        try:
            path = write_eml(self.outbox, mail_from, rcpt_tos, data)
        except OSError as exc:
            return dict.fromkeys(rcpt_tos, Outcome(Verdict.DEFER, 0, "", f"cannot write to {self.outbox}: {exc}"))
        self.written.append(path)
        return dict.fromkeys(rcpt_tos, Outcome(Verdict.SENT, 250, "2.0.0", f"stored as {path.name}"))

    def close(self) -> None:
        """Nothing to close."""
