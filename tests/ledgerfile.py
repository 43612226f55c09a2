"""A ledger made before a command runs, as `solidarity-mailer db init` makes it: commands create a ledger only at
the project's default place (``solidarity-mailer.db``), so a test whose settings name another file makes it first."""

from __future__ import annotations

from pathlib import Path

from solidarity_mailer.ledger.schema import connect
from tests.databases import ledger_url


def existing_ledger(path: Path) -> str:
    """The URL of the ledger at ``path`` (an SQLite file, or that path's PostgreSQL database under
    ``--database postgresql``: tests/databases.py), created with today's schema if it is not there yet."""
    url = ledger_url(path.parent, path.name)
    connect(url).dispose()
    return url
