"""The statements of a delivery row's transitions (claimed ``sending``, its outcome, given back), compiled once for
the engine's dialect and run on the DBAPI cursor by the writer (``ledger/writer.py``): SQLAlchemy's per-statement
overhead was most of the ledger's cost.

A claim is a guarded ``UPDATE … WHERE state IN ('pending','deferred')``: only the rows it changed are this
process's. The rows of one COMMIT are claimed by ONE such statement (``UPDATE … FROM (VALUES …) … RETURNING``,
SQLite 3.35+ and PostgreSQL alike): one statement a message cost ~15 µs more a message
(``bench/send_cpu_bench.py``). It takes only rows that already hold the Message-ID asked for (written at enqueue,
``ledger/queries.enqueue``) and does not write that column: writing it moved an entry of the Message-ID index to a
random place, ~30 µs a message of SQLite's work and WAL pages (``bench/RESULTS.md``). A row it did not take
(suppressed, received in another run, held by another worker, or holding another Message-ID: an older ledger's
``''``, a changed secret) is looked at alone, as before, and the claim alone writes its Message-ID.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor

from solidarity_mailer.ledger.compiled import Statement
from solidarity_mailer.ledger.queries import Claim
from solidarity_mailer.ledger.received_content import (
    ALREADY_RECEIVED,
    FREE,
    PG_CLAIM_LOCK,
    WAIT_SECONDS,
    WAITING,
    RunContent,
    claim_guard,
    skip_statement,
)

_SUPPRESSED = ("SELECT 1 FROM suppressions WHERE suppressions.address = deliveries.address"
               " AND suppressions.scope IN ('*', deliveries.list_id)")
_TAKE = (
    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1,{mid} updated_at = :now,"
    " worker = :worker, claimed_until = NULL{source}"
    " WHERE deliveries.run_id = :run AND deliveries.address = {addr} AND deliveries.state IN ('pending', 'deferred')"
    f" AND {FREE} AND NOT EXISTS ({_SUPPRESSED}){{same_id}}"
)
_CLAIM = _TAKE.format(mid=" message_id = :mid,", source="", addr=":addr", same_id="")
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
_BATCHES_KEPT = 64  # claim statements compiled per batch size (a COMMIT claims at most a few dozen rows)


class Statements:
    """The transitions for one engine; the claim guarded against content received in other runs unless
    the run has ``again`` (``ledger/received_content.py``)."""

    def __init__(self, engine: Engine, content: RunContent | None = None, worker: str = "") -> None:
        self.engine, self.worker = engine, worker
        self.guarded = content is not None and not content.again
        if self.guarded and (content is None or content.digest is None):
            raise ValueError("a guarded run needs its content digest recorded first")
        self.guard = claim_guard() if self.guarded else ""
        self.claim = Statement(engine, _CLAIM + self.guard)
        self._batches: dict[int, Statement] = {}
        self.batched = engine.dialect.name != "sqlite" or sqlite3.sqlite_version_info >= (3, 35)  # (RETURNING)
        self.skip = Statement(engine, skip_statement(_SUPPRESSED) if self.guarded else _SKIP)
        self.why = Statement(engine, _WHY)
        self.lock = Statement(engine, PG_CLAIM_LOCK) if self.guarded and engine.dialect.name == "postgresql" else None
        self.done, self.release = Statement(engine, _DONE), Statement(engine, _RELEASE)
        self.content = {"campaign": content.campaign_id, "digest": content.digest,
                        "received": f"{ALREADY_RECEIVED}run ", "waiting": WAITING} if self.guarded and content else {}

    def _batch(self, size: int) -> Statement:
        """The claim of ``size`` rows in one statement (``:a0``/``:m0``… address and message id of each)."""
        stmt = self._batches.get(size)
        if stmt is None:
            rows = ", ".join(f"(:a{i}, :m{i})" for i in range(size))
            sql = _TAKE.format(mid="", source=f" FROM (VALUES {rows}) AS batch", addr="batch.column1",
                               same_id=" AND deliveries.message_id = batch.column2")
            stmt = Statement(self.engine, f"{sql}{self.guard} RETURNING deliveries.address")
            if len(self._batches) < _BATCHES_KEPT:
                self._batches[size] = stmt
        return stmt

    def claim_rows(self, cursor: DBAPICursor, run_id: int, claims: list[tuple[str, str, dt.datetime]]) -> list[Claim]:
        """In the caller's transaction: :meth:`claim_row` of each ``(address, message_id, now)``, the rows taken by
        one statement; the results in order."""
        now = claims[0][2] if claims else None
        if (len(claims) < 2 or not self.batched or any(c[2] != now for c in claims)
                or len({c[0] for c in claims}) < len(claims)):  # (an address twice: its message id is not sure)
            return [self.claim_row(cursor, run_id, *claim) for claim in claims]
        if self.lock is not None:  # each address's lock first, in order, as when claimed alone
            for address, _, _ in claims:
                cursor.execute(self.lock.sql, self.lock.params({"addr": address, **self.content}))
        values: dict[str, object] = {"run": run_id, "now": now, "worker": self.worker, **self.content}
        for i, (address, message_id, _) in enumerate(claims):
            values[f"a{i}"], values[f"m{i}"] = address, message_id
        stmt = self._batch(len(claims))
        cursor.execute(stmt.sql, stmt.params(values))
        taken = {row[0] for row in cursor.fetchall()}
        return [Claim.CLAIMED if address in taken else self.claim_row(cursor, run_id, address, message_id, now)
                for address, message_id, _ in claims]

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
