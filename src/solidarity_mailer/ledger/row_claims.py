"""Several workers on one run: the ledger is the work queue.

Each process that delivers a run is a *worker*, named ``host:pid:nonce``, and holds a lease on the run in
``locks`` (``deliver/run_lease.py``): ``run:{id}`` alone on SQLite (one worker per run), ``run:{id}:{worker}``
per worker on PostgreSQL. A worker takes due rows in batches with :func:`claim_batch`: on PostgreSQL an
``UPDATE … WHERE address IN (SELECT … FOR UPDATE SKIP LOCKED)``, so two workers never take the same rows and
never wait for each other. A claimed row stays ``pending`` and carries ``worker`` and ``claimed_until``;
the worker renews that time with its lease (:func:`renew_claims`). Just before its message is handed over,
the claim loop moves the row to ``sending`` (``ledger/writer.py``), which only its worker can do.

When a worker dies, :func:`recover_dead_workers` (called by every worker when it starts and whenever it runs
out of rows) frees the ``pending`` rows it held, which had not been handed over, and turns its ``sending``
rows into ``uncertain``, as after a crash of a single process. A worker whose lease expired without dying
(stalled) finds its lease gone at its next renewal and stops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, exists, func, or_, select, update

from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.leases import holder_process, process_gone
from solidarity_mailer.ledger.queries import due_condition
from solidarity_mailer.ledger.schema import aware, deliveries, locks

INTERRUPTED = "interrupted while the message was being handed over: maybe delivered"
POLL_SECONDS = 1.0  # how soon a worker looks again while other workers hand rows over
_COLUMNS = ("address", "name", "list_id", "fields", "state", "attempts", "message_id")  # Delivery's


def lease_name(run_id: int, worker: str, *, shared: bool) -> str:
    """The name of ``worker``'s lease on the run: ``run:{id}`` (one worker) or ``run:{id}:{worker}``."""
    return f"run:{run_id}:{worker}" if shared else f"run:{run_id}"


def _run_leases(run_id: int):  # type: ignore[no-untyped-def]
    return or_(locks.c.name == f"run:{run_id}", locks.c.name.like(f"run:{run_id}:%"))


def claim_batch(engine: Engine, run_id: int, worker: str, *, now: dt.datetime, until: dt.datetime,
                after: str = "", limit: int = 200) -> list[Delivery]:
    """Take up to ``limit`` due rows after ``after`` (address order) for ``worker`` until ``until``.

    Rows held by another worker whose time has not run out are skipped, as are rows another transaction is
    claiming at this instant (``SKIP LOCKED``; SQLite has one writer at a time). Rows ``worker`` holds
    already are returned again (after an outage the feeder starts over from the first address).
    """
    free = or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now,
               deliveries.c.worker == worker)
    # A CTE, never ``address IN (subquery)``: PostgreSQL may run such a subquery again for each row it updates,
    # and each run takes another LIMIT (a test claimed all 500 rows with limit 200). With FOR UPDATE the CTE
    # runs once.
    picked = (select(deliveries.c.address)
              .where(due_condition(run_id, now), free, deliveries.c.address > after)
              .order_by(deliveries.c.address).limit(limit).with_for_update(skip_locked=True)).cte("picked")
    stmt = (update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.address == picked.c.address)
            .values(worker=worker, claimed_until=until).returning(*(deliveries.c[k] for k in _COLUMNS)))
    with engine.begin() as conn:
        rows = [Delivery(*row) for row in conn.execute(stmt)]
    return sorted(rows, key=lambda row: row.address)


def renew_claims(engine: Engine, run_id: int, worker: str, *, until: dt.datetime) -> int:
    """Extend the time of the rows ``worker`` holds (with its lease); returns how many."""
    stmt = (update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.worker == worker,
                                     deliveries.c.claimed_until.is_not(None),
                                     deliveries.c.state.in_(("pending", "deferred")))
            .values(claimed_until=until))
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount)


def release_claims(engine: Engine, run_id: int, worker: str) -> int:
    """Give up the rows ``worker`` holds and did not hand over (it stops): others may take them at once."""
    stmt = (update(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.worker == worker,
                                     deliveries.c.claimed_until.is_not(None))
            .values(claimed_until=None))
    with engine.begin() as conn:
        return int(conn.execute(stmt).rowcount)


def _live_lease(run_id: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    return exists().where(_run_leases(run_id), locks.c.holder == deliveries.c.worker, locks.c.expires_at > now)


def recover_dead_workers(engine: Engine, run_id: int, *, now: dt.datetime, worker: str = "") -> int:
    """Free the rows of the run's dead workers: held ``pending`` rows become free, ``sending`` rows (their
    message was being handed over) ``uncertain``. Returns how many became uncertain.

    A worker is dead when it holds no unexpired lease on the run; the lease of a process of this host that no
    longer exists is removed first, so a worker killed here is recovered at once. One statement each, so a
    worker starting meanwhile (its lease is committed before its first claim) is never mistaken for dead.
    The calling ``worker`` is alive, whatever its lease says, and holds no message in hand when it calls (it
    starts, or every row it took is answered and recorded): a row still ``sending`` under its name is one whose
    recorded outcome a database crash lost (an acknowledged COMMIT not yet durable), and becomes ``uncertain`` too.
    """
    with engine.connect() as conn:
        holders = [(name, holder) for name, holder in
                   conn.execute(select(locks.c.name, locks.c.holder).where(_run_leases(run_id)))]
    gone = [name for name, holder in holders if holder != worker and process_gone(holder)]
    with engine.begin() as conn:
        if gone:
            conn.execute(delete(locks).where(locks.c.name.in_(gone)))
        conn.execute(delete(locks).where(_run_leases(run_id), locks.c.expires_at <= now, locks.c.holder != worker))
        dead = or_(deliveries.c.worker.is_(None),
                   and_(deliveries.c.worker != worker, ~_live_lease(run_id, now)))
        conn.execute(update(deliveries).where(
            deliveries.c.run_id == run_id, deliveries.c.claimed_until.is_not(None), dead).values(claimed_until=None))
        return int(conn.execute(update(deliveries).where(
            deliveries.c.run_id == run_id, deliveries.c.state == "sending", or_(dead, deliveries.c.worker == worker))
            .values(state="uncertain", updated_at=now, last_reply=INTERRUPTED)).rowcount)


def other_workers(engine: Engine, run_id: int, worker: str, *, now: dt.datetime) -> list[str]:
    """The other workers holding an unexpired lease on the run."""
    stmt = select(locks.c.holder).where(_run_leases(run_id), locks.c.holder != worker, locks.c.expires_at > now)
    with engine.connect() as conn:
        return [str(h) for h in conn.execute(stmt).scalars()]


def next_look(engine: Engine, run_id: int, worker: str, *, now: dt.datetime) -> dt.datetime | None:
    """When ``worker``, finding no row due, should look again; None when the run has nothing left to send.

    Deferred rows are due at their retry time; rows other workers hold, when their time runs out; rows other
    workers are handing over, in :data:`POLL_SECONDS` (a retry may follow).
    """
    stmt = (select(deliveries.c.state, func.min(deliveries.c.next_attempt_at), func.min(deliveries.c.claimed_until),
                   func.count())
            .where(deliveries.c.run_id == run_id, deliveries.c.state.in_(("pending", "deferred", "sending")),
                   or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now))  # (else: send windows)
            .group_by(deliveries.c.state))
    times: list[dt.datetime] = []
    with engine.connect() as conn:
        for state, retry_at, held_until, _n in conn.execute(stmt):
            if state == "deferred" and retry_at is not None:
                times.append(aware(retry_at))
            elif state == "pending":
                times.append(aware(held_until) if held_until is not None else now)
            else:
                times.append(now + dt.timedelta(seconds=POLL_SECONDS))
    return min(times) if times else None


@dataclass(frozen=True)
class WorkerSent:
    """What one worker sent of a run."""

    host: str
    pid: int
    sent: int


def sent_by_worker(engine: Engine, run_id: int) -> list[WorkerSent]:
    """Messages of the run sent, per worker (host and process id), most first; rows of earlier revisions
    (no worker recorded) are left out."""
    stmt = (select(deliveries.c.worker, func.count()).where(
        deliveries.c.run_id == run_id, deliveries.c.state == "sent", deliveries.c.worker.is_not(None))
        .group_by(deliveries.c.worker))
    per: dict[tuple[str, int], int] = {}
    with engine.connect() as conn:
        for worker, n in conn.execute(stmt):
            key = holder_process(str(worker))
            per[key] = per.get(key, 0) + int(n)
    return sorted((WorkerSent(h, p, n) for (h, p), n in per.items()), key=lambda w: (-w.sent, w.host, w.pid))


def live_workers(engine: Engine, *, now: dt.datetime) -> dict[int, list[str]]:
    """Workers holding an unexpired lease, per run id."""
    stmt = select(locks.c.name, locks.c.holder).where(locks.c.name.like("run:%"), locks.c.expires_at > now)
    found: dict[int, list[str]] = {}
    with engine.connect() as conn:
        for name, holder in conn.execute(stmt):
            run = str(name).split(":")[1]
            if run.isdigit():
                found.setdefault(int(run), []).append(str(holder))
    return found

