"""What ``campaigns`` shows: each campaign, its schedules with their next firing, its last run and counts."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import aware, campaigns, runs
from solidarity_mailer.paths import project_root
from solidarity_mailer.schedule.recurrence import zone
from solidarity_mailer.schedule.schedules import list_schedules


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def _local(value: dt.datetime | None, zone_name: str) -> str | None:
    if value is None:
        return None
    local = value.astimezone(zone(zone_name))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z")


def default_zone() -> str:
    """The machine's IANA zone (``TZ``, else ``/etc/localtime``), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                zone(name)
            except Exception:  # not a usable IANA name: try the next one
                continue
            return name
    return "UTC"


def _run_info(engine: Engine, run: ledger.Run, scheduled_for: dt.datetime | None) -> dict[str, Any]:
    return {
        "id": run.id, "fire_key": run.fire_key, "state": run.state, "note": run.note,
        "scheduled_for": _iso(scheduled_for), "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at), "counts": {k: v for k, v in ledger.counts(engine, run.id).items() if v},
    }


def overview(engine: Engine, *, root: Path | None = None) -> list[dict[str, Any]]:
    """Every campaign known to the database (and every campaign file of the project), as plain data."""
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
    out: list[dict[str, Any]] = []
    for cid in sorted(known):
        scheds = []
        for s in list_schedules(engine, campaign_id=cid):
            scheds.append({
                "id": s.id, "kind": s.kind, "rule": s.describe(), "timezone": s.timezone, "state": s.state,
                "grace_seconds": s.grace_seconds, "lists": list(s.lists),
                "next_fire_utc": _iso(s.next_fire_at) if s.state == "active" else None,
                "next_fire_local": _local(s.next_fire_at, s.timezone) if s.state == "active" else None,
            })
        all_runs = ledger.runs_of(engine, cid)
        last = all_runs[-1] if all_runs else None
        out.append({
            "id": cid, "path": known[cid], "schedules": scheds, "runs": len(all_runs),
            "missed_runs": int(missed.get(cid, 0)),
            "last_run": _run_info(engine, last, scheduled_for.get(last.id)) if last else None,
        })
    return out


def lines(data: list[dict[str, Any]]) -> list[str]:
    """The overview as text for people."""
    out: list[str] = []
    for c in data:
        out.append(f"{c['id']}  ({c['path']})")
        if not c["schedules"]:
            out.append("  no schedules")
        for s in c["schedules"]:
            nxt = f"next {s['next_fire_local']} = {s['next_fire_utc']}" if s["next_fire_utc"] else "no next firing"
            out.append(f"  schedule {s['id']} [{s['state']}] {s['rule']}; {nxt}; grace {s['grace_seconds']} s")
        last = c["last_run"]
        if last:
            counts = ", ".join(f"{k} {v}" for k, v in last["counts"].items()) or "no recipients yet"
            when = f" for {last['scheduled_for']}" if last["scheduled_for"] else ""
            note = f" ({last['note']})" if last["note"] else ""
            out.append(f"  last run {last['id']}{when} [{last['state']}]: {counts}{note}")
            if c["missed_runs"]:
                out.append(f"  {c['missed_runs']} missed firing(s): see `solidarity-mailer status {c['id']}`")
        else:
            out.append("  no runs yet")
    return out
