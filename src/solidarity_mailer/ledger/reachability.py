"""The database gone away: which errors say so, how long to wait before trying again, and the URL as logs show it.

On PostgreSQL a server that stops or restarts (SQLSTATE 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
cannot_connect_now), refuses a connection (nothing listening, too many clients: 53300) or drops one mid-transaction
(class 08, or psycopg's "server closed the connection" without a SQLSTATE) is an outage: workers and the daemon wait
with :class:`Backoff` and go on when it is back. No SQLite error is one (a locked or full database is not an outage),
nor a full disk on PostgreSQL (53100: ``ledger/full.py``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from solidarity_mailer.clock import duration
from solidarity_mailer.display import visible
from solidarity_mailer.errors import error_chain

FIRST_DELAY = 1.0  # seconds before the first retry
MAX_DELAY = 30.0  # the backoff's cap: an outage of a minute costs at most this much after it ends
_OUTAGE_STATES = {"57P01", "57P02", "57P03", "53300"}
_DRIVER_CLASSES = {"OperationalError", "InterfaceError"}


class DatabaseUnreachable(Exception):
    """Raised where an outage seen by another thread must stop this one's work (it carries the first error)."""


def database_unreachable(exc: BaseException | None) -> bool:
    """True when ``exc``, or an error it wraps or was raised from, says the PostgreSQL server cannot be reached."""
    for error in error_chain(exc):  # the first that says either way
        if isinstance(error, DatabaseUnreachable):
            return True
        if _psycopg_error(error):
            state = getattr(error, "sqlstate", None)
            return state is None or state.startswith("08") or state in _OUTAGE_STATES
        if isinstance(error, DBAPIError) and error.connection_invalidated and _psycopg_error(error.orig):
            return True
    return False


def _psycopg_error(exc: BaseException | None) -> bool:
    """psycopg's OperationalError or InterfaceError (or a subclass), recognised without importing psycopg."""
    return exc is not None and any(c.__module__.startswith("psycopg") and c.__name__ in _DRIVER_CLASSES
                                   for c in type(exc).__mro__)


def reason(exc: BaseException) -> str:
    """The driver's own first line about the outage (no URL, no password: psycopg names host and socket only)."""
    for inner in error_chain(exc):  # the innermost driver error (or ours) says it best
        if _psycopg_error(inner) or isinstance(inner, DatabaseUnreachable):
            exc = inner
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return visible(first[:300])


@dataclass
class Backoff:
    """Exponential delays with jitter: :data:`FIRST_DELAY`, doubling, at most :data:`MAX_DELAY`; each delay is
    drawn between half and all of that (so workers that lost the database together do not return in step)."""

    first: float = FIRST_DELAY
    cap: float = MAX_DELAY
    attempt: int = 0
    draw: Callable[[], float] = field(default=random.random, repr=False)

    def next_delay(self) -> float:
        """The next wait, in seconds."""
        ceiling = min(self.cap, self.first * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return ceiling * (0.5 + self.draw() / 2)


def wait_until_reachable(probe: Callable[[], None], *, sleep: Callable[[float], None], stopped: Callable[[], bool],
                         backoff: Backoff | None = None) -> bool:
    """Call ``probe`` after each backoff delay until it raises no outage error; False when ``stopped`` first.
    Any other error is raised."""
    backoff = backoff or Backoff()
    while True:
        sleep(backoff.next_delay())
        if stopped():
            return False
        try:
            probe()
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            continue
        return True


def ping(engine: Engine) -> None:
    """One round trip to the database (raises when it cannot be reached)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class OutageLog:
    """For a loop that tries again by itself (the daemon's sync): whether to try now (:meth:`due`, after the backoff's
    delay), and one line when the database goes away (:meth:`failed`) and one when it is back (:meth:`succeeded`)."""

    def __init__(self, engine: Engine, what: str, log: logging.Logger) -> None:
        self.url, self.what, self.log = loggable_url(engine.url.render_as_string(hide_password=False)), what, log
        self.backoff: Backoff | None = None
        self.since = self.retry_at = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self.retry_at

    def failed(self, exc: BaseException) -> None:
        if self.backoff is None:
            self.backoff, self.since = Backoff(), time.monotonic()
            self.log.warning("the database %s is unreachable (%s); %s pauses and tries again with backoff, up to "
                             "%.0f s", self.url, reason(exc), self.what, self.backoff.cap)
        self.retry_at = time.monotonic() + self.backoff.next_delay()

    def succeeded(self) -> None:
        if self.backoff is not None:
            self.log.info("the database is back after %s; %s goes on", duration(time.monotonic() - self.since),
                          self.what)
            self.backoff, self.retry_at = None, 0.0


def loggable_url(url: str) -> str:
    """The database URL for the log: its password and its query (where a password can hide too) left out."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(a URL SQLAlchemy cannot read)"
    user = f"{parsed.username}{':***' if parsed.password else ''}@" if parsed.username else ""
    host = (parsed.host or "").rpartition("@")[2]  # a raw '@' in a password: SQLAlchemy ends it at the first
    port = f":{parsed.port}" if parsed.port else ""
    database = f"/{parsed.database}" if parsed.database else ""
    return f"{parsed.drivername}://{user}{host}{port}{database}{'?…' if parsed.query else ''}"
