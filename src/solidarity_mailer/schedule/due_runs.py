"""Turning due occurrences of a schedule into runs, with our own misfire rule.

Called by the daemon when APScheduler wakes it for an occurrence, and by its sync loop for any
schedule whose stored next firing is in the past (the daemon was down, the machine slept). For each
occurrence ``t <= now`` since the stored next firing:

- the latest one with ``now - t <= grace`` fires: one run, ``fire_key = sched:{id}:{t}``;
- every other one is recorded as a run in state ``missed`` whose note says why (too late for the grace
  period, or coalesced into a later firing). Nothing is dropped silently; ``resume run ID`` sends a
  missed firing late on purpose.

Then the schedule's next firing moves to the first occurrence after ``now`` (a one-off becomes ``done``).
The fire key is unique, so two daemons processing the same occurrence produce one run between them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError

from solidarity_mailer.clock import duration
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import runs, schedules
from solidarity_mailer.schedule.schedules import Schedule, fire_key, get_schedule

#: At most this many missed occurrences are recorded one by one after a long outage; the last recorded
#: note then counts the rest (up to :data:`MAX_COUNTED`, beyond which it says "more than").
MAX_RECORDED_MISSES = 100
MAX_COUNTED = 10_000


@dataclass
class Fired:
    """What processing one schedule did."""

    fired: list[int] = field(default_factory=list)  # run ids to dispatch
    missed: list[int] = field(default_factory=list)  # run ids recorded as missed


def _record_missed(engine: Engine, sched: Schedule, instant: dt.datetime, note: str, now: dt.datetime) -> int | None:
    values = {
        "campaign_id": sched.campaign_id, "schedule_id": sched.id, "fire_key": fire_key(sched.id, instant),
        "scheduled_for": instant, "lists": json.dumps(list(sched.lists)), "state": "missed", "note": note,
        "created_at": now,
    }
    try:
        with engine.begin() as conn:
            return int(conn.execute(runs.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:  # another daemon recorded (or fired) this occurrence first
        return None


def _latest_in_grace(sched: Schedule, start: dt.datetime, now: dt.datetime,
                     grace: dt.timedelta) -> dt.datetime | None:
    """The latest occurrence in ``[max(start, now - grace), now]``, found without walking the whole outage."""
    rec = sched.recurrence
    window = now - grace
    t: dt.datetime | None = start if start >= window else rec.next_after(window - dt.timedelta(microseconds=1))
    chosen = None
    while t is not None and t <= now:
        chosen = t
        t = rec.next_after(t)
    return chosen


def _misses(sched: Schedule, start: dt.datetime, now: dt.datetime,
            chosen: dt.datetime | None) -> tuple[list[dt.datetime], int]:
    """The first :data:`MAX_RECORDED_MISSES` due occurrences other than ``chosen``, and how many more
    there are (counted up to just past :data:`MAX_COUNTED`)."""
    rec = sched.recurrence
    recorded: list[dt.datetime] = []
    overflow = 0
    t: dt.datetime | None = start
    while t is not None and t <= now and overflow <= MAX_COUNTED:
        if t != chosen:
            if len(recorded) < MAX_RECORDED_MISSES:
                recorded.append(t)
            else:
                overflow += 1
        t = rec.next_after(t)
    return recorded, overflow


def process_due(engine: Engine, schedule_id: int, now: dt.datetime) -> Fired:
    """Fire or record every occurrence of the schedule due at ``now``; returns the runs created."""
    result = Fired()
    sched = get_schedule(engine, schedule_id)
    if sched.kind == "local":  # --recipient-time: one batch per zone
        from solidarity_mailer.schedule.zone_batches import fire_batches

        return fire_batches(engine, sched, now)
    start = sched.next_fire_at
    if sched.state != "active" or start is None or start > now:
        return result
    rec = sched.recurrence
    grace = dt.timedelta(seconds=sched.grace_seconds)
    chosen = _latest_in_grace(sched, start, now, grace)
    recorded, overflow = _misses(sched, start, now, chosen)
    nxt = rec.next_after(now)
    for t in recorded:
        if chosen is not None and t < chosen and now - t <= grace:
            note = f"coalesced into the firing at {chosen:%Y-%m-%d %H:%M:%S} UTC"
        else:
            note = (f"missed: {duration((now - t).total_seconds())} late, beyond the grace period of "
                    f"{sched.grace_seconds} s (the daemon was not running)")
        if overflow and t == recorded[-1]:
            more = f"more than {MAX_COUNTED}" if overflow > MAX_COUNTED else str(overflow)
            note += (f"; {more} later occurrence(s) until {now:%Y-%m-%d %H:%M} UTC were not run either "
                     "(not recorded one by one)")
        run_id = _record_missed(engine, sched, t, note, now)
        if run_id is not None:
            result.missed.append(run_id)
    if chosen is not None:
        run_id = ledger.open_run(engine, sched.campaign_id, fire_key(sched.id, chosen), lists=sched.lists,
                                 schedule_id=sched.id, scheduled_for=chosen, now=now, again=sched.again)
        result.fired.append(run_id)
    advance(engine, sched.id, start, nxt, now)
    return result


def advance(engine: Engine, schedule_id: int, start: dt.datetime | None, nxt: dt.datetime | None,
            now: dt.datetime, **more: object) -> None:
    """Move an active schedule from its firing ``start`` to ``nxt`` (``done`` when None), with ``more`` columns;
    nothing when another process moved it first (compare-and-set on ``next_fire_at``)."""
    values: dict[str, object] = {"next_fire_at": nxt, "updated_at": now, **more}
    if nxt is None:
        values["state"] = "done"
    stmt = update(schedules).where(schedules.c.id == schedule_id, schedules.c.next_fire_at == start,
                                   schedules.c.state == "active")
    with engine.begin() as conn:
        conn.execute(stmt.values(**values))
