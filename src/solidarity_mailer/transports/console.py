"""The console transport: prints every message to standard output (for trying things out)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from solidarity_mailer.transports.base import Outcome, Verdict

SEPARATOR = "-" * 79


class ConsoleTransport:
    """Writes the envelope and the message source, decoded as UTF-8, to ``stream`` (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def open(self) -> None:
        """Nothing to open."""

    def send(
        self, mail_from: str, rcpt_tos: Sequence[str], data: bytes, *, smtputf8: bool = False,
        crlf_only: bool = False, wire: bytes | None = None,
    ) -> dict[str, Outcome]:
        out = self.stream or sys.stdout
        out.write(f"MAIL FROM:<{mail_from}> RCPT TO:{', '.join(f'<{r}>' for r in rcpt_tos)}\n")
        out.write(data.decode("utf-8", "replace").replace("\r\n", "\n"))
        out.write(f"\n{SEPARATOR}\n")
        out.flush()
        return dict.fromkeys(rcpt_tos, Outcome(Verdict.SENT, 250, "2.0.0", "printed"))

    def close(self) -> None:
        """Nothing to close."""
