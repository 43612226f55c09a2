"""Delivery state transitions, written on one connection with group commit.

The rule stays: a row is committed as ``sending`` BEFORE its message is handed over — ``claim_many``
returns only after the COMMIT. Outcomes (``sent``, ``deferred``, ``failed``, ``uncertain``) are queued
and committed together with the next claims, a few milliseconds later: if the process dies in between,
the row is still ``sending`` and becomes ``uncertain`` (maybe delivered), never lost and never silently
resent. When the PostgreSQL server goes away, the outcomes stay queued in memory and are committed on a new
connection once it is back (:meth:`LedgerWriter.reconnect`). One connection and, under load, less than one
transaction per message. The four statements
are compiled once for the engine's dialect and run on the DBAPI cursor (SQLAlchemy's per-statement
overhead was most of the ledger's cost). Each claim is a guarded ``UPDATE … WHERE state IN
('pending','deferred')`` whose row count tells whether this process owns the row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any

from sqlalchemy import DateTime, Engine, text
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection

from solidarity_mailer.ledger.disk_reserve import DiskReserve
from solidarity_mailer.ledger.full import is_disk_full
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.reachability import database_unreachable
from solidarity_mailer.ledger.received_content import (
    ALREADY_RECEIVED,
    FREE,
    PG_CLAIM_LOCK,
    WAIT_SECONDS,
    WAITING,
    RunContent,
    claim_guard,
    run_content,
    skip_statement,
)
from solidarity_mailer.ledger.row_claims import INTERRUPTED

_SUPPRESSED = ("SELECT 1 FROM suppressions WHERE suppressions.address = deliveries.address"
               " AND suppressions.scope IN ('*', deliveries.list_id)")
_CLAIM = (
    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, message_id = :mid, updated_at = :now,"
    " worker = :worker, claimed_until = NULL"
    f" WHERE run_id = :run AND address = :addr AND state IN ('pending', 'deferred') AND {FREE}"
    f" AND NOT EXISTS ({_SUPPRESSED})"
)
_SKIP = (
    "UPDATE deliveries SET state = 'skipped', last_reply = 'suppressed', updated_at = :now, claimed_until = NULL"
    f" WHERE run_id = :run AND address = :addr AND state IN ('pending', 'deferred') AND {FREE}"
)
_WHY = "SELECT state, last_reply FROM deliveries WHERE run_id = :run AND address = :addr"
# A row of this worker in hand: ``sending``, or made ``uncertain`` meanwhile by another worker that judged this one
# dead (its lease ran out while the database was unreachable): its real outcome is recorded all the same.
_IN_HAND = (" WHERE run_id = :run AND address = :addr AND worker = :worker AND (state = 'sending'"
            " OR (state = 'uncertain' AND last_reply = :interrupted))")
_DONE = ("UPDATE deliveries SET state = :new, last_reply = :reply, updated_at = :now, next_attempt_at = :retry,"
         " sent_at = :sent, relay = :relay" + _IN_HAND)
_RELEASE = ("UPDATE deliveries SET state = 'pending', attempts = attempts - 1, last_reply = :reply, updated_at = :now"
            + _IN_HAND)
OUTCOMES = ("sent", "deferred", "failed", "uncertain")
_TIMES = ("now", "retry", "sent")


class _Statement:
    """A statement compiled once for the engine's dialect, executed on the DBAPI cursor (the hot path)."""

    def __init__(self, engine: Engine, sql: str) -> None:
        compiled = text(sql).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup  # positional paramstyles (SQLite's qmark); None for named ones
        self.to_db = DateTime(timezone=True).dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._last: tuple[Any, Any] = (None, None)  # the last timestamp converted (a batch shares its `now`)

    def _time(self, value: Any) -> Any:
        if value is None or self.to_db is None:
            return value
        if self._last[0] != value:
            self._last = (value, self.to_db(value))
        return self._last[1]

    def params(self, values: dict[str, object]) -> tuple[object, ...] | dict[str, object]:
        """``values`` in the driver's form: timestamps converted, in the statement's order when positional."""
        if self.order:  # one pass, no intermediate dict (this runs twice per message)
            if self.to_db is None:
                return tuple([values[k] for k in self.order])
            return tuple([self._time(values[k]) if k in _TIMES else values[k] for k in self.order])
        if self.to_db is not None:
            values = {k: (self._time(v) if k in _TIMES else v) for k, v in values.items()}
        return values


class Statements:
    """The four transitions for one engine; the claim guarded against content received in other runs unless
    the run has ``again`` (``ledger/received_content.py``)."""

    def __init__(self, engine: Engine, content: RunContent | None = None, worker: str = "") -> None:
        self.worker = worker
        self.guarded = content is not None and not content.again
        if self.guarded and (content is None or content.digest is None):
            raise ValueError("a guarded run needs its content digest recorded first")
        self.claim = _Statement(engine, _CLAIM + claim_guard() if self.guarded else _CLAIM)
        self.skip = _Statement(engine, skip_statement(_SUPPRESSED) if self.guarded else _SKIP)
        self.why = _Statement(engine, _WHY)
        self.lock = _Statement(engine, PG_CLAIM_LOCK) if self.guarded and engine.dialect.name == "postgresql" else None
        self.done, self.release = _Statement(engine, _DONE), _Statement(engine, _RELEASE)
        self.content = {"campaign": content.campaign_id, "digest": content.digest,
                        "received": f"{ALREADY_RECEIVED}run ", "waiting": WAITING} if self.guarded and content else {}

    def claim_row(self, cursor: DBAPICursor, run_id: int, address: str, message_id: str, now: dt.datetime) -> Claim:
        """In the caller's transaction: take the row, unless it is suppressed or already received (then it
        becomes ``skipped``) or another run is handing this content over to the address (then it waits)."""
        values = {"run": run_id, "addr": address, "mid": message_id, "now": now, "worker": self.worker,
                  **self.content}
        if self.lock is not None:
            cursor.execute(self.lock.sql, self.lock.params(values))
        cursor.execute(self.claim.sql, self.claim.params(values))
        if cursor.rowcount:
            return Claim.CLAIMED
        if self.guarded:
            values["retry"] = now + dt.timedelta(seconds=WAIT_SECONDS)
        cursor.execute(self.skip.sql, self.skip.params(values))
        if not cursor.rowcount:
            return Claim.TAKEN
        if not self.guarded:
            return Claim.SUPPRESSED
        cursor.execute(self.why.sql, self.why.params(values))
        state, reply = cursor.fetchone()
        if state == "deferred":
            return Claim.WAITING
        return Claim.SUPPRESSED if reply == "suppressed" else Claim.ALREADY_RECEIVED


def outcome_values(run_id: int, address: str, state: str, reply: str, now: dt.datetime,
                   retry_at: dt.datetime | None = None, relay: str | None = None) -> dict[str, object]:
    """The parameters of the ``done`` transition (``relay``: the SMTP relay's name, None when there is none)."""
    if state not in OUTCOMES:
        raise ValueError(state)
    return {"run": run_id, "addr": address, "new": state, "reply": reply[:2000], "now": now, "retry": retry_at,
            "sent": now if state == "sent" else None, "relay": relay}


class LedgerWriter:
    """The single writer of one run's delivery rows: one DBAPI connection, outcomes committed with the claims.

    :meth:`claim_many` runs in the caller's thread (the claim loop, which claims for all senders at once)
    and returns after its COMMIT. :meth:`outcome` and :meth:`release` only queue: they ride along with the
    next claims, or a background thread commits them within ``linger`` seconds when no claim comes (and
    :meth:`flush` does at once). A crash in between leaves those rows ``sending``, i.e. ``uncertain``: never
    lost, never silently resent. A write error is raised to the caller, and again by :meth:`flush` and
    :meth:`close`. When the disk fills, the writer gives up its :class:`DiskReserve` and records the outcomes in
    hand (never new claims) in the room that makes, and goes on recording outcomes (only) while it can.
    """

    def __init__(self, engine: Engine, run_id: int, *, worker: str = "", linger: float = 0.05) -> None:
        self.engine, self.run_id, self.linger = engine, run_id, linger
        self.statements = Statements(engine, run_content(engine, run_id), worker)
        self._outcomes: list[tuple[_Statement, dict[str, object]]] = []
        self._queue_lock = threading.Lock()  # guards _outcomes
        self._db_lock = threading.Lock()  # guards the connection
        self._raw: PoolProxiedConnection | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._linger, name=f"ledger-{run_id}", daemon=True)
        self.error: BaseException | None = None
        self.reserve = DiskReserve.beside(engine)
        self.unreachable = False  # the database went away: the outcomes wait in memory, the connection is dropped
        self._mine = {"worker": worker, "interrupted": INTERRUPTED}

    def start(self) -> LedgerWriter:
        """Hold the disk reserve, open the connection and start the background committer."""
        self.reserve.hold()
        self._raw = self.engine.raw_connection()
        self._thread.start()
        return self

    def claim_many(self, claims: list[tuple[str, str, dt.datetime]]) -> list[Claim]:
        """Commit rows ``(address, message_id, now)`` as ``sending`` (or ``skipped`` if suppressed) in one
        COMMIT; returns after it, the results in order."""
        return self._write(claims)

    def outcome(self, address: str, state: str, reply: str, now: dt.datetime,
                retry_at: dt.datetime | None = None, relay: str | None = None) -> None:
        """Queue a sent message's outcome (through ``relay``, if named) for the next commit."""
        values = {**outcome_values(self.run_id, address, state, reply, now, retry_at, relay), **self._mine}
        with self._queue_lock:
            self._outcomes.append((self.statements.done, values))

    def release(self, address: str, reply: str, now: dt.datetime) -> None:
        """Queue giving a ``sending`` row back (nothing was handed over; the attempt does not count)."""
        values = {"run": self.run_id, "addr": address, "reply": reply[:2000], "now": now, **self._mine}
        with self._queue_lock:
            self._outcomes.append((self.statements.release, values))

    def flush(self) -> None:
        """Return once everything queued so far is committed; re-raise a write error."""
        self._write([])

    def reconnect(self) -> None:
        """After an outage: drop the connection (it died with the server) and commit what waited, on a new one."""
        with self._db_lock:
            raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()
        self.flush()

    def close(self) -> None:
        """Commit what is queued, stop the background committer and close; re-raise a write error."""
        if self._thread.ident is None:  # never started
            return
        self._stop.set()
        self._thread.join()
        try:
            self.flush()
        finally:
            with self._db_lock:
                if self._raw is not None:
                    self._raw.close()

    def _linger(self) -> None:
        while not self._stop.wait(self.linger):
            if self._outcomes and self.error is None and not self.unreachable:  # (an outage: the feeder retries)
                try:
                    self._write([])
                except BaseException as exc:  # recorded in self.error: raised to the next caller
                    if not database_unreachable(exc):
                        return

    def _write(self, claims: list[tuple[str, str, dt.datetime]]) -> list[Claim]:
        with self._db_lock:
            if self.error is not None and (claims or not is_disk_full(self.error)):
                raise self.error  # after a full disk, outcomes are still tried: the reserve may have made room
            with self._queue_lock:
                outcomes, self._outcomes = self._outcomes, []
            if not outcomes and not claims:
                return []
            try:
                results = self._commit(outcomes, claims)
            except BaseException as exc:
                if database_unreachable(exc):
                    self._lost(outcomes)
                    raise
                if self.error is None and is_disk_full(exc) and self.reserve.give_up():
                    with contextlib.suppress(Exception):  # still no room: those rows stay `sending` (uncertain)
                        self._commit(outcomes, [])  # the outcomes in hand; the claims stay pending
                self.error = self.error or exc
                raise
            self.unreachable = False
            return results

    def _lost(self, outcomes: list[tuple[_Statement, dict[str, object]]]) -> None:
        """The database went away: the outcomes are kept (first) for the next commit, the connection dropped
        (the next commit opens another). Claims are not kept: their rows were never handed over."""
        with self._queue_lock:
            self._outcomes[:0] = outcomes
        raw, self._raw, self.unreachable = self._raw, None, True
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()

    def _commit(self, outcomes: list[tuple[_Statement, dict[str, object]]],
                claims: list[tuple[str, str, dt.datetime]]) -> list[Claim]:
        if self._raw is None:
            self._raw = self.engine.raw_connection()
        raw, st = self._raw, self.statements
        try:
            cursor = raw.cursor()
            try:
                for stmt, values in outcomes:  # outcomes first: a retried row's outcome precedes its claim
                    cursor.execute(stmt.sql, stmt.params(values))
                results = [st.claim_row(cursor, self.run_id, *claim) for claim in claims]
            finally:
                cursor.close()
            raw.commit()
        except BaseException as exc:
            if not database_unreachable(exc):  # (else the connection, and its transaction, are gone)
                raw.rollback()
            raise
        return results
