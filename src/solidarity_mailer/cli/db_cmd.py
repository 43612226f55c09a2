"""``solidarity-mailer db init``: create the ledger that the configuration names.

Commands create a ledger only at the default location (``solidarity-mailer.db`` in the working folder);
any other location is created here, on purpose, so that a mistyped URL never starts an empty ledger.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group("db")
def db_group() -> None:
    """The ledger (the database of runs, deliveries, schedules and suppressions)."""


@db_group.command("init")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default: ./solidarity-mailer.toml).")
def init_command(config_path: Path | None) -> None:
    """Create the ledger named by [database] url or SOLIDARITY_MAILER_DATABASE (an existing one is kept)."""
    from solidarity_mailer.cli._db import create_database, database_url
    from solidarity_mailer.ledger.location import missing_file, sqlite_file

    url = database_url(config_path)
    new = missing_file(url) is not None
    _, where = create_database(config_path)
    if sqlite_file(url) is None:
        click.echo(f"the ledger at {where} is ready (its tables created where missing)")
    else:
        click.echo(f"created the ledger at {where}" if new else
                   f"the ledger at {where} exists already; nothing changed")
