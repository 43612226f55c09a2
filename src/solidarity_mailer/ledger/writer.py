"""Delivery state transitions, written on one connection with group commit.

The rule stays: a row is committed as ``sending`` BEFORE its message is handed over — ``claim_many``
returns only after the COMMIT. Outcomes (``sent``, ``deferred``, ``failed``, ``uncertain``) are queued
and committed together with the next claims, a few milliseconds later: if the process dies in between,
the row is still ``sending`` and becomes ``uncertain`` (maybe delivered), never lost and never silently
resent. When the PostgreSQL server goes away, the outcomes stay queued in memory and are committed on a new
connection once it is back (:meth:`LedgerWriter.reconnect`). One connection and, under load, less than one
transaction per message; the statements are ``ledger/transitions.py``'s, the claims of a COMMIT one statement and
its outcomes of each kind one ``executemany``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from itertools import groupby

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from solidarity_mailer.ledger.compiled import Statement
from solidarity_mailer.ledger.disk_reserve import DiskReserve
from solidarity_mailer.ledger.full import is_disk_full
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.reachability import database_unreachable
from solidarity_mailer.ledger.received_content import run_content
from solidarity_mailer.ledger.row_claims import INTERRUPTED
from solidarity_mailer.ledger.transitions import Statements, outcome_values


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
        self._outcomes: list[tuple[Statement, dict[str, object]]] = []
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

    def _lost(self, outcomes: list[tuple[Statement, dict[str, object]]]) -> None:
        """The database went away: the outcomes are kept (first) for the next commit, the connection dropped
        (the next commit opens another). Claims are not kept: their rows were never handed over."""
        with self._queue_lock:
            self._outcomes[:0] = outcomes
        raw, self._raw, self.unreachable = self._raw, None, True
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()

    def _commit(self, outcomes: list[tuple[Statement, dict[str, object]]],
                claims: list[tuple[str, str, dt.datetime]]) -> list[Claim]:
        if self._raw is None:
            self._raw = self.engine.raw_connection()
        raw, st = self._raw, self.statements
        try:
            cursor = raw.cursor()
            try:
                # outcomes first (a retried row's outcome precedes its claim), in order, each run of one kind at once
                for stmt, run in groupby(outcomes, key=lambda outcome: outcome[0]):
                    cursor.executemany(stmt.sql, [stmt.params(values) for _, values in run])
                results = st.claim_rows(cursor, self.run_id, claims)
            finally:
                cursor.close()
            raw.commit()
        except BaseException as exc:
            if not database_unreachable(exc):  # (else the connection, and its transaction, are gone)
                raw.rollback()
            raise
        return results
