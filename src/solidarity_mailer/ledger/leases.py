"""Named leases in the ``locks`` table: at most one live holder per name, renewed while held.

A lease is taken over when it has expired, or at once when its holder was a process on this host that
no longer exists (``kill -9``, a crash), so a restart never waits for the lease to run out. Holders are
``host:pid`` or ``host:pid:nonce``. Used for the scheduler daemon (``schedule/daemon_lease.py``) and for
each run being sent (``deliver/run_lease.py``).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from solidarity_mailer.ledger.schema import aware, locks


def holder_id(*, nonce: bool = False) -> str:
    """This process as a holder id: ``host:pid``, or ``host:pid:nonce`` to tell apart holders in one process."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{secrets.token_hex(3)}" if nonce else base


def holder_process(holder: str) -> tuple[str, int]:
    """The host and process id a holder id names (``0`` when it names no process id)."""
    host, _, rest = holder.partition(":")
    pid = rest.split(":")[0]
    return host, int(pid) if pid.isdigit() else 0


def process_gone(holder: str) -> bool:
    """True when ``holder`` names a process on this host that no longer exists."""
    host, pid = holder_process(holder)
    if host != socket.gethostname() or pid == 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def try_acquire(engine: Engine, name: str, holder: str, *, ttl: dt.timedelta, now: dt.datetime) -> str | None:
    """Take lease ``name`` for ``holder``; None on success, else the id of the live holder."""
    with engine.begin() as conn:
        row = conn.execute(select(locks.c.holder, locks.c.expires_at).where(locks.c.name == name)).first()
        if row is None:
            try:
                conn.execute(locks.insert().values(name=name, holder=holder, expires_at=now + ttl))
            except IntegrityError:
                return "another process"
            return None
        expires = aware(row.expires_at)
        if row.holder != holder and expires > now and not process_gone(row.holder):
            return str(row.holder)
        taken = conn.execute(update(locks).where(locks.c.name == name, locks.c.holder == row.holder)
                             .values(holder=holder, expires_at=now + ttl)).rowcount
        return None if taken else "another process"


def renew(engine: Engine, name: str, holder: str, *, ttl: dt.timedelta, now: dt.datetime) -> bool:
    """Extend the lease; False when it is no longer ``holder``'s (taken over after it expired)."""
    with engine.begin() as conn:
        return bool(conn.execute(update(locks).where(locks.c.name == name, locks.c.holder == holder)
                                 .values(expires_at=now + ttl)).rowcount)


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up, if ``holder`` still has it."""
    with engine.begin() as conn:
        conn.execute(delete(locks).where(locks.c.name == name, locks.c.holder == holder))
