"""``schedule CAMPAIGN --at 'YYYY-MM-DD HH:MM' --recipient-time``: each recipient at that wall-clock time in
their own zone, as one batch per zone (schedule/zone_plan.py; fired by schedule/zone_batches.py).

The schedule's kind is ``local``, its ``spec`` the wall-clock time, its zone the one of recipients without a
``tz`` (``--tz``, else ``[scheduler] timezone``, else the machine's), its next firing the earliest planned
batch. A time whose earliest zone's instant is past is refused, naming that zone, unless ``late`` says what to
do with the zones already past: ``skip`` leaves their recipients out (returned, to be listed), ``now`` sends
them at once.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.config import SchedulerSettings
from solidarity_mailer.deliver.prepare import lists_for
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import schedules
from solidarity_mailer.schedule.recurrence import default_zone, zone
from solidarity_mailer.schedule.schedules import Schedule, check_zone_option, default_grace, get_schedule
from solidarity_mailer.schedule.zone_plan import (
    Batch,
    batches_for,
    dump_plan,
    next_instant,
    parse_wall_time,
    utc_text,
    zone_counts,
)

KIND = "local"
LATE_CHOICES = ("skip", "now")
LATE_HINT = ("pick a later time, or add --late skip (leave the recipients of zones already past out) or "
             "--late now (send them at once)")


def _late(batches: list[Batch], at: str, late: str | None, now: dt.datetime) -> list[Batch]:
    """The plan with the batches already past skipped or moved to ``now``, as ``late`` says (else refused)."""
    past = [b for b in batches if b.at <= now]
    if not past:
        return batches
    if late is None:
        first = past[0]
        raise MailerError(f"{at} in {first.zone} is already past ({utc_text(first.at)}; it is now {utc_text(now)})",
                          hint=LATE_HINT)
    if late == "skip":
        batches = [replace(b, state="skipped") if b.at <= now else b for b in batches]
        if all(b.state == "skipped" for b in batches):
            raise MailerError(f"{at} is already past in every zone of the recipients", hint="pick a later time")
        return batches
    return sorted((replace(b, at=now.replace(microsecond=0)) if b.at <= now else b for b in batches),
                  key=lambda b: (b.at, b.zone))


def schedule_recipient_time(
    engine: Engine, campaign: Campaign, configured: SchedulerSettings, *, at: str, tz: str | None = None,
    lists: tuple[Path, ...] = (), grace_seconds: int | None = None, now: dt.datetime, again: bool = False,
    late: str | None = None,
) -> tuple[Schedule, list[Batch]]:
    """Schedule ``campaign`` at wall-clock ``at`` in each recipient's zone; the schedule and the batches left
    out (``late="skip"``)."""
    check_zone_option(tz)
    zone_name = tz or configured.timezone or default_zone()
    zone(zone_name)
    if late is not None and late not in LATE_CHOICES:
        raise MailerError(f"--late {late!r} must be one of {', '.join(LATE_CHOICES)}")
    grace = default_grace(configured=configured.grace_seconds) if grace_seconds is None else grace_seconds
    wall = parse_wall_time(at)
    chosen = lists_for(campaign, lists)
    batches = batches_for(wall, zone_counts(engine, chosen, zone_name, strict=True))
    if not batches:
        raise MailerError(f"no valid recipient in {', '.join(p.name for p in chosen)}",
                          hint="`solidarity-mailer lists check` shows the rows")
    batches = _late(batches, at, late, now)
    ledger.ensure_campaign(engine, campaign, now=now)
    values = {
        "campaign_id": campaign.id, "kind": KIND, "spec": wall.isoformat(sep=" "), "timezone": zone_name,
        "lists": json.dumps([str(Path(p).resolve()) for p in lists]), "state": "active", "grace_seconds": grace,
        "next_fire_at": next_instant(batches), "created_at": now, "updated_at": now, "again": again,
        "plan": dump_plan(batches),
    }
    with engine.begin() as conn:
        new_id = conn.execute(schedules.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return get_schedule(engine, int(new_id)), [b for b in batches if b.state == "skipped"]
