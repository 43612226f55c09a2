"""Firing a ``--recipient-time`` schedule: one run per zone's batch, at that zone's instant.

When the schedule falls due, its lists are read again and its plan refreshed (schedule/zone_plan.py): a
recipient added to a zone since joins that zone's batch, a zone new to the lists becomes a batch of its own.
Then every planned batch whose instant has come:

- fires when it is at most the schedule's grace period late: a run of its own (``fire_key``
  ``sched:{id}:{instant}:{zone}``, ``runs.zone``), sending to the recipients of that zone as the lists are when
  it starts (those without a zone: the schedule's zone);
- else is recorded as a ``missed`` run with a note saying why (``resume run ID`` sends it late, on purpose).
  So a zone that first appears after its instant went by is sent at once within the grace period, else
  recorded missed: never dropped silently.

A recipient added to a zone whose batch has fired joins it when a later batch of the schedule fires within the
grace period of that zone's instant (its run is taken up again; who received the content is never sent it
twice, ``ledger/received_content.py``). Later than that, or once every batch has fired, they are not part of
this schedule, as after any finished mailing; the daemon logs how many. The schedule's next firing is its
earliest planned batch; with none left it is ``done``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from solidarity_mailer.campaign import load_campaign
from solidarity_mailer.clock import duration
from solidarity_mailer.deliver.prepare import lists_for
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import runs
from solidarity_mailer.schedule.due_runs import Fired, advance
from solidarity_mailer.schedule.schedules import Schedule, fire_key
from solidarity_mailer.schedule.zone_plan import (
    Batch,
    batches_for,
    dump_plan,
    load_plan,
    next_instant,
    parse_wall_time,
    refresh,
    zone_counts,
)

log = logging.getLogger(__name__)


def batch_key(schedule_id: int, batch: Batch) -> str:
    """The unique key of one zone's batch: ``sched:{id}:{UTC instant}:{zone}``."""
    return f"{fire_key(schedule_id, batch.at)}:{batch.zone}"


def _record_missed(engine: Engine, sched: Schedule, batch: Batch, now: dt.datetime) -> int | None:
    note = (f"missed: the batch of {batch.zone} was {duration((now - batch.at).total_seconds())} late, beyond the "
            f"grace period of {sched.grace_seconds} s; `solidarity-mailer resume run ID` sends it late")
    values = {
        "campaign_id": sched.campaign_id, "schedule_id": sched.id, "fire_key": batch_key(sched.id, batch),
        "scheduled_for": batch.at, "lists": json.dumps(list(sched.lists)), "state": "missed", "note": note,
        "created_at": now, "again": sched.again, "zone": batch.zone,
    }
    try:
        with engine.begin() as conn:
            return int(conn.execute(runs.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:  # another daemon recorded (or fired) this batch first
        return None


def _fire(engine: Engine, sched: Schedule, batch: Batch, now: dt.datetime) -> int:
    return ledger.open_run(engine, sched.campaign_id, batch_key(sched.id, batch), lists=sched.lists,
                           schedule_id=sched.id, scheduled_for=batch.at, now=now, again=sched.again,
                           zone=batch.zone)


def _rejoin(engine: Engine, sched: Schedule, batch: Batch, count: int, now: dt.datetime) -> int | None:
    """A fired batch whose zone has recipients its run lacks: its run taken up again within the grace period
    (the run id), else logged."""
    if batch.run is None or count <= sum(ledger.counts(engine, batch.run).values()):
        return None
    if (now - batch.at).total_seconds() > sched.grace_seconds:
        log.warning("schedule %d: recipients added to %s after its batch (run %d) went out, beyond the grace "
                    "period: not sent by this schedule", sched.id, batch.zone, batch.run)
        return None
    if ledger.set_run_state(engine, batch.run, "pending", now=now, only_from=("finished",),
                            note=f"taken up again at {now:%Y-%m-%d %H:%M:%S} UTC: recipients joined {batch.zone}"):
        return batch.run
    return None


def fire_batches(engine: Engine, sched: Schedule, now: dt.datetime) -> Fired:
    """Fire (or record missed) every batch of ``sched`` due at ``now``; the plan and next firing updated."""
    result = Fired()
    start = sched.next_fire_at
    if sched.state != "active" or start is None or start > now:
        return result
    counts = _counts_now(engine, sched)
    plan = refresh(load_plan(sched.plan), batches_for(parse_wall_time(sched.spec), counts))
    for i, batch in enumerate(plan):
        if batch.at > now:
            continue
        if batch.state == "fired" and (run_id := _rejoin(engine, sched, batch, counts[batch.zone], now)):
            result.fired.append(run_id)
        elif batch.state == "planned" and (now - batch.at).total_seconds() <= sched.grace_seconds:
            run_id = _fire(engine, sched, batch, now)
            plan[i] = replace(batch, state="fired", run=run_id)
            result.fired.append(run_id)
        elif batch.state == "planned":
            missed = _record_missed(engine, sched, batch, now)
            plan[i] = replace(batch, state="missed", run=missed)
            if missed is not None:
                result.missed.append(missed)
    nxt = next_instant(plan)
    advance(engine, sched.id, start, nxt, now, plan=dump_plan(plan))
    return result


def _counts_now(engine: Engine, sched: Schedule) -> Counter[str]:
    """Each zone's recipients in the schedule's lists (``--list``, else its campaign's) as they are now; the
    stored plan's counts when they cannot be read (the batches' runs then say why)."""
    try:
        campaign = load_campaign(Path(ledger.campaign_path(engine, sched.campaign_id)))
        return zone_counts(engine, lists_for(campaign, sched.lists), sched.timezone, strict=False)
    except MailerError as exc:
        log.warning("schedule %d: the lists cannot be read (%s); firing the stored plan", sched.id, exc.line())
        return Counter({b.zone: b.recipients for b in load_plan(sched.plan)})
