"""The SMTP transport: one reused, verified connection; every reply classified per RFC 5321 / RFC 3463.

The transaction is driven by hand (MAIL, RCPT…, DATA, body) instead of ``sendmail()`` so that a drop, a
timeout or an answer that is not SMTP (``smtp_replies.py``) *before* the final dot (nothing delivered: defer) is
told apart from one *after* it (the server may have queued the message: uncertain). Refused recipients of a
partly accepted transaction get their own outcome; nothing is ignored.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from solidarity_mailer.config.settings import DEFAULT_PASSWORD_ENV
from solidarity_mailer.errors import MailerError
from solidarity_mailer.transports import smtp_replies
from solidarity_mailer.transports.base import Outcome, TransportPaused, Verdict
from solidarity_mailer.transports.pipelining import EnvelopeCommands
from solidarity_mailer.transports.smtp_replies import classify, enhanced_status, reply_text
from solidarity_mailer.transports.smtp_wire import wire_body

if TYPE_CHECKING:
    from solidarity_mailer.config import Settings

__all__ = ["SmtpTransport", "classify", "enhanced_status"]

_SECURITIES = ("none", "starttls", "tls")


def _all(rcpts: Sequence[str], outcome: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(rcpts, outcome)


@dataclass
class _Progress:
    """How far one transaction got: the refused recipients' outcomes, the accepted ones, and the stage
    (``before`` any RCPT, at ``rcpt``, or ``after`` the body was sent)."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    stage: str = "before"


class SmtpTransport:
    """Delivers over one SMTP connection, opened lazily, reused across messages, reopened after a drop.

    ``security``: ``none`` (plain), ``starttls`` (required: a server that does not offer it pauses the
    run) or ``tls`` (implicit TLS, SMTPS). TLS always verifies with ``context`` (default
    :func:`ssl.create_default_context`). ``open()`` raises :class:`TransportPaused` for problems that
    retrying will not fix (authentication, missing STARTTLS, certificate) and ``OSError`` /
    :class:`smtplib.SMTPException` when the server cannot be reached; ``send()`` turns the latter into
    deferrals and raises only :class:`TransportPaused`, and only when nothing of that call was delivered.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in _SECURITIES:
            raise ValueError(f"security must be one of {_SECURITIES}")
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.timeout = timeout
        self.context = context
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._dirty = False  # a transaction was left half-done: RSET before the next one
        self.connections = 0  # how many times a connection was opened (for tests and stats)

    @classmethod
    def from_settings(cls, settings: Settings, *, context: ssl.SSLContext | None = None) -> SmtpTransport:
        """The transport for ``settings.smtp``; a missing password for a configured username is an error."""
        smtp = settings.smtp
        if smtp.username and not smtp.password:
            raise MailerError(
                f"SMTP username {smtp.username!r} is set but no password",
                where=settings.source,
                hint=f"export {DEFAULT_PASSWORD_ENV}=…" if smtp.password_env == DEFAULT_PASSWORD_ENV
                else "export the variable [smtp] password_env names",  # its value may be a password pasted there
            )
        return cls(smtp.host, smtp.port, security=smtp.security, username=smtp.username, password=smtp.password,
                   timeout=smtp.timeout, context=context)

    # -- connection --------------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self.context is None:
            self.context = ssl.create_default_context()
        return self.context

    def open(self) -> None:
        """Connect, STARTTLS when configured, and log in when a username is set; idempotent."""
        if self._conn is not None:
            return
        try:
            conn = self._connect()
        except ssl.SSLCertVerificationError as exc:
            what = f"TLS certificate of {self.host}:{self.port} not trusted: {exc.verify_message}"
            raise TransportPaused(what) from None
        except smtplib.SMTPConnectError as exc:
            classify(exc.smtp_code, exc.smtp_error)  # a 5.7.x / 4.7.x greeting pauses
            raise
        self._conn, self._dirty = conn, False
        self.connections += 1

    def _connect(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.security == "tls":
            conn = smtp_replies.StrictSMTPS(self.host, self.port, self.local_hostname, timeout=self.timeout,
                                            context=self._context())
        else:
            conn = smtp_replies.StrictSMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
        try:
            conn.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise TransportPaused(f"{self.host}:{self.port} does not offer STARTTLS, which is required "
                                          "(security = starttls)")
                code, reply = conn.starttls(context=self._context())
                if code != 220:
                    raise TransportPaused(f"STARTTLS refused: {code} {reply_text(reply)}", code)
                conn.ehlo()
            if self.username:
                self._login(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _login(self, conn: smtplib.SMTP) -> None:
        try:
            conn.login(self.username or "", self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportPaused(f"authentication failed: {exc.smtp_code} {reply_text(exc.smtp_error)}",
                                  exc.smtp_code, enhanced_status(reply_text(exc.smtp_error))) from None
        except smtplib.SMTPServerDisconnected:
            raise  # a connection problem, not a refusal: the caller defers
        except smtplib.SMTPNotSupportedError:
            raise TransportPaused(f"{self.host}:{self.port} does not offer AUTH (is TLS required first?)") from None
        except smtplib.SMTPException as exc:
            raise TransportPaused(f"login failed: {exc}") from None

    def close(self) -> None:
        """QUIT politely and close; idempotent, never raises."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- transaction -------------------------------------------------------------------------------

    def send(
        self, mail_from: str, rcpt_tos: Sequence[str], data: bytes, *, smtputf8: bool = False,
        crlf_only: bool = False, wire: bytes | None = None,
    ) -> dict[str, Outcome]:
        """One transaction; an :class:`Outcome` for every recipient. See the class docstring for errors."""
        rcpts = list(dict.fromkeys(rcpt_tos))
        smtputf8 = smtputf8 or not all(a.isascii() for a in (mail_from, *rcpts))
        body = wire if wire is not None else wire_body(data, crlf_only=crlf_only)
        result = self._transaction(mail_from, rcpts, body, smtputf8, may_retry=self._conn is not None)
        if result is None:  # the reused idle connection had been closed by the server: nothing sent, once afresh
            result = self._transaction(mail_from, rcpts, body, smtputf8, may_retry=False)
        assert result is not None
        return {r: result[r] for r in rcpts}  # in the caller's order

    def _transaction(
        self, mail_from: str, rcpts: list[str], body: bytes, smtputf8: bool, *, may_retry: bool
    ) -> dict[str, Outcome] | None:
        """MAIL, RCPT…, DATA and ``body`` (already in wire form); None when a reused connection was found
        closed before anything was accepted (the caller tries once more on a fresh one)."""
        try:
            self.open()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            return _all(rcpts, Outcome(Verdict.DEFER, 0, "", f"connection failed: {exc}", connection=True))
        conn = self._conn
        assert conn is not None
        if smtputf8 and not conn.has_extn("smtputf8"):
            return _all(rcpts, Outcome(Verdict.FAIL, 553, "5.6.7",
                                       "the address needs SMTPUTF8, which the server does not offer"))
        options = ["SMTPUTF8"] if smtputf8 else []
        if smtputf8 and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        progress = _Progress()
        try:
            if self._dirty:
                conn.rset()
            self._dirty = True
            refused = self._envelope(conn, mail_from, rcpts, options, progress)
            if refused is not None:
                return refused
            conn.send(body)
            progress.stage = "after"
            code, reply = conn.getreply()
        except TransportPaused:
            self._reset_quietly()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            return self._lost(rcpts, progress, exc, may_retry=may_retry)
        self._dirty = False
        if code == 421:
            self._drop()
        return {**progress.outcomes, **_all(progress.accepted, classify(code, reply, final=True))}

    def _envelope(
        self, conn: smtplib.SMTP, mail_from: str, rcpts: list[str], options: list[str], progress: _Progress
    ) -> dict[str, Outcome] | None:
        """Send the envelope and read its replies; the result when the transaction ends here, None when the
        server asked for the body (354). Replies still owed to pipelined commands are read, or the
        connection dropped."""
        commands = EnvelopeCommands(conn, mail_from, rcpts, options)
        try:
            return self._envelope_replies(commands, rcpts, progress)
        finally:
            if self._conn is conn and commands.unread and not commands.catch_up():
                self._drop()

    def _envelope_replies(
        self, commands: EnvelopeCommands, rcpts: list[str], progress: _Progress
    ) -> dict[str, Outcome] | None:
        outcomes, accepted = progress.outcomes, progress.accepted
        code, reply = commands.reply()  # MAIL
        if not 200 <= code < 300:  # (a 2xx here is the server's "go on", never a delivery)
            outcome = classify(code, reply)
            if code == 421 or code < 400:  # closing, or out of step, before any recipient: its trouble, not theirs
                outcome = Outcome(Verdict.DEFER, code, outcome.status, outcome.reply, connection=True)
            return self._end(rcpts, outcome, code)
        progress.stage = "rcpt"
        for rcpt in rcpts:
            code, reply = commands.reply()
            if 200 <= code < 300:  # 250, 251 (will forward); any 2xx means the server took it
                accepted.append(rcpt)
                continue
            outcome = classify(code, reply, recipient=True)
            outcomes[rcpt] = outcome
            if code == 421:
                return {**outcomes, **self._end([r for r in rcpts if r not in outcomes], outcome, code)}
        if not accepted and not commands.pipelined:
            return outcomes
        code, reply = commands.reply()  # DATA
        if not accepted:  # pipelined DATA for no one: a server that says 354 anyway gets no body
            if code in (354, 421):
                self._drop()
            return outcomes
        if code == 354:
            return None
        if 200 <= code < 300:  # DATA "accepted" without asking for the message: nothing was sent
            self._drop()
            lost = Outcome(Verdict.DEFER, code, "", f"unexpected reply to DATA: {code} {reply_text(reply)}")
            return {**outcomes, **_all(accepted, lost)}
        return {**outcomes, **self._end(accepted, classify(code, reply), code)}

    @staticmethod
    def _lost(rcpts: list[str], progress: _Progress, exc: Exception, *, may_retry: bool) -> dict[str, Outcome] | None:
        """The outcomes when the connection failed mid-transaction (None: retry afresh, nothing was taken)."""
        outcomes, accepted = progress.outcomes, progress.accepted
        what = "no valid reply" if isinstance(exc, smtp_replies.MalformedReply) else "connection lost"
        if progress.stage == "after":
            uncertain = Outcome(Verdict.UNCERTAIN, 0, "", f"{what} after the final dot: {exc}")
            return {**outcomes, **_all(accepted, uncertain)}
        if may_retry and not accepted and not outcomes:
            return None
        pending = [r for r in rcpts if r not in outcomes]
        lost = Outcome(Verdict.DEFER, 0, "", f"{what}: {exc}", connection=progress.stage == "before")
        return {**outcomes, **_all(pending, lost)}

    def _end(self, rcpts: list[str], outcome: Outcome, code: int) -> dict[str, Outcome]:
        """Give ``rcpts`` the same outcome; after 421 (closing) or a 3xx (out of step) drop the connection."""
        if code == 421 or code < 400:
            self._drop()
        return _all(rcpts, outcome)

    def _reset_quietly(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
                self._dirty = False
        except (smtplib.SMTPException, OSError):
            self._drop()
