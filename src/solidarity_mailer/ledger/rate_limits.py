"""Rate limits shared by every worker through the ledger: ``rate_limits`` and ``rate_limit_grants``.

A limit is named by its key: ``delivery`` (``[delivery] per_second`` / ``per_hour``: every run sent from this
ledger) or ``relay:NAME`` (one relay's own limits, whichever run or campaign uses it). Its per-second part is a
schedule of slots (GCRA): ``rate_limits.next_slot`` is the earliest time (clock seconds) the next message may go.
:func:`reserve` grants a worker ``count`` slots, ``spacing`` apart, from ``max(next_slot, now)`` and moves
``next_slot`` past them, in one transaction that holds the row (PostgreSQL's row lock, SQLite's write lock): no
two workers get the same slot, so however many workers send, the slots stay ``spacing`` apart. Its per-hour part
counts the slots granted in ``rate_limit_grants``, one row per (key, second), and grants no more than the last
hour has room for. Slots granted but never used (a worker stopped) lapse: they only ever make sending slower.
The state lives in the ledger, so a restart keeps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from solidarity_mailer.ledger.schema import rate_limit_grants, rate_limits

HOUR = 3600.0
MIN_HORIZON = 60.0  # a next slot further ahead than this (and 100 spacings) comes from a clock set back: reset


@dataclass(frozen=True)
class Grant:
    """Slots granted: ``count`` from ``start`` (clock seconds), or none (``count`` 0) for ``wait`` seconds."""

    start: float
    count: int
    wait: float = 0.0


def horizon(spacing: float) -> float:
    """How far ahead of the clock a limit's next slot may legitimately be (the slots other workers hold)."""
    return max(MIN_HORIZON, 100.0 * spacing)


def reserve(engine: Engine, key: str, *, spacing: float, per_hour: int, want: int, now: float) -> Grant:
    """Grant up to ``want`` slots of limit ``key`` (``spacing`` seconds apart; at most ``per_hour`` granted in
    any hour, 0: no hourly part) at clock time ``now``."""
    with engine.begin() as conn:
        next_slot = _hold(conn, key, now)
        ahead = horizon(spacing)
        start = max(next_slot, now) if next_slot <= now + ahead else now  # (a clock set back: start over)
        count = want
        if per_hour:
            used, oldest = _granted(conn, key, now, ahead)
            count = min(want, per_hour - used)
            if count <= 0:
                return Grant(start, 0, max(oldest + HOUR - now, 0.001))
        conn.execute(update(rate_limits).where(rate_limits.c.key == key).values(next_slot=start + count * spacing))
        if per_hour:
            _record(conn, key, math.floor(start + (count - 1) * spacing) + 1, count)
    return Grant(start, count)


def _hold(conn: Connection, key: str, now: float) -> float:
    """The limit's next slot, its row held until the transaction ends (made at ``now`` if it is new)."""
    hold = (update(rate_limits).where(rate_limits.c.key == key).values(next_slot=rate_limits.c.next_slot)
            .returning(rate_limits.c.next_slot))  # an UPDATE first: SQLite's write lock, PostgreSQL's row lock
    found = conn.execute(hold).scalar()
    if found is None:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(rate_limits).values(key=key, next_slot=now).on_conflict_do_nothing())
        found = conn.execute(hold).scalar_one()
    return float(found)


def _granted(conn: Connection, key: str, now: float, ahead: float) -> tuple[int, float]:
    """Slots of ``key`` that count in the hour before ``now`` and the second the oldest of them counts until;
    grants out of date (or from a clock since set back) are deleted."""
    since, until = math.floor(now - HOUR), math.floor(now + ahead) + 1
    conn.execute(delete(rate_limit_grants).where(
        rate_limit_grants.c.key == key, or_(rate_limit_grants.c.second <= since, rate_limit_grants.c.second > until)))
    used, oldest = conn.execute(select(func.coalesce(func.sum(rate_limit_grants.c.count), 0),
                                       func.min(rate_limit_grants.c.second))
                                .where(rate_limit_grants.c.key == key, rate_limit_grants.c.second > now - HOUR)).one()
    return int(used), float(oldest if oldest is not None else now)


def _record(conn: Connection, key: str, second: int, count: int) -> None:
    """Count ``count`` slots granted until ``second`` (a second past the last of them)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(rate_limit_grants).values(key=key, second=second, count=count)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key", "second"],
                                            set_={"count": rate_limit_grants.c.count + stmt.excluded.count}))
