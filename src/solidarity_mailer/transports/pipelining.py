"""The envelope commands of one SMTP transaction (MAIL, RCPT…, DATA), pipelined when the server allows.

With PIPELINING (RFC 2920), which Postfix, Exim and the large providers offer, the commands leave in one
write and their replies are read in order: one round trip instead of one per command. Without it (or
for an address smtplib must quote, or SMTPUTF8 options) each command is sent when its reply is asked
for, as a plain dialogue. Either way the caller reads the replies one at a time and decides after each;
:meth:`EnvelopeCommands.catch_up` reads the replies of pipelined commands it stopped caring about, so that
the connection stays in step for the next transaction.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator, Sequence

# A plain ASCII addr-spec: sent as <addr> without smtplib's quoteaddr (an email-header parse, ~45 µs a call).
# It holds no space, CR or LF, so it can go into a command line as it is.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")

Reply = tuple[int, bytes]


class EnvelopeCommands:
    """MAIL FROM, one RCPT TO per recipient, then DATA, on ``conn``; :meth:`reply` gives their replies in order.

    ``pipelined`` tells whether all of them went out at once (then DATA was sent even if every RCPT is
    refused: the server refuses it in turn).
    """

    def __init__(self, conn: smtplib.SMTP, mail_from: str, rcpts: Sequence[str], options: Sequence[str]) -> None:
        self.conn = conn
        plain = not options and all(PLAIN_ADDRESS.fullmatch(a) for a in (mail_from, *rcpts))
        self.pipelined = plain and conn.has_extn("pipelining")
        self.unread = 0  # pipelined commands whose reply has not been read yet
        if self.pipelined:
            lines = [f"MAIL FROM:<{mail_from}>", *(f"RCPT TO:<{r}>" for r in rcpts), "DATA"]
            conn.send("".join(f"{line}\r\n" for line in lines))
            self.unread = len(lines)
            self._replies = self._read(len(lines))
        else:
            self._replies = self._one_by_one(mail_from, rcpts, options)

    def reply(self) -> Reply:
        """The reply to the next command (sending it first when not pipelined)."""
        return next(self._replies)

    def catch_up(self) -> bool:
        """Read the replies still owed for pipelined commands; False when the connection cannot be used
        for another transaction (it failed, the server is closing with 421, or it took DATA with 354)."""
        try:
            while self.unread:
                code, _ = self.reply()
                if code in (354, 421):
                    return False
        except (OSError, smtplib.SMTPException):
            return False
        return True

    def _read(self, count: int) -> Iterator[Reply]:
        for _ in range(count):
            try:
                reply = self.conn.getreply()
            except BaseException:
                self.unread = 0  # the connection failed: nothing more is read from it
                raise
            self.unread -= 1
            yield reply

    def _one_by_one(self, mail_from: str, rcpts: Sequence[str], options: Sequence[str]) -> Iterator[Reply]:
        conn = self.conn
        if not options and PLAIN_ADDRESS.fullmatch(mail_from):
            conn.putcmd("mail", f"FROM:<{mail_from}>")
            yield conn.getreply()
        else:
            yield conn.mail(mail_from, list(options))
        for rcpt in rcpts:
            if PLAIN_ADDRESS.fullmatch(rcpt):
                conn.putcmd("rcpt", f"TO:<{rcpt}>")
                yield conn.getreply()
            else:
                yield conn.rcpt(rcpt)
        conn.putcmd("data")
        yield conn.getreply()
