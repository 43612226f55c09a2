"""The scheduler's lease: one daemon per database (``scheduler`` in ``locks``).

The holder (``host:pid:nonce``) renews the lease every sync (a few seconds); it lasts ``ttl`` (``[scheduler]
lease_seconds``, :data:`TTL` by default), so a daemon waiting with ``run --wait`` takes over within that time of
the holder's death on another host, and at once on this one.
A second daemon finds the lease held and refuses to start (or, with ``run --wait``, idles until it is
free). See :mod:`solidarity_mailer.ledger.leases` for take-over rules (expired, or its holder process is gone).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import Engine

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import leases as lease

log = logging.getLogger("solidarity_mailer.schedule.daemon")

NAME = "scheduler"
TTL = dt.timedelta(seconds=30)


def new_holder() -> str:
    """A holder id for this process: ``host:pid:nonce``."""
    return lease.holder_id(nonce=True)


def try_acquire(engine: Engine, holder: str, *, now: dt.datetime, ttl: dt.timedelta = TTL) -> str | None:
    """Take the lease; None on success, else the live holder's id."""
    return lease.try_acquire(engine, NAME, holder, ttl=ttl, now=now)


def acquire(engine: Engine, holder: str, *, now: dt.datetime, ttl: dt.timedelta = TTL) -> None:
    """Take the lease or raise a clear :class:`MailerError` naming the daemon that holds it."""
    other = try_acquire(engine, holder, now=now, ttl=ttl)
    if other is not None:
        raise MailerError(
            f"another scheduler daemon ({other}) is running on this database",
            hint="stop it first, or start this one with `solidarity-mailer run --wait` to take over when it stops",
        )


def renew(engine: Engine, holder: str, *, now: dt.datetime, ttl: dt.timedelta = TTL) -> bool:
    """Extend the lease; False when it is no longer ours (another daemon took it over)."""
    return lease.renew(engine, NAME, holder, ttl=ttl, now=now)


def release(engine: Engine, holder: str) -> None:
    """Give the lease up (on a clean stop)."""
    lease.release(engine, NAME, holder)


def wait_to_acquire(engine: Engine, holder: str, *, ttl: dt.timedelta, stopping: threading.Event,
                    every: float) -> bool:
    """Take the lease once it is free (``run --wait``), trying every ``every`` seconds; False when ``stopping``
    was set first."""
    announced = False
    while (other := try_acquire(engine, holder, now=dt.datetime.now(dt.UTC), ttl=ttl)) is not None:
        if not announced:
            log.info("another daemon (%s) holds the lease; waiting idle until it stops", other)
            announced = True
        if stopping.wait(every):
            return False
    return True
