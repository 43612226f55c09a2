"""A campaign's delivery status from the ledger: each run's counts by state, and who failed or is uncertain.

``status --json`` prints :meth:`CampaignStatus.as_json` as is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.received_content import already_received_count


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class ProblemStatus:
    """A recipient of a run that failed or is uncertain, with the server's last word."""

    address: str
    state: str
    attempts: int
    last_reply: str
    updated_at: str | None  # ISO 8601


@dataclass(frozen=True)
class RunStatus:
    """One run of the campaign: its state, counts by delivery state, and its problems (by address)."""

    id: int
    fire_key: str
    state: str
    note: str
    created_at: str | None  # ISO 8601, as the other instants
    started_at: str | None
    finished_at: str | None
    counts: dict[str, int]
    already_received: int  # of ``counts["skipped"]``: had this content from another run of the campaign
    problems: list[ProblemStatus]
    zone: str | None = None  # a batch of a --recipient-time schedule: its recipients' zone
    resume_at: str | None = None  # waiting for a send window: it continues then (ISO 8601)

    def counts_line(self) -> str:
        """``sent 20, skipped (already received) 1980, skipped 2``: the states present, for people."""
        counts = dict(self.counts)
        parts = []
        for state, n in counts.items():
            if state == "skipped" and self.already_received:
                parts.append(f"skipped (already received) {self.already_received}")
                n -= self.already_received
            if n:
                parts.append(f"{state} {n}")
        return ", ".join(parts) or "no recipients"


@dataclass(frozen=True)
class CampaignStatus:
    """The runs of a campaign, oldest first."""

    campaign: str
    runs: list[RunStatus]

    def as_json(self) -> dict[str, object]:
        """``{"campaign", "runs": [{id, fire_key, state, note, created_at, started_at, finished_at, counts,
        already_received, problems: [{address, state, attempts, last_reply, updated_at}], zone, resume_at}]}``."""
        return dataclasses.asdict(self)


def campaign_status(engine: Engine, campaign_id: str) -> CampaignStatus:
    """The status of every run of ``campaign_id``, oldest first."""
    runs = [
        RunStatus(
            id=run.id, fire_key=run.fire_key, state=run.state, note=run.note, created_at=_iso(run.created_at),
            started_at=_iso(run.started_at), finished_at=_iso(run.finished_at), counts=ledger.counts(engine, run.id),
            already_received=already_received_count(engine, run.id),
            problems=[ProblemStatus(p.address, p.state, p.attempts, p.last_reply, _iso(p.updated_at))
                      for p in ledger.problems(engine, run.id)],
            zone=run.zone, resume_at=_iso(run.resume_at) if run.state == "pending" else None,
        )
        for run in ledger.runs_of(engine, campaign_id)
    ]
    return CampaignStatus(campaign_id, runs)
