"""Rows held until a send window opens, and runs waiting for one.

A row whose recipient's window is closed keeps its state (``pending`` or ``deferred``) and gets
``deliveries.not_before``: no query of due rows (``ledger/queries.py``) offers it before that instant. When
nothing else is left, the run stops with ``runs.resume_at`` set to the earliest opening; the daemon takes such
a run up again only then (:func:`waiting_until`), ``send`` waits for it in the foreground.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Engine, bindparam, func, or_, select, update

from solidarity_mailer.ledger.schema import aware, deliveries, runs, schedules


def hold(engine: Engine, run_id: int, until: Mapping[str, dt.datetime], *, now: dt.datetime) -> int:
    """Hold the run's rows ``until`` (address → the instant their window opens); returns how many."""
    if not until:
        return 0
    stmt = (update(deliveries)
            .where(deliveries.c.run_id == run_id, deliveries.c.address == bindparam("addr"),
                   or_(deliveries.c.state == "pending", deliveries.c.state == "deferred"))
            .values(not_before=bindparam("opens"), updated_at=now, claimed_until=None))
    with engine.begin() as conn:
        result = conn.execute(stmt, [{"addr": a, "opens": t} for a, t in until.items()])
    return max(int(result.rowcount), 0)


def next_opening(engine: Engine, run_id: int, *, now: dt.datetime) -> tuple[dt.datetime | None, int]:
    """The earliest instant a held row of the run may go, and how many rows are held past ``now``."""
    stmt = select(func.min(deliveries.c.not_before), func.count()).where(
        deliveries.c.run_id == run_id, deliveries.c.state.in_(["pending", "deferred"]),
        deliveries.c.not_before > now)
    with engine.connect() as conn:
        first, held = conn.execute(stmt).one()
    return aware(first), int(held)


def wait_for_window(engine: Engine, run_id: int, until: dt.datetime, *, note: str) -> None:
    """The run (stopped, ``pending``) waits for a send window until ``until``."""
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(resume_at=until, note=note))


def waiting_until(engine: Engine, run_id: int) -> dt.datetime | None:
    """When the run's send window opens, if it waits for one."""
    with engine.connect() as conn:
        return aware(conn.execute(select(runs.c.resume_at).where(runs.c.id == run_id)).scalar_one_or_none())


def schedule_zone(engine: Engine, schedule_id: int | None) -> str | None:
    """The zone of the schedule that made a run (None for a run made by ``send``)."""
    if schedule_id is None:
        return None
    with engine.connect() as conn:
        found = conn.execute(select(schedules.c.timezone).where(schedules.c.id == schedule_id)).scalar_one_or_none()
    return str(found) if found is not None else None
