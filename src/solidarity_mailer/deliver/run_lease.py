"""A worker's lease on a run it delivers (``locks``): renewed while it works, the key to crash recovery.

On SQLite one process sends a given run at a time: the lease is ``run:{id}`` and a second process is refused
with one line. On PostgreSQL any number of workers share a run, each with its own lease ``run:{id}:{worker}``;
their rows are kept apart by the ledger's claims (``ledger/row_claims.py``). Either way a worker's lease is its
proof of life: once it has expired (or its process on this host is gone) the worker's rows are recovered by
the others. See :mod:`solidarity_mailer.ledger.leases` for take-over rules.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, text

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import leases as lease
from solidarity_mailer.ledger.row_claims import lease_name
from solidarity_mailer.ledger.schema import aware, locks

TTL = dt.timedelta(seconds=30)  # default of ``[delivery] lease_seconds``


def shared(engine: Engine) -> bool:
    """Whether several workers may deliver one run at once (PostgreSQL) or only one (SQLite)."""
    return engine.dialect.name == "postgresql"


def holder_id() -> str:
    """A new worker id for this process: ``host:pid:nonce`` (each delivery call is a worker of its own)."""
    return lease.holder_id(nonce=True)


def acquire(engine: Engine, run_id: int, *, now: dt.datetime, holder: str | None = None,
            ttl: dt.timedelta = TTL) -> str:
    """Take this worker's lease on the run; a :class:`MailerError` when, on SQLite, another live process holds
    the run. Returns the worker id."""
    holder = holder or holder_id()
    other = lease.try_acquire(engine, lease_name(run_id, holder, shared=shared(engine)), holder, ttl=ttl, now=now)
    if other is not None:
        raise MailerError(f"run {run_id} is being sent by {other}",
                          hint="wait for it to finish, or stop that process (several sending processes need a "
                               "PostgreSQL ledger)")
    return holder


def renew(engine: Engine, run_id: int, holder: str, *, now: dt.datetime, ttl: dt.timedelta = TTL) -> bool:
    """Extend the lease (the feeder calls this every batch); False when it was lost (taken over after it
    expired, or removed by a worker that found it expired)."""
    return lease.renew(engine, lease_name(run_id, holder, shared=shared(engine)), holder, ttl=ttl, now=now)


_WATCH = text("SELECT runs.state, locks.holder FROM runs LEFT JOIN locks ON locks.name = :lock WHERE runs.id = :run")


def watch(engine: Engine, run_id: int, holder: str) -> tuple[str, bool]:
    """The run's state, and whether ``holder`` still holds its lease, in one read."""
    name = lease_name(run_id, holder, shared=shared(engine))
    with engine.connect() as conn:
        state, current = conn.execute(_WATCH, {"lock": name, "run": run_id}).one()
    return str(state), current == holder


def release(engine: Engine, run_id: int, holder: str) -> None:
    """Give the lease up."""
    lease.release(engine, lease_name(run_id, holder, shared=shared(engine)), holder)


def held_by_another(engine: Engine, run_id: int, *, now: dt.datetime) -> bool:
    """True while, on SQLite, another process holds an unexpired lease on the run."""
    with engine.connect() as conn:
        row = conn.execute(select(locks.c.holder, locks.c.expires_at).where(locks.c.name == f"run:{run_id}")).first()
    if row is None:
        return False
    expires = aware(row.expires_at)
    mine = lease.holder_id()
    ours = row.holder == mine or str(row.holder).startswith(f"{mine}:")
    return not ours and expires is not None and expires > now
