"""The ledger: who got what. Campaign runs and one delivery row per (run, recipient), on ledger/schema.py's tables.

A delivery moves ``pending → sending → sent | deferred | failed | uncertain`` (or ``skipped`` when the
address was suppressed before it went out). ``sending`` is committed BEFORE the message is handed to the
transport and ``sent`` after the server's 250, so after a crash the only ambiguous rows are those still
``sending``: :func:`recover_sending` turns them into ``uncertain``, and they are resent only on request
(:func:`requeue`). The per-message transitions live in ``ledger/writer.py``: each is a guarded
``UPDATE … WHERE state IN (…)``, so several processes sharing one (PostgreSQL) ledger can never both
hand over the same row: the row a process managed to move to ``sending`` is its own.
``deliveries.fields`` holds JSON ``{"email", "ascii_email", "lang", "source", "extra"}``: enough to
rebuild the :class:`Recipient`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from itertools import islice

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.ledger.compiled import Statement
from solidarity_mailer.ledger.delivery_row import Delivery, encode_fields
from solidarity_mailer.ledger.schema import aware, campaigns, deliveries, runs

STATES = ("pending", "sending", "sent", "deferred", "failed", "uncertain", "skipped")
RUN_STATES = ("pending", "running", "paused", "cancelled", "finished", "missed")
LIST_REMOVED = "list removed from the run by --list"  # last_reply of rows skipped because their list left the run


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Run:
    """One firing of a campaign."""

    id: int
    campaign_id: str
    fire_key: str
    lists: tuple[str, ...]
    state: str
    note: str
    schedule_id: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    zone: str | None = None  # a batch of a --recipient-time schedule: the zone of its recipients
    resume_at: dt.datetime | None = None  # waiting for a send window to open until then


class Claim(Enum):
    """What claiming a row (:meth:`~solidarity_mailer.ledger.writer.LedgerWriter.claim_many`) achieved."""

    CLAIMED = "claimed"  # the row is ours, committed as ``sending``: hand the message over
    SUPPRESSED = "suppressed"  # the address is (now) suppressed: the row became ``skipped``
    ALREADY_RECEIVED = "already received"  # another run delivered this content to it: the row became ``skipped``
    WAITING = "waiting"  # another run is handing this content over to it: the row waits (``deferred``)
    TAKEN = "taken"  # another process moved it first, or it is no longer claimable


def _insert(engine: Engine):  # type: ignore[no-untyped-def]
    return (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)


def ensure_campaign(engine: Engine, campaign: Campaign, *, now: dt.datetime | None = None) -> None:
    """Record the campaign (id and file path) so runs can refer to it; updates the path if it moved."""
    with engine.begin() as conn:
        stmt = _insert(engine)(campaigns).values(id=campaign.id, path=str(campaign.path), created_at=now or utcnow())
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"path": str(campaign.path)}))


def open_run(
    engine: Engine, campaign_id: str, fire_key: str, *, lists: Iterable[str] = (), schedule_id: int | None = None,
    scheduled_for: dt.datetime | None = None, now: dt.datetime, again: bool = False, zone: str | None = None,
) -> int:
    """The id of the run for ``fire_key``, created if new: one run per firing, whoever asks twice. With ``again``
    it sends to those who received the same content in other runs too (``ledger/received_content.py``)."""
    values = {
        "campaign_id": campaign_id, "fire_key": fire_key, "lists": json.dumps([str(x) for x in lists]),
        "schedule_id": schedule_id, "scheduled_for": scheduled_for, "state": "pending", "created_at": now,
        "again": again, "zone": zone,
    }
    with engine.begin() as conn:
        conn.execute(_insert(engine)(runs).values(**values).on_conflict_do_nothing(index_elements=["fire_key"]))
        return int(conn.execute(select(runs.c.id).where(runs.c.fire_key == fire_key)).scalar_one())


def run_exists(engine: Engine, fire_key: str) -> bool:
    """True when the run of ``fire_key`` has been opened."""
    with engine.connect() as conn:
        return conn.execute(select(runs.c.id).where(runs.c.fire_key == fire_key)).first() is not None


def set_run_lists(engine: Engine, run_id: int, lists: Iterable[str], *, keep_list_ids: Iterable[str] | None = None,
                  now: dt.datetime | None = None) -> int:
    """Point the run at other lists (``send --list``); returns how many rows were skipped.

    Rows already sent (or failed…) stay as they are. With ``keep_list_ids`` (the List-Ids of ``lists``), rows
    of any other list still ``pending``/``deferred`` become ``skipped`` with :data:`LIST_REMOVED`, so they
    are not sent to a list no longer in the run; :func:`enqueue` brings a row back when a list of the run
    has its address again.
    """
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(lists=json.dumps([str(x) for x in lists])))
        if keep_list_ids is None:
            return 0
        stmt = (update(deliveries).where(deliveries.c.run_id == run_id,
                                         deliveries.c.state.in_(["pending", "deferred"]),
                                         deliveries.c.list_id.not_in(list(keep_list_ids)))
                .values(state="skipped", last_reply=LIST_REMOVED, next_attempt_at=None, updated_at=now or utcnow()))
        return int(conn.execute(stmt).rowcount)


def _run(row) -> Run:  # type: ignore[no-untyped-def]
    return Run(
        id=row.id, campaign_id=row.campaign_id, fire_key=row.fire_key, lists=tuple(json.loads(row.lists)),
        state=row.state, note=row.note, schedule_id=row.schedule_id, created_at=aware(row.created_at),  # type: ignore[arg-type]
        started_at=aware(row.started_at), finished_at=aware(row.finished_at), zone=row.zone,
        resume_at=aware(row.resume_at),
    )


def get_run(engine: Engine, run_id: int) -> Run:
    """The run with ``run_id`` (KeyError if there is none)."""
    with engine.connect() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    if row is None:
        raise KeyError(run_id)
    return _run(row)


def campaign_path(engine: Engine, campaign_id: str) -> str:
    """The campaign file recorded by :func:`ensure_campaign`."""
    with engine.connect() as conn:
        return str(conn.execute(select(campaigns.c.path).where(campaigns.c.id == campaign_id)).scalar_one())


def runs_of(engine: Engine, campaign_id: str) -> list[Run]:
    """Every run of a campaign, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(runs).where(runs.c.campaign_id == campaign_id).order_by(runs.c.id)).all()
    return [_run(r) for r in rows]


def set_run_state(
    engine: Engine, run_id: int, state: str, *, now: dt.datetime, note: str | None = None,
    only_from: Iterable[str] | None = None,
) -> bool:
    """Move a run to ``state`` (optionally only from the given states); False when the guard did not match."""
    if state not in RUN_STATES:
        raise ValueError(state)
    values: dict[str, object] = {"state": state}
    if note is not None:
        values["note"] = note
    if state == "running":
        values["started_at"] = func.coalesce(runs.c.started_at, now)
        values["finished_at"], values["resume_at"] = None, None
    elif state == "finished":
        values["finished_at"] = now
    stmt = update(runs).where(runs.c.id == run_id).values(**values)
    if only_from is not None:
        stmt = stmt.where(runs.c.state.in_(list(only_from)))
    with engine.begin() as conn:
        return bool(conn.execute(stmt).rowcount)


def run_state(engine: Engine, run_id: int) -> str:
    """The run's current state (another process may have paused or cancelled it)."""
    with engine.connect() as conn:
        return str(conn.execute(select(runs.c.state).where(runs.c.id == run_id)).scalar_one())


_ENQUEUE = (  # compiled once, run with the DBAPI's executemany: SQLAlchemy's per-row work was half its cost
    "INSERT INTO deliveries (run_id, address, name, list_id, fields, state, attempts, last_reply, message_id,"
    " updated_at) VALUES (:run, :addr, :name, :list, :fields, 'pending', 0, '', :mid, :now)"
    " ON CONFLICT (run_id, address) DO UPDATE SET list_id = excluded.list_id, name = excluded.name,"
    " message_id = excluded.message_id,"
    " fields = excluded.fields, state = excluded.state, updated_at = excluded.updated_at, last_reply = ''"
    " WHERE deliveries.state = 'skipped' AND deliveries.last_reply = :removed"
)


def enqueue(engine: Engine, run_id: int, recipients: Iterable[Recipient], *, now: dt.datetime,
            message_id: Callable[[str], str] | None = None, batch_size: int = 1000) -> int:
    """Add ``pending`` rows for recipients not yet in the run, streaming in batches; returns rows added.

    Each row gets ``message_id(key)``, the Message-ID its message will carry (else ``''``, set when claimed): a
    claim that finds it there need not write it, and so leaves the Message-ID index alone (ledger/transitions.py).
    A row skipped because its list left the run (:data:`LIST_REMOVED`) is pending again, on this list.
    """
    stmt, added, it = Statement(engine, _ENQUEUE), 0, iter(recipients)
    mid = message_id or (lambda _key: "")
    while batch := [stmt.params({"run": run_id, "addr": r.key, "name": r.name, "list": r.list_id, "mid": mid(r.key),
                                 "fields": encode_fields(r), "now": now, "removed": LIST_REMOVED})
                    for r in islice(it, batch_size)]:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.executemany(stmt.sql, batch)
            added += max(cursor.rowcount, 0)
            cursor.close()
            raw.commit()
        finally:
            raw.close()
    return added


def recover_sending(engine: Engine, run_id: int, *, now: dt.datetime) -> int:
    """Rows left ``sending`` by a crash become ``uncertain`` (maybe delivered); returns how many."""
    stmt = (update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.state == "sending")
            .values(state="uncertain", updated_at=now,
                    last_reply="interrupted while the message was being handed over: maybe delivered"))
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount)


def requeue(engine: Engine, run_id: int, state: str, *, now: dt.datetime, fresh_attempts: bool = False) -> int:
    """The run's ``state`` rows become ``pending`` again; returns how many. ``uncertain`` ones for
    ``send --resend-uncertain``; ``failed`` ones, with ``fresh_attempts``, for ``send --retry-failed``
    (addresses suppressed meanwhile, as a 5.1.1 bounce does, are skipped when claimed)."""
    values: dict[str, object] = {"state": "pending", "next_attempt_at": None, "updated_at": now}
    if fresh_attempts:
        values["attempts"] = 0
    stmt = update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.state == state).values(**values)
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount)


def due_condition(run_id: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    """Rows of the run that may be sent now: pending, or deferred and due."""
    return and_(deliveries.c.run_id == run_id, or_(
        deliveries.c.state == "pending",
        and_(deliveries.c.state == "deferred", deliveries.c.next_attempt_at <= now)),
        or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now))  # (ledger/held_rows.py)


def due_batch(engine: Engine, run_id: int, *, now: dt.datetime, after: str = "", limit: int = 500) -> list[Delivery]:
    """Up to ``limit`` rows that may be sent now (pending, or deferred and due), in address order after ``after``."""
    cols = [deliveries.c[k] for k in ("address", "name", "list_id", "fields", "state", "attempts", "message_id")]
    stmt = (select(*cols).where(due_condition(run_id, now), deliveries.c.address > after)
            .order_by(deliveries.c.address).limit(limit))
    with engine.connect() as conn:
        return [Delivery(*row) for row in conn.execute(stmt)]


def count_due(engine: Engine, run_id: int, *, now: dt.datetime) -> int:
    """How many rows could be sent now."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(due_condition(run_id, now))).scalar_one())


def next_retry_at(engine: Engine, run_id: int) -> dt.datetime | None:
    """When the earliest deferred row becomes due (None when nothing is deferred)."""
    stmt = select(func.min(deliveries.c.next_attempt_at)).where(
        deliveries.c.run_id == run_id, deliveries.c.state == "deferred")
    with engine.connect() as conn:
        return aware(conn.execute(stmt).scalar_one())


def counts(engine: Engine, run_id: int) -> dict[str, int]:
    """Rows of the run by state (every state present, zeros included)."""
    stmt = select(deliveries.c.state, func.count()).where(deliveries.c.run_id == run_id).group_by(deliveries.c.state)
    with engine.connect() as conn:
        found = Counter({state: int(n) for state, n in conn.execute(stmt)})
    return {state: found.get(state, 0) for state in STATES}


@dataclass(frozen=True)
class Problem:
    """A recipient that failed or is uncertain, with the server's last word."""

    address: str
    state: str
    attempts: int
    last_reply: str
    updated_at: dt.datetime


def problems(engine: Engine, run_id: int) -> list[Problem]:
    """The run's failed and uncertain rows, by address."""
    stmt = (select(deliveries.c.address, deliveries.c.state, deliveries.c.attempts, deliveries.c.last_reply,
                   deliveries.c.updated_at)
            .where(deliveries.c.run_id == run_id, deliveries.c.state.in_(["failed", "uncertain"]))
            .order_by(deliveries.c.address))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [Problem(r.address, r.state, r.attempts, r.last_reply, aware(r.updated_at)) for r in rows]  # type: ignore[arg-type]

