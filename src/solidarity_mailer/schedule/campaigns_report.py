"""What ``campaigns`` shows: each campaign, its schedules with their next firing, its last run and counts.

:func:`overview` gathers it; :func:`lines` writes it for people; ``campaigns --json`` prints each
:meth:`CampaignOverview.as_json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.leases import holder_process
from solidarity_mailer.ledger.row_claims import live_workers
from solidarity_mailer.ledger.schema import aware, campaigns, runs
from solidarity_mailer.paths import project_root
from solidarity_mailer.schedule.recurrence import local_time
from solidarity_mailer.schedule.schedules import Schedule, list_schedules
from solidarity_mailer.schedule.zone_plan import load_plan


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


@dataclass(frozen=True)
class ScheduleOverview:
    """A schedule of the campaign; the next firing (UTC ISO 8601 and local) only while it is active."""

    id: int
    kind: str
    rule: str
    timezone: str
    state: str
    grace_seconds: int
    lists: list[str]
    next_fire_utc: str | None
    next_fire_local: str | None
    again: bool  # its runs send to those who received the same content before
    plan: list[dict[str, object]] | None = None  # --recipient-time: [{zone, at, recipients}] by instant


@dataclass(frozen=True)
class LastRun:
    """The campaign's latest run; instants in UTC ISO 8601, counts without the zeros."""

    id: int
    fire_key: str
    state: str
    note: str
    scheduled_for: str | None
    started_at: str | None
    finished_at: str | None
    counts: dict[str, int]


@dataclass(frozen=True)
class LiveWorker:
    """A process delivering one of the campaign's runs now (its lease on the run unexpired)."""

    run: int
    host: str
    pid: int


def _live_worker(run_id: int, holder: str) -> LiveWorker:
    return LiveWorker(run_id, *holder_process(holder))


@dataclass(frozen=True)
class CampaignOverview:
    """One campaign: where its file is, its schedules, how many runs (and missed firings), its last run."""

    id: str
    path: str
    schedules: list[ScheduleOverview]
    runs: int
    missed_runs: int
    last_run: LastRun | None
    workers: list[LiveWorker]

    def as_json(self) -> dict[str, object]:
        """As plain data (``campaigns --json``); a schedule's ``plan`` only when it has one."""
        data = dataclasses.asdict(self)
        for schedule in data["schedules"]:
            if schedule["plan"] is None:
                del schedule["plan"]
        return data


def _schedule_overview(s: Schedule) -> ScheduleOverview:
    active = s.state == "active"
    return ScheduleOverview(
        id=s.id, kind=s.kind, rule=s.describe(), timezone=s.timezone, state=s.state,
        grace_seconds=s.grace_seconds, lists=list(s.lists),
        next_fire_utc=_iso(s.next_fire_at) if active else None,
        next_fire_local=local_time(s.next_fire_at, s.timezone) if active else None, again=s.again,
        plan=[b.as_plan_entry() for b in load_plan(s.plan) if b.state != "skipped"] if s.kind == "local" else None,
    )


def _last_run(engine: Engine, run: ledger.Run, scheduled_for: dt.datetime | None) -> LastRun:
    return LastRun(
        id=run.id, fire_key=run.fire_key, state=run.state, note=run.note, scheduled_for=_iso(scheduled_for),
        started_at=_iso(run.started_at), finished_at=_iso(run.finished_at),
        counts={k: v for k, v in ledger.counts(engine, run.id).items() if v},
    )


def overview(engine: Engine, *, root: Path | None = None) -> list[CampaignOverview]:
    """Every campaign known to the database (and every campaign file of the project), by id."""
    with engine.connect() as conn:
        known = {row.id: row.path for row in conn.execute(select(campaigns.c.id, campaigns.c.path))}
        rows = conn.execute(select(runs.c.id, runs.c.scheduled_for))
        scheduled_for = {r.id: aware(r.scheduled_for) for r in rows}
        missed = dict(conn.execute(select(runs.c.campaign_id, func.count()).where(runs.c.state == "missed")
                                   .group_by(runs.c.campaign_id)).all())
    folder = project_root(root) / "campaigns"
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        if "[campaign]" in path.read_text(encoding="utf-8", errors="replace"):  # not the resolution files
            known.setdefault(path.stem, str(path))
    out: list[CampaignOverview] = []
    live = live_workers(engine, now=dt.datetime.now(dt.UTC))
    for cid in sorted(known):
        all_runs = ledger.runs_of(engine, cid)
        last = all_runs[-1] if all_runs else None
        out.append(CampaignOverview(
            id=cid, path=known[cid], schedules=[_schedule_overview(s) for s in list_schedules(engine, campaign_id=cid)],
            runs=len(all_runs), missed_runs=int(missed.get(cid, 0)),
            last_run=_last_run(engine, last, scheduled_for.get(last.id)) if last else None,
            workers=[_live_worker(r.id, h) for r in all_runs for h in sorted(live.get(r.id, []))],
        ))
    return out


def lines(data: list[CampaignOverview]) -> list[str]:
    """The overview as text for people."""
    out: list[str] = []
    for c in data:
        out.append(f"{c.id}  ({c.path})")
        if not c.schedules:
            out.append("  no schedules")
        for s in c.schedules:
            nxt = f"next {s.next_fire_local} = {s.next_fire_utc}" if s.next_fire_utc else "no next firing"
            again = "; again (earlier recipients too)" if s.again else ""
            out.append(f"  schedule {s.id} [{s.state}] {s.rule}; {nxt}; grace {s.grace_seconds} s{again}")
            out.extend(f"    batch {b['zone']} at {b['at']}: {b['recipients']} recipient(s)" for b in s.plan or [])
        last = c.last_run
        if last:
            counts = ", ".join(f"{k} {v}" for k, v in last.counts.items()) or "no recipients yet"
            when = f" for {last.scheduled_for}" if last.scheduled_for else ""
            note = f" ({last.note})" if last.note else ""
            out.append(f"  last run {last.id}{when} [{last.state}]: {counts}{note}")
            if c.missed_runs:
                out.append(f"  {c.missed_runs} missed firing(s): see `solidarity-mailer status {c.id}`")
        else:
            out.append("  no runs yet")
        if c.workers:
            out.append("  sending now: " + ", ".join(f"run {w.run} on {w.host} (pid {w.pid})" for w in c.workers))
    return out
