"""Undo what a refused send recorded, so that the ledger is as before (issue 12, hole 4).

A manual send records its campaign and opens its run before the content is rendered, the lists read and the
relay reached. When one of those refuses (a template error, a relay refusing authentication) and the run is
new, :func:`discard_new_run` removes the run, its untouched rows and web versions, and the campaign row if this send
created it and nothing else refers to it. A run in which any message was attempted is never removed.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, exists, func, select

from solidarity_mailer.ledger.schema import campaigns, deliveries, locks, runs, schedules, web_versions


def campaign_recorded(engine: Engine, campaign_id: str) -> bool:
    """True when the ledger already has a row for ``campaign_id``."""
    with engine.connect() as conn:
        return conn.execute(select(exists().where(campaigns.c.id == campaign_id))).scalar_one()


def discard_new_run(engine: Engine, run_id: int, campaign_id: str, *, drop_campaign: bool) -> bool:
    """Remove run ``run_id`` if none of its rows was ever attempted; with ``drop_campaign``, also the campaign
    row when no other run or schedule refers to it. Returns whether the run was removed."""
    with engine.begin() as conn:
        attempted = conn.execute(select(func.count()).where(deliveries.c.run_id == run_id,
                                                            deliveries.c.attempts > 0)).scalar_one()
        if attempted:
            return False
        conn.execute(delete(deliveries).where(deliveries.c.run_id == run_id))
        conn.execute(delete(locks).where(locks.c.name == f"run:{run_id}"))
        conn.execute(delete(web_versions).where(web_versions.c.run_id == run_id))
        conn.execute(delete(runs).where(runs.c.id == run_id))
        referred = [exists().where(t.c.campaign_id == campaign_id) for t in (runs, schedules)]
        if drop_campaign and not any(conn.execute(select(e)).scalar_one() for e in referred):
            conn.execute(delete(campaigns).where(campaigns.c.id == campaign_id))
    return True
