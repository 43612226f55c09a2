"""A lease on a run (``run:{id}`` in ``locks``): one process sends a given run at a time.

The lease exists for crash recovery: only its holder may turn rows left ``sending`` into ``uncertain``.
See :mod:`solidarity_mailer.ledger.leases` for take-over rules (expired, or its holder process is gone).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, text

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import leases as lease
from solidarity_mailer.ledger.schema import aware, locks

TTL = dt.timedelta(seconds=120)


def holder_id() -> str:
    """This process, as ``host:pid``."""
    return lease.holder_id()


def _name(run_id: int) -> str:
    return f"run:{run_id}"


def acquire(engine: Engine, run_id: int, *, now: dt.datetime, holder: str | None = None) -> str:
    """Take the run's lease; a :class:`MailerError` when another live process holds it. Returns the holder id."""
    holder = holder or holder_id()
    other = lease.try_acquire(engine, _name(run_id), holder, ttl=TTL, now=now)
    if other is not None:
        raise MailerError(f"run {run_id} is being sent by {other}", hint="wait for it to finish, or stop that process")
    return holder


def renew(engine: Engine, run_id: int, holder: str, *, now: dt.datetime) -> bool:
    """Extend the lease (the feeder calls this every batch); False when it was lost to another process."""
    return lease.renew(engine, _name(run_id), holder, ttl=TTL, now=now)


_WATCH = text("SELECT runs.state, locks.holder FROM runs LEFT JOIN locks ON locks.name = :lock WHERE runs.id = :run")


def watch(engine: Engine, run_id: int) -> tuple[str, str | None]:
    """The run's state and its lease holder in one read (the feeder looks every few dozen messages)."""
    with engine.connect() as conn:
        state, holder = conn.execute(_WATCH, {"lock": _name(run_id), "run": run_id}).one()
    return str(state), holder


def release(engine: Engine, run_id: int, holder: str) -> None:
    """Give the lease up."""
    lease.release(engine, _name(run_id), holder)


def held_by_another(engine: Engine, run_id: int, *, now: dt.datetime) -> bool:
    """True while another process (not this one) holds an unexpired lease on the run."""
    with engine.connect() as conn:
        row = conn.execute(select(locks.c.holder, locks.c.expires_at).where(locks.c.name == _name(run_id))).first()
    if row is None:
        return False
    expires = aware(row.expires_at)
    return row.holder != holder_id() and expires is not None and expires > now
