"""Import bounces from a Maildir or an mbox: suppress hard bounces, count soft ones, honour mailto unsubscribes.

Each message is read by :mod:`dsn`, then matched to the recipient we mailed only when it proves it
(:mod:`authentication`): a valid, unexpired signed VERP tag for the address, or the Message-ID of a message we
sent to it. A bounce that proves neither is reported as unmatched and changes nothing, whatever address it names.

A hard bounce (5.x.x) suppresses the address for every list (reason ``bounced``). A soft one (4.x.x)
adds one to ``soft_bounces`` (at most once per returned message, so Postfix's "delayed" warnings for one
message count once) and suppresses when the count reaches the limit. Auto-replies are counted and
ignored. A message whose Subject or envelope address carries ``unsubscribe-{token}`` (the mailto of
List-Unsubscribe) suppresses the token's address on the token's list. Unparseable messages are reported
with their mailbox key and never stop the import. Every message processed is remembered in
``bounce_messages`` (by Message-ID), so importing the same mailbox again changes nothing.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update

from solidarity_mailer.bounces.authentication import Authenticator, Match
from solidarity_mailer.bounces.dsn import Kind, Parsed, RecipientStatus, parse
from solidarity_mailer.compose.unsubscribe_tokens import Subscription, verify_token
from solidarity_mailer.compose.verp import TAG_VALIDITY_DAYS
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import suppressions as suppression
from solidarity_mailer.ledger.schema import bounce_messages, soft_bounces

DEFAULT_SOFT_LIMIT = 3
_TOKEN = re.compile(r"unsubscribe-(\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


@dataclass
class ImportSummary:
    """What an import did. ``problems`` lists ``mailbox key: reason`` for unparseable and unmatched messages."""

    messages: int = 0
    hard: int = 0
    soft: int = 0
    suppressed: int = 0
    unmatched: int = 0
    unparseable: int = 0
    autoreplies: int = 0
    unsubscribes: int = 0
    other: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """``N hard, S soft, K suppressed, U unmatched, E unparseable`` and the rest."""
        return (
            f"{self.hard} hard, {self.soft} soft, {self.suppressed} suppressed, {self.unmatched} unmatched, "
            f"{self.unparseable} unparseable; {self.autoreplies} auto-replies ignored, "
            f"{self.unsubscribes} unsubscribe requests, {self.other} other messages, "
            f"{self.already} already imported ({self.messages} messages read)"
        )


def open_mailbox(path: Path) -> mailbox.Mailbox:
    """A Maildir (a folder with ``cur/`` and ``new/``) or an mbox file, opened read-only in effect."""
    if path.is_dir():
        if not ((path / "cur").is_dir() and (path / "new").is_dir()):
            raise MailerError("not a Maildir: no cur/ and new/ folders", where=path,
                              hint="give a Maildir folder or an mbox file")
        return mailbox.Maildir(path, factory=None, create=False)
    if path.is_file():
        try:
            with path.open("rb") as fh:
                head = fh.read(5)
        except OSError as exc:
            raise MailerError(f"cannot read the mailbox: {exc.strerror}", where=path) from None
        if head and head != b"From ":
            raise MailerError("not an mbox file (it does not start with a 'From ' line)", where=path,
                              hint="give a Maildir folder or an mbox file")
        return mailbox.mbox(path, factory=None, create=False)
    raise MailerError("mailbox not found", where=path, hint="give a Maildir folder or an mbox file")


def iter_messages(box: mailbox.Mailbox) -> Iterator[tuple[str, bytes | Exception]]:
    """``(key, raw bytes)`` for each message in a stable order; an unreadable one yields its exception."""
    keys = list(box.iterkeys())
    for key in sorted(keys, key=str) if isinstance(box, mailbox.Maildir) else keys:
        try:
            yield str(key), box.get_bytes(key)
        except (OSError, KeyError, ValueError) as exc:
            yield str(key), exc


class Importer:
    """Applies parsed messages to the database; one instance per import."""

    def __init__(self, engine: Engine, *, soft_limit: int, bounce_address: str | None, secret: bytes | None,
                 now: datetime | None = None, max_age_days: int = TAG_VALIDITY_DAYS) -> None:
        if soft_limit < 1:
            raise MailerError("the soft bounce limit must be at least 1")
        if max_age_days < 1:
            raise MailerError("the bounce age limit must be at least 1 day")
        self.engine, self.soft_limit, self.secret = engine, soft_limit, secret
        self.now = now or datetime.now(UTC)
        self.authenticator = Authenticator(engine, bounce_address=bounce_address, secret=secret, now=self.now,
                                           max_age_days=max_age_days)
        self.summary = ImportSummary()

    def _seen(self, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(bounce_messages.c.key).where(bounce_messages.c.key == key)).first() is not None

    def _remember(self, conn: Connection, parsed: Parsed, kind: str, address: str = "", status: str = "",
                  original: str = "") -> None:
        conn.execute(insert(bounce_messages).values(
            key=parsed.key, kind=kind, address=address, status=status, original_message_id=original[:250],
            processed_at=self.now))

    def _unsubscribe(self, sub: Subscription) -> None:
        """An unsubscribe request by mail: the same scope rule as the web endpoint."""
        try:
            _, added = suppression.unsubscribe(self.engine, sub, detail="mailto request", now=self.now)
        except MailerError as exc:  # an address we cannot store: report, go on
            self.summary.problems.append(f"{sub.address}: not suppressed: {exc.line()}")
            return
        if added:
            self.summary.suppressed += 1

    def _suppress(self, address: str, reason: str, detail: str, scope: str = suppression.EVERY_LIST) -> None:
        """Suppress (idempotent); an address already suppressed everywhere keeps its reason (say, complained)."""
        if suppression.is_suppressed(self.engine, address):
            return
        try:
            added = suppression.add(self.engine, address, reason, scope=scope, detail=detail[:500], now=self.now)
        except MailerError as exc:  # an address or list id we cannot store: report, go on
            self.summary.problems.append(f"{address}: not suppressed: {exc.line()}")
            return
        if added:
            self.summary.suppressed += 1

    def _unsubscribe_request(self, parsed: Parsed) -> Subscription | None:
        """The subscription named by ``unsubscribe-{token}`` in the Subject or an envelope address."""
        if self.secret is None:
            return None
        for place in (parsed.subject, *parsed.delivered_to):
            for token in _TOKEN.findall(place):
                sub = verify_token(self.secret, token)
                if sub is not None:
                    return sub
        return None

    def apply(self, mailbox_key: str, parsed: Parsed) -> None:
        """Count, match and store one parsed message."""
        s = self.summary
        if parsed.kind is Kind.UNPARSEABLE:
            s.unparseable += 1
            s.problems.append(f"{mailbox_key}: unparseable: {parsed.reason}")
            return
        if self._seen(parsed.key):
            s.already += 1
            return
        if parsed.kind in (Kind.OTHER, Kind.AUTOREPLY):
            sub = self._unsubscribe_request(parsed) if parsed.kind is Kind.OTHER else None
            if sub is not None:
                self._unsubscribe(sub)
                s.unsubscribes += 1
                kind = "unsubscribe"
            elif parsed.kind is Kind.AUTOREPLY:
                s.autoreplies += 1
                kind = "autoreply"
            else:
                s.other += 1
                kind = "other"
            with self.engine.begin() as conn:
                self._remember(conn, parsed, kind)
            return
        self._bounce(mailbox_key, parsed)

    def _bounce(self, mailbox_key: str, parsed: Parsed) -> None:
        s = self.summary
        worst = parsed.worst
        if worst is None:  # dsn.parse gives HARD/SOFT only with a failing status; be safe anyway
            worst = RecipientStatus("", "4.0.0")
        match = self.authenticator.match(parsed)
        if not isinstance(match, Match):
            s.unmatched += 1
            s.problems.append(f"{mailbox_key}: unmatched {parsed.kind.value} bounce ({worst.status}"
                              f"{', ' + worst.address if worst.address else ''}): {match}; nothing changed")
            with self.engine.begin() as conn:
                self._remember(conn, parsed, "unmatched", worst.address, worst.status)
            return
        address, original = match.address, match.original
        detail = f"{worst.status} {worst.diagnostic}".strip()
        if parsed.kind is Kind.HARD:
            s.hard += 1
            self._suppress(address, "bounced", detail)
            with self.engine.begin() as conn:
                self._remember(conn, parsed, "hard", address, worst.status, original)
            return
        s.soft += 1
        with self.engine.begin() as conn:
            repeat = bool(original) and conn.execute(select(bounce_messages.c.key).where(
                bounce_messages.c.address == address, bounce_messages.c.original_message_id == original[:250],
                bounce_messages.c.kind == "soft").limit(1)).first() is not None
            self._remember(conn, parsed, "soft", address, worst.status, original)
            count = self._count_soft(conn, address, worst.status) if not repeat else None
        if count is not None and count >= self.soft_limit:
            self._suppress(address, "bounced", f"{count} soft bounces, the last {detail}")

    def _count_soft(self, conn: Connection, address: str, status: str) -> int:
        row = conn.execute(select(soft_bounces.c.count).where(soft_bounces.c.address == address)).first()
        if row is None:
            conn.execute(insert(soft_bounces).values(address=address, count=1, last_status=status, last_at=self.now))
            return 1
        conn.execute(update(soft_bounces).where(soft_bounces.c.address == address).values(
            count=soft_bounces.c.count + 1, last_status=status, last_at=self.now))
        return int(row.count) + 1

    def sweep(self) -> None:
        """Suppress every address at or over the limit that is not suppressed yet (a lowered limit, a crash)."""
        with self.engine.connect() as conn:
            over = conn.execute(select(soft_bounces).where(soft_bounces.c.count >= self.soft_limit)).all()
        for row in over:
            if not suppression.is_suppressed(self.engine, row.address):
                self._suppress(row.address, "bounced", f"{row.count} soft bounces, the last {row.last_status}")


def import_mailbox(engine: Engine, path: Path, *, soft_limit: int = DEFAULT_SOFT_LIMIT,
                   bounce_address: str | None = None, secret: bytes | None = None,
                   now: datetime | None = None, max_age_days: int = TAG_VALIDITY_DAYS) -> ImportSummary:
    """Read every message of the Maildir or mbox at ``path`` and apply it; returns the summary.

    ``bounce_address`` (``[sender] bounce_address``) and ``secret`` check VERP tags; ``max_age_days`` is how
    old a tag or a returned message of ours may be.
    """
    importer = Importer(engine, soft_limit=soft_limit, bounce_address=bounce_address, secret=secret, now=now,
                        max_age_days=max_age_days)
    box = open_mailbox(path)
    try:
        for key, data in iter_messages(box):
            importer.summary.messages += 1
            if isinstance(data, Exception):
                importer.summary.unparseable += 1
                importer.summary.problems.append(f"{key}: unreadable: {data}")
                continue
            try:
                parsed = parse(data)
            except Exception as exc:  # a parser bug on hostile input must not stop the import: report it
                parsed = Parsed(Kind.UNPARSEABLE, key="", reason=f"parser error {type(exc).__name__}: {exc}")
            importer.apply(key, parsed)
        importer.sweep()
    finally:
        box.close()
    return importer.summary
