"""Schedules of campaigns and control of their runs, on ledger/schema.py's ``schedules`` and ``runs`` tables.

A schedule stores its rule (once / cron / interval), its IANA zone, the UTC instant of its next firing,
its grace period and its state (``active → paused → active``, ``cancelled``, ``done`` once a one-off
fired). Each firing becomes one run whose ``fire_key`` is ``sched:{schedule_id}:{UTC ISO instant}``:
the key is unique in the database, so an occurrence yields exactly one run, however many daemons ask.

Runs are controlled by their state: ``pause run`` (pending|running → paused, the dispatcher stops between
messages), ``resume run`` (paused|missed → pending, the daemon picks it up; resuming a *missed* firing
sends it late, on purpose), ``cancel run`` (pending|running|paused|missed → cancelled).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, update

from solidarity_mailer.audience.lists import check_list_file
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.config import SchedulerSettings
from solidarity_mailer.config.settings import MAX_GRACE_SECONDS
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import aware, schedules
from solidarity_mailer.schedule.recurrence import (
    Recurrence,
    cron_trigger,
    default_zone,
    local_time,
    parse_at,
    parse_interval,
    zone,
)

DEFAULT_GRACE_SECONDS = 3600
GRACE_ENV = "SOLIDARITY_MAILER_GRACE_SECONDS"
SCHEDULE_STATES = ("active", "paused", "cancelled", "done")


@dataclass(frozen=True)
class Schedule:
    """One row of ``schedules``; timestamps aware UTC."""

    id: int
    campaign_id: str
    kind: str
    spec: str
    timezone: str
    lists: tuple[str, ...]
    state: str
    grace_seconds: int
    next_fire_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    again: bool = False  # its runs send to those who received the same content before (``--again``)
    plan: str | None = None  # kind ``local`` (``--recipient-time``): its batches as JSON (schedule/zone_plan.py)

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(self.kind, self.spec, self.timezone, anchor=self.next_fire_at)

    def describe(self) -> str:
        """``once at 2026-12-07 09:00 America/Lima`` and the like."""
        return self.recurrence.describe()

    @property
    def next_fire_local(self) -> str | None:
        """The next firing as wall-clock time in the schedule's zone."""
        return local_time(self.next_fire_at, self.timezone)


def default_grace(environ: Mapping[str, str] | None = None, configured: int = DEFAULT_GRACE_SECONDS) -> int:
    """The grace period for new schedules: ``SOLIDARITY_MAILER_GRACE_SECONDS``, else ``configured``
    (``[scheduler] grace_seconds`` of the settings, 3600 s by default)."""
    raw = (os.environ if environ is None else environ).get(GRACE_ENV, "").strip()
    if not raw:
        return configured
    if not raw.isdigit() or int(raw) > MAX_GRACE_SECONDS:
        raise MailerError(f"{GRACE_ENV}={raw!r} must be a whole number of seconds, at most {MAX_GRACE_SECONDS}")
    return int(raw)


def fire_key(schedule_id: int, instant: dt.datetime) -> str:
    """The unique key of one occurrence of a schedule."""
    return f"sched:{schedule_id}:{instant.astimezone(dt.UTC).isoformat(timespec='seconds')}"


def _schedule(row) -> Schedule:  # type: ignore[no-untyped-def]
    return Schedule(
        id=row.id, campaign_id=row.campaign_id, kind=row.kind, spec=row.spec, timezone=row.timezone,
        lists=tuple(json.loads(row.lists or "[]")), state=row.state, grace_seconds=row.grace_seconds,
        next_fire_at=aware(row.next_fire_at), created_at=aware(row.created_at),  # type: ignore[arg-type]
        updated_at=aware(row.updated_at), again=bool(row.again), plan=row.plan,  # type: ignore[arg-type]
    )


def add_schedule(
    engine: Engine, campaign: Campaign, *, at: str | None = None, cron: str | None = None, every: str | None = None,
    tz: str = "UTC", lists: tuple[Path, ...] | list[Path] = (), grace_seconds: int = DEFAULT_GRACE_SECONDS,
    now: dt.datetime, again: bool = False,
) -> Schedule:
    """Schedule ``campaign`` once (``at``, a wall-clock time in ``tz``), by ``cron`` or ``every`` interval.

    ``lists`` replace the campaign's own lists for these runs (empty: the campaign's lists at firing time).
    Each run skips those who received the same content before, unless ``again``.
    """
    chosen = [name for name, value in (("--at", at), ("--cron", cron), ("--every", every)) if value]
    if len(chosen) != 1:
        raise MailerError("give exactly one of --at, --cron or --every", hint=f"got {', '.join(chosen) or 'none'}")
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise MailerError(f"the grace period must be 0 to {MAX_GRACE_SECONDS} seconds, not {grace_seconds}")
    zone(tz)
    for path in lists:
        check_list_file(Path(path))
    if at:
        instant = parse_at(at, tz)
        if instant <= now:
            local = now.astimezone(zone(tz))
            raise MailerError(
                f"{at} {tz} is in the past", hint=f"it is now {local:%Y-%m-%d %H:%M:%S} {tz}; pick a later time"
            )
        kind, spec = "once", instant.isoformat(timespec="seconds")
    elif cron:
        cron_trigger(cron, tz)
        kind, spec = "cron", " ".join(cron.split())
    else:
        kind, spec = "interval", str(parse_interval(every or ""))
    first = Recurrence(kind, spec, tz).first(now.replace(microsecond=0))
    if first is None:
        raise MailerError(f"the cron expression '{cron}' never fires")
    ledger.ensure_campaign(engine, campaign, now=now)
    values = {
        "campaign_id": campaign.id, "kind": kind, "spec": spec, "timezone": tz,
        "lists": json.dumps([str(Path(p).resolve()) for p in lists]), "state": "active",
        "grace_seconds": grace_seconds, "next_fire_at": first, "created_at": now, "updated_at": now, "again": again,
    }
    with engine.begin() as conn:
        new_id = conn.execute(schedules.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return get_schedule(engine, int(new_id))


def check_zone_option(tz: str | None) -> None:
    """Refuse an empty ``--tz`` (None is fine: the default zone applies)."""
    if tz is not None and not tz.strip():
        raise MailerError("--tz is empty", hint="give an IANA time zone such as Europe/Berlin, or leave --tz out")


def schedule_campaign(
    engine: Engine, campaign: Campaign, configured: SchedulerSettings, *, at: str | None = None,
    cron: str | None = None, every: str | None = None, tz: str | None = None, lists: tuple[Path, ...] = (),
    grace_seconds: int | None = None, now: dt.datetime, again: bool = False,
) -> Schedule:
    """:func:`add_schedule` as the ``schedule`` command asks for it: a zone and grace period not given come
    from the settings (``configured``; grace: ``SOLIDARITY_MAILER_GRACE_SECONDS`` first), else the machine's
    zone and 3600 s."""
    check_zone_option(tz)
    zone_name = tz or configured.timezone or default_zone()
    grace = default_grace(configured=configured.grace_seconds) if grace_seconds is None else grace_seconds
    return add_schedule(engine, campaign, at=at, cron=cron, every=every, tz=zone_name, lists=list(lists),
                        grace_seconds=grace, now=now, again=again)


def get_schedule(engine: Engine, schedule_id: int) -> Schedule:
    """The schedule, or a clear error when there is none with that id."""
    with engine.connect() as conn:
        row = conn.execute(select(schedules).where(schedules.c.id == schedule_id)).first()
    if row is None:
        raise MailerError(f"there is no schedule {schedule_id}", hint="see `solidarity-mailer campaigns`")
    return _schedule(row)


def list_schedules(engine: Engine, *, campaign_id: str | None = None, states: tuple[str, ...] = ()) -> list[Schedule]:
    """Schedules, oldest first, optionally of one campaign and in some states."""
    stmt = select(schedules).order_by(schedules.c.id)
    if campaign_id is not None:
        stmt = stmt.where(schedules.c.campaign_id == campaign_id)
    if states:
        stmt = stmt.where(schedules.c.state.in_(states))
    with engine.connect() as conn:
        return [_schedule(row) for row in conn.execute(stmt)]


def _move(engine: Engine, schedule_id: int, to: str, only_from: tuple[str, ...], now: dt.datetime,
          **extra: object) -> Schedule:
    current = get_schedule(engine, schedule_id)
    stmt = (update(schedules).where(schedules.c.id == schedule_id, schedules.c.state.in_(only_from))
            .values(state=to, updated_at=now, **extra))
    with engine.begin() as conn:
        moved = conn.execute(stmt).rowcount
    if not moved:
        raise MailerError(f"schedule {schedule_id} is {current.state}", hint=f"only a {' or '.join(only_from)} "
                          f"schedule can become {to}")
    return get_schedule(engine, schedule_id)


def pause_schedule(engine: Engine, schedule_id: int, *, now: dt.datetime) -> Schedule:
    """Stop firing until resumed; the daemon drops its job within a sync interval."""
    return _move(engine, schedule_id, "paused", ("active",), now)


def resume_schedule(engine: Engine, schedule_id: int, *, now: dt.datetime) -> Schedule:
    """Fire again. A recurring schedule skips the occurrences that fell in the pause (that is what pausing
    means); a one-off (and a ``--recipient-time`` schedule's batches) keeps its instant, so the daemon's grace
    rule decides whether it still goes out."""
    current = get_schedule(engine, schedule_id)
    extra: dict[str, object] = {}
    if current.kind not in ("once", "local") and current.next_fire_at is not None and current.next_fire_at <= now:
        extra["next_fire_at"] = current.recurrence.next_after(now)
    return _move(engine, schedule_id, "active", ("paused",), now, **extra)


def cancel_schedule(engine: Engine, schedule_id: int, *, now: dt.datetime) -> Schedule:
    """Never fire again (runs already started are not touched: cancel those with ``cancel run``)."""
    return _move(engine, schedule_id, "cancelled", ("active", "paused"), now)


def _run_or_error(engine: Engine, run_id: int) -> ledger.Run:
    try:
        return ledger.get_run(engine, run_id)
    except KeyError:
        raise MailerError(f"there is no run {run_id}", hint="see `solidarity-mailer campaigns`") from None


def _move_run(engine: Engine, run_id: int, to: str, only_from: tuple[str, ...], now: dt.datetime,
              note: str) -> ledger.Run:
    current = _run_or_error(engine, run_id)
    if not ledger.set_run_state(engine, run_id, to, now=now, note=note, only_from=only_from):
        raise MailerError(f"run {run_id} is {current.state}",
                          hint=f"only a {' or '.join(only_from)} run can become {to}")
    return ledger.get_run(engine, run_id)


def pause_run(engine: Engine, run_id: int, *, now: dt.datetime) -> ledger.Run:
    """The dispatcher stops between messages; ``resume run`` continues from the ledger."""
    note = f"paused by hand at {now:%Y-%m-%d %H:%M} UTC"
    return _move_run(engine, run_id, "paused", ("pending", "running"), now, note)


def resume_run(engine: Engine, run_id: int, *, now: dt.datetime, resend_uncertain: bool = False) -> ledger.Run:
    """A paused (or missed) run becomes pending; the running daemon picks it up within a sync interval. With
    ``resend_uncertain``, any run's ``uncertain`` rows become pending too, and a finished run pending again
    (some recipients may get a second copy); a run being sent just takes them up."""
    note = f"resumed at {now:%Y-%m-%d %H:%M} UTC"
    if not resend_uncertain:
        return _move_run(engine, run_id, "pending", ("paused", "missed"), now, note)
    if _run_or_error(engine, run_id).state == "cancelled" or not ledger.counts(engine, run_id)["uncertain"]:
        raise MailerError(f"run {run_id} has no uncertain rows to send again" + (
            " (it was cancelled)" if ledger.run_state(engine, run_id) == "cancelled" else ""))
    ledger.requeue(engine, run_id, "uncertain", now=now)
    ledger.set_run_state(engine, run_id, "pending", now=now, note=f"{note}; uncertain rows requeued",
                         only_from=("paused", "missed", "finished"))
    return ledger.get_run(engine, run_id)


def cancel_run(engine: Engine, run_id: int, *, now: dt.datetime) -> ledger.Run:
    """Stop for good: rows not yet handed over stay pending and are never sent."""
    return _move_run(engine, run_id, "cancelled", ("pending", "running", "paused", "missed"), now,
                     f"cancelled by hand at {now:%Y-%m-%d %H:%M} UTC")


_CONTROLS = {
    ("pause", "schedule"): pause_schedule, ("resume", "schedule"): resume_schedule,
    ("cancel", "schedule"): cancel_schedule, ("pause", "run"): pause_run, ("resume", "run"): resume_run,
    ("cancel", "run"): cancel_run,
}


def control(engine: Engine, action: str, kind: str, ident: int, *, now: dt.datetime) -> Schedule | ledger.Run:
    """``pause``, ``resume`` or ``cancel`` (``action``) schedule or run (``kind``) ``ident``; returns it after."""
    return _CONTROLS[(action, kind)](engine, ident, now=now)
