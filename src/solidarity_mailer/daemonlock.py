"""The scheduler's lease: one daemon per database (a row named ``scheduler`` in ``locks``).

The holder (``host:pid:nonce``) renews the lease every sync (a few seconds); it lasts :data:`TTL`.
A second daemon finds the lease held and refuses to start (or, with ``run --wait``, idles until it is
free). The lease is taken over when it expired, or at once when its holder was a process on this host
that no longer exists (``kill -9``, a crash), so a restart never waits for the lease to run out.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from .db import locks
from .errors import MailerError
from .ledger import aware

NAME = "scheduler"
TTL = dt.timedelta(seconds=30)


def new_holder() -> str:
    """A holder id for this process: ``host:pid:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _dead_here(holder: str) -> bool:
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def try_acquire(engine: Engine, holder: str, *, now: dt.datetime) -> str | None:
    """Take the lease; None on success, else the live holder's id."""
    with engine.begin() as conn:
        row = conn.execute(select(locks.c.holder, locks.c.expires_at).where(locks.c.name == NAME)).first()
        if row is None:
            try:
                conn.execute(locks.insert().values(name=NAME, holder=holder, expires_at=now + TTL))
            except IntegrityError:
                return "another daemon"
            return None
        expires = aware(row.expires_at)
        assert expires is not None
        if row.holder != holder and expires > now and not _dead_here(row.holder):
            return str(row.holder)
        taken = conn.execute(update(locks).where(locks.c.name == NAME, locks.c.holder == row.holder)
                             .values(holder=holder, expires_at=now + TTL)).rowcount
        return None if taken else "another daemon"


def acquire(engine: Engine, holder: str, *, now: dt.datetime) -> None:
    """Take the lease or raise a clear :class:`MailerError` naming the daemon that holds it."""
    other = try_acquire(engine, holder, now=now)
    if other is not None:
        raise MailerError(
            f"another scheduler daemon ({other}) is running on this database",
            hint="stop it first, or start this one with `solidarity-mailer run --wait` to take over when it stops",
        )


def renew(engine: Engine, holder: str, *, now: dt.datetime) -> bool:
    """Extend the lease; False when it is no longer ours (another daemon took it over)."""
    with engine.begin() as conn:
        return bool(conn.execute(update(locks).where(locks.c.name == NAME, locks.c.holder == holder)
                                 .values(expires_at=now + TTL)).rowcount)


def release(engine: Engine, holder: str) -> None:
    """Give the lease up (on a clean stop)."""
    with engine.begin() as conn:
        conn.execute(delete(locks).where(locks.c.name == NAME, locks.c.holder == holder))
