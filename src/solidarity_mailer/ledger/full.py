"""A full disk under the ledger: recognised in whichever form it is reported, turned into one clear error.

SQLite reports it as SQLITE_FULL ("database or disk is full"), raised by the DBAPI connection itself (the ledger
writer) or wrapped by SQLAlchemy (``exc.orig``); other writes may see ``OSError(ENOSPC)``. PostgreSQL reports it
as SQLSTATE 53100 (``disk_full``; psycopg's ``DiskFull``), the server's own disk being full. Whatever was committed
before stays committed, so a run stopped by it can be continued once there is space again.
"""

from __future__ import annotations

import errno
import os
import sqlite3

from sqlalchemy import Engine

from solidarity_mailer.errors import MailerError, error_chain

SQLITE_FULL = 13
POSTGRESQL_DISK_FULL = "53100"


class LedgerFull(MailerError):
    """The ledger's disk is full: nothing more can be recorded, so nothing more may be sent."""

    def __init__(self, location: str, resume: str) -> None:
        super().__init__("the ledger's disk is full", where=location, hint=f"free space, then {resume}")


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc``, or an error it wraps or was raised from, says the disk under the database is full."""
    return any(_says_full(error) for error in error_chain(exc))


def _says_full(exc: BaseException) -> bool:
    if isinstance(exc, LedgerFull):
        return True
    if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_FULL
                                           or "database or disk is full" in str(exc)):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return getattr(exc, "sqlstate", None) == POSTGRESQL_DISK_FULL  # psycopg's errors, without importing psycopg


def location(engine: Engine) -> str:
    """Where the ledger is, for people: the SQLite file, or the database URL without its password."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return os.path.abspath(url.database)
    return url.render_as_string(hide_password=True)
