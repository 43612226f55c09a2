"""Delivery state transitions, written by one thread with group commit.

The rule stays: a row is committed as ``sending`` BEFORE its message is handed over — ``claim``
returns only after the COMMIT. Outcomes (``sent``, ``deferred``, ``failed``, ``uncertain``) are queued
and committed together with the next claims, a few milliseconds later: if the process dies in between,
the row is still ``sending`` and becomes ``uncertain`` (maybe delivered), never lost and never silently
resent. One connection and, under load, less than one transaction per message. The four statements
are compiled once for the engine's dialect and run on the DBAPI cursor (SQLAlchemy's per-statement
overhead was most of the ledger's cost). Each claim is a guarded ``UPDATE … WHERE state IN
('pending','deferred')`` whose row count tells whether this process owns the row.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import DateTime, Engine, text

from .ledger import Claim

_CLAIM = (
    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, message_id = :mid, updated_at = :now"
    " WHERE run_id = :run AND address = :addr AND state IN ('pending', 'deferred') AND NOT EXISTS ("
    "SELECT 1 FROM suppressions WHERE suppressions.address = deliveries.address"
    " AND suppressions.scope IN ('*', deliveries.list_id))"
)
_SKIP = (
    "UPDATE deliveries SET state = 'skipped', last_reply = 'suppressed', updated_at = :now"
    " WHERE run_id = :run AND address = :addr AND state IN ('pending', 'deferred')"
)
_DONE = (
    "UPDATE deliveries SET state = :new, last_reply = :reply, updated_at = :now, next_attempt_at = :retry,"
    " sent_at = :sent WHERE run_id = :run AND address = :addr AND state = 'sending'"
)
_RELEASE = (
    "UPDATE deliveries SET state = 'pending', attempts = attempts - 1, last_reply = :reply, updated_at = :now"
    " WHERE run_id = :run AND address = :addr AND state = 'sending'"
)
OUTCOMES = ("sent", "deferred", "failed", "uncertain")
_TIMES = ("now", "retry", "sent")


class _Statement:
    """A statement compiled once for the engine's dialect, executed on the DBAPI cursor (the hot path)."""

    def __init__(self, engine: Engine, sql: str) -> None:
        compiled = text(sql).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup  # positional paramstyles (SQLite's qmark); None for named ones
        self.to_db = DateTime(timezone=True).dialect_impl(engine.dialect).bind_processor(engine.dialect)

    def params(self, values: dict[str, Any]) -> Any:
        if self.to_db is not None:
            values = {k: (self.to_db(v) if k in _TIMES and v is not None else v) for k, v in values.items()}
        return tuple(values[k] for k in self.order) if self.order else values


class Statements:
    """The four transitions for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.claim, self.skip = _Statement(engine, _CLAIM), _Statement(engine, _SKIP)
        self.done, self.release = _Statement(engine, _DONE), _Statement(engine, _RELEASE)

    def claim_row(self, cursor: Any, run_id: int, address: str, message_id: str, now: dt.datetime) -> Claim:
        """In the caller's transaction: take the row (unless suppressed: then it becomes ``skipped``)."""
        values = {"run": run_id, "addr": address, "mid": message_id, "now": now}
        cursor.execute(self.claim.sql, self.claim.params(values))
        if cursor.rowcount:
            return Claim.CLAIMED
        cursor.execute(self.skip.sql, self.skip.params(values))
        return Claim.SUPPRESSED if cursor.rowcount else Claim.TAKEN


def outcome_values(run_id: int, address: str, state: str, reply: str, now: dt.datetime,
                   retry_at: dt.datetime | None = None) -> dict[str, Any]:
    """The parameters of the ``done`` transition."""
    if state not in OUTCOMES:
        raise ValueError(state)
    return {"run": run_id, "addr": address, "new": state, "reply": reply[:2000], "now": now, "retry": retry_at,
            "sent": now if state == "sent" else None}


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Request:
    """A claim (or, with ``address`` None, a flush) waiting for the writer's next COMMIT."""

    address: str | None = None
    message_id: str = ""
    now: dt.datetime | None = None
    done: threading.Lock = field(default_factory=_held_lock)  # released once committed (cheaper than an Event)
    result: Claim | None = None
    error: BaseException | None = None


_STOP = _Request()


class LedgerWriter:
    """The single writer of one run's delivery rows: a thread with one DBAPI connection and group commit.

    Claims from all sender threads that arrive together share one transaction; :meth:`claim` returns
    after its COMMIT. :meth:`outcome` only queues: outcomes ride along with the next claims, or are
    committed within ``linger`` seconds when no claim comes (and on :meth:`flush`). A crash in between
    leaves those rows ``sending``, i.e. ``uncertain``: never lost, never silently resent.
    """

    def __init__(self, engine: Engine, run_id: int, *, max_batch: int = 256, linger: float = 0.05) -> None:
        self.engine, self.run_id, self.max_batch, self.linger = engine, run_id, max_batch, linger
        self.statements = Statements(engine)
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._outcomes: list[tuple[_Statement, dict[str, Any]]] = []
        self._lock = threading.Lock()  # guards _outcomes
        self._thread = threading.Thread(target=self._loop, name=f"ledger-{run_id}", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> LedgerWriter:
        """Start the writer thread."""
        self._thread.start()
        return self

    def _wait(self, request: _Request) -> _Request:
        self._requests.put(request)
        request.done.acquire()
        if request.error is not None:
            raise request.error
        return request

    def claim(self, address: str, message_id: str, now: dt.datetime) -> Claim:
        """Commit the row as ``sending`` (or ``skipped`` if suppressed); returns after the COMMIT."""
        result = self._wait(_Request(address, message_id, now)).result
        assert result is not None
        return result

    def outcome(self, address: str, state: str, reply: str, now: dt.datetime,
                retry_at: dt.datetime | None = None) -> None:
        """Queue a hand-over's outcome for the next commit."""
        values = outcome_values(self.run_id, address, state, reply, now, retry_at)
        with self._lock:
            self._outcomes.append((self.statements.done, values))

    def release(self, address: str, reply: str, now: dt.datetime) -> None:
        """Queue giving a ``sending`` row back (nothing was handed over; the attempt does not count)."""
        values = {"run": self.run_id, "addr": address, "reply": reply[:2000], "now": now}
        with self._lock:
            self._outcomes.append((self.statements.release, values))

    def flush(self) -> None:
        """Return once everything queued so far is committed; re-raise a write error."""
        self._wait(_Request())

    def close(self) -> None:
        """Commit what is queued and stop the thread; re-raise a write error."""
        if self._thread.is_alive():
            self._requests.put(_STOP)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        raw = self.engine.raw_connection()
        try:
            while True:
                try:
                    batch = [self._requests.get(timeout=self.linger)]
                except queue.Empty:
                    batch = []
                while batch and len(batch) < self.max_batch:
                    try:
                        batch.append(self._requests.get_nowait())
                    except queue.Empty:
                        break
                with self._lock:
                    outcomes, self._outcomes = self._outcomes, []
                if outcomes or batch:
                    self._write(raw, outcomes, batch)
                for request in batch:
                    if request is not _STOP:  # nobody waits for it (and it is shared by every writer)
                        request.done.release()
                if any(request is _STOP for request in batch):
                    return
        finally:
            raw.close()

    def _write(self, raw: Any, outcomes: list[tuple[_Statement, dict[str, Any]]], batch: list[_Request]) -> None:
        st = self.statements
        try:
            cursor = raw.cursor()
            try:
                for stmt, values in outcomes:  # outcomes first: a retried row's outcome precedes its claim
                    cursor.execute(stmt.sql, stmt.params(values))
                for r in batch:
                    if r.address is not None:
                        r.result = st.claim_row(cursor, self.run_id, r.address, r.message_id, r.now)  # type: ignore[arg-type]
            finally:
                cursor.close()
            raw.commit()
        except BaseException as exc:
            raw.rollback()
            self.error = self.error or exc
            for r in batch:
                r.error = exc
