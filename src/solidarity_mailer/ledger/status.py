"""A campaign's delivery status from the ledger, as plain data (``status --json`` prints it as is)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from solidarity_mailer.ledger import queries as ledger


def _iso(value: object) -> str | None:
    return value.isoformat() if value is not None else None  # type: ignore[attr-defined]


def campaign_status(engine: Engine, campaign_id: str) -> dict[str, Any]:
    """``{"campaign", "runs": [{id, fire_key, state, note, created_at, started_at, finished_at, counts,
    problems: [{address, state, attempts, last_reply, updated_at}]}]}``, oldest run first."""
    out = []
    for run in ledger.runs_of(engine, campaign_id):
        out.append({
            "id": run.id, "fire_key": run.fire_key, "state": run.state, "note": run.note,
            "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at), "counts": ledger.counts(engine, run.id),
            "problems": [{"address": p.address, "state": p.state, "attempts": p.attempts,
                          "last_reply": p.last_reply, "updated_at": _iso(p.updated_at)}
                         for p in ledger.problems(engine, run.id)],
        })
    return {"campaign": campaign_id, "runs": out}
