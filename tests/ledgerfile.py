"""A ledger made before a command runs, as `solidarity-mailer db init` makes it: commands create a ledger only at
the project's default place (``solidarity-mailer.db``), so a test whose settings name another file makes it first."""

from __future__ import annotations

from pathlib import Path

from solidarity_mailer.ledger.schema import connect


def existing_ledger(path: Path) -> str:
    """The SQLite URL of a ledger at ``path``, created (with today's schema) if it is not there yet."""
    url = f"sqlite:///{path}"
    connect(url).dispose()
    return url
