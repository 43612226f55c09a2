"""A campaign's delivery status from the ledger: each run's counts by state and by language, the messages each
SMTP relay sent, and who failed or is uncertain.

``status --json`` prints :meth:`CampaignStatus.as_json` as is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from solidarity_mailer.config import SmtpSettings
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.held_rows import next_opening
from solidarity_mailer.ledger.languages import counts_by_language
from solidarity_mailer.ledger.received_content import already_received_count
from solidarity_mailer.ledger.row_claims import WorkerSent, sent_by_worker
from solidarity_mailer.ledger.schema import deliveries


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
class RelayStatus:
    """The messages of a run one SMTP relay sent; ``host`` and ``port`` None when no relay of the settings has
    that name any more."""

    name: str
    host: str | None
    port: int | None
    sent: int


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
    relays: list[RelayStatus]  # of ``counts["sent"]``: through each relay (rows that name one)
    workers: list[WorkerSent]  # of ``counts["sent"]``: by each worker process (rows that name one)
    languages: dict[str, dict[str, int]] = field(default_factory=dict)  # language -> counts by state

    def languages_line(self) -> str:
        """``en 4 (sent 4), es 3 (sent 2, failed 1)``: the rows per language, for people."""
        return ", ".join(f"{lang or '(none)'} {sum(c.values())} (" + ", ".join(f"{s} {n}" for s, n in c.items())
                         + ")" for lang, c in self.languages.items())
    zone: str | None = None  # a batch of a --recipient-time schedule: its recipients' zone
    resume_at: str | None = None  # waiting for a send window: it continues then (ISO 8601)
    held: int = 0  # rows held by their recipient's send window (also while the run still sends others)
    held_until: str | None = None  # when the first of them may go (ISO 8601)

    def held_line(self) -> str:
        """``4 recipient(s) held by their send window, the first continue at …``, or ``""``."""
        if not self.held:
            return ""
        return f"{self.held} recipient(s) held by their send window, the first continue at {self.held_until}"

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

    def workers_line(self) -> str:
        """``vm1 (pid 311) 600, vm2 (pid 95) 400``: what each worker sent, when more than one did."""
        if len(self.workers) < 2:
            return ""
        return ", ".join(f"{w.host} (pid {w.pid}) {w.sent}" for w in self.workers)

    def relays_line(self) -> str:
        """``own 30 (mail.example.org:587), backup 10 (…)`` when more than one relay sent, else ``""``."""
        sent = [r for r in self.relays if r.sent]
        if len(sent) < 2:
            return ""
        return ", ".join(f"{r.name} {r.sent}" + (f" ({r.host}:{r.port})" if r.host and r.name != f"{r.host}:{r.port}"
                                                 else "") for r in sent)


@dataclass(frozen=True)
class CampaignStatus:
    """The runs of a campaign, oldest first."""

    campaign: str
    runs: list[RunStatus]

    def as_json(self) -> dict[str, object]:
        """``{"campaign", "runs": [{id, fire_key, state, note, created_at, started_at, finished_at, counts,
        already_received, problems: [{address, state, attempts, last_reply, updated_at}],
        relays: [{name, host, port, sent}], workers: [{host, pid, sent}], languages: {LANG: {state: count}},
        zone, resume_at, held, held_until}]}``."""
        return dataclasses.asdict(self)


def relay_counts(engine: Engine, run_id: int, relays: Sequence[SmtpSettings] = ()) -> list[RelayStatus]:
    """The messages of run ``run_id`` each relay sent: the relays of ``relays`` in their order, then any other
    name the ledger holds (a relay since renamed or removed), by name."""
    stmt = (select(deliveries.c.relay, func.count()).where(deliveries.c.run_id == run_id, deliveries.c.state == "sent",
                                                           deliveries.c.relay.is_not(None))
            .group_by(deliveries.c.relay))
    with engine.connect() as conn:
        sent = {str(name): int(n) for name, n in conn.execute(stmt)}
    known = {relay.label: relay for relay in relays}
    order = [name for name in known if name in sent] + sorted(name for name in sent if name not in known)
    return [RelayStatus(name, known[name].host if name in known else None,
                        known[name].port if name in known else None, sent[name]) for name in order]


def campaign_status(engine: Engine, campaign_id: str, relays: Sequence[SmtpSettings] = (),
                    variant: Callable[[str | None], str] | None = None, *,
                    now: dt.datetime | None = None) -> CampaignStatus:
    """The status of every run of ``campaign_id``, oldest first; ``relays`` (the settings') give each relay
    name its host and port; a run's rows are counted per language it sent them in (the languages it recorded;
    for a run of an older release, ``variant``, the campaign's rule, else the tags as written); rows held by
    their send window past ``now`` (default: the system clock's) are counted with their first opening."""
    now = now or ledger.utcnow()
    return CampaignStatus(campaign_id, [_run_status(engine, run, relays, variant, now)
                                        for run in ledger.runs_of(engine, campaign_id)])


def _run_status(engine: Engine, run: ledger.Run, relays: Sequence[SmtpSettings],
                variant: Callable[[str | None], str] | None, now: dt.datetime) -> RunStatus:
    held, first = 0, None
    if run.state in ("running", "pending", "paused"):  # rows held by their send window past now
        first, held = next_opening(engine, run.id, now=now)
    return RunStatus(
        id=run.id, fire_key=run.fire_key, state=run.state, note=run.note, created_at=_iso(run.created_at),
        started_at=_iso(run.started_at), finished_at=_iso(run.finished_at), counts=ledger.counts(engine, run.id),
        already_received=already_received_count(engine, run.id),
        problems=[ProblemStatus(p.address, p.state, p.attempts, p.last_reply, _iso(p.updated_at))
                  for p in ledger.problems(engine, run.id)],
        relays=relay_counts(engine, run.id, relays),
        workers=sent_by_worker(engine, run.id),
        languages=counts_by_language(engine, run.id, variant),
        zone=run.zone, resume_at=_iso(run.resume_at) if run.state == "pending" else None,
        held=held, held_until=_iso(first),
    )
