"""A lease on a run (a row in ``locks``): one process sends a given run at a time.

The lease exists for crash recovery: only its holder may turn rows left ``sending`` into ``uncertain``.
A lease is taken over when it expired, or when its holder is a process on this host that no longer
exists (``kill -9``), so a restart never waits for the lease to run out.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from .db import locks
from .errors import MailerError

TTL = dt.timedelta(seconds=120)


def holder_id() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _name(run_id: int) -> str:
    return f"run:{run_id}"


def acquire(engine: Engine, run_id: int, *, now: dt.datetime, holder: str | None = None) -> str:
    """Take the run's lease; a :class:`MailerError` when another live process holds it. Returns the holder id."""
    holder = holder or holder_id()
    name = _name(run_id)
    with engine.begin() as conn:
        row = conn.execute(select(locks.c.holder, locks.c.expires_at).where(locks.c.name == name)).first()
        if row is None:
            try:
                conn.execute(locks.insert().values(name=name, holder=holder, expires_at=now + TTL))
            except IntegrityError:
                raise MailerError(f"run {run_id} is being sent by another process right now") from None
            return holder
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        if row.holder != holder and expires > now and not _dead_here(row.holder):
            raise MailerError(f"run {run_id} is being sent by {row.holder}",
                              hint="wait for it to finish, or stop that process")
        conn.execute(update(locks).where(locks.c.name == name, locks.c.holder == row.holder)
                     .values(holder=holder, expires_at=now + TTL))
    return holder


def renew(engine: Engine, run_id: int, holder: str, *, now: dt.datetime) -> None:
    """Extend the lease (the dispatcher calls this every batch)."""
    with engine.begin() as conn:
        conn.execute(update(locks).where(locks.c.name == _name(run_id), locks.c.holder == holder)
                     .values(expires_at=now + TTL))


def release(engine: Engine, run_id: int, holder: str) -> None:
    """Give the lease up."""
    with engine.begin() as conn:
        conn.execute(delete(locks).where(locks.c.name == _name(run_id), locks.c.holder == holder))
