"""``solidarity-mailer db init|upgrade|current``: create the ledger, its schema revision, upgrading it in place.

Commands create a ledger only at the default location (``solidarity-mailer.db`` in the working folder); any other
location is created by ``db init``, on purpose, so that a mistyped URL never starts an empty ledger.

Alembic is imported by ``db upgrade`` alone; every other command checks the revision with
ledger/revision.py when it opens the ledger (``schema.connect``).
"""

from __future__ import annotations

from pathlib import Path

import click

from solidarity_mailer.cli._db import database_errors, existing_ledger_url
from solidarity_mailer.ledger.revision import HEAD, Version, read_version, where
from solidarity_mailer.ledger.schema import open_engine

_config = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                       help="Settings file (default: ./solidarity-mailer.toml).")


@click.group("db")
def db_group() -> None:
    """The ledger: creating it, its schema's revision, and upgrading it after installing a new release."""


@db_group.command("init")
@_config
def init_command(config_path: Path | None) -> None:
    """Create the ledger named by [database] url or SOLIDARITY_MAILER_DATABASE (an existing one is kept)."""
    from solidarity_mailer.cli._db import create_database, database_url
    from solidarity_mailer.ledger.location import missing_file

    url = database_url(config_path)
    new = missing_file(url) is not None
    if not new:
        with database_errors(url, config_path):
            engine = open_engine(url)
            try:
                with engine.connect() as conn:
                    new = read_version(conn).empty
            finally:
                engine.dispose()
    engine, location = create_database(config_path)
    engine.dispose()
    click.echo(f"created the ledger at {location}" if new else
               f"the ledger at {location} exists already; nothing changed")


@db_group.command("upgrade")
@_config
def upgrade_command(config_path: Path | None) -> None:
    """Upgrade the ledger's schema in place to this release's, in one transaction (back it up first).

    A ledger of release 0.1.0 (no revision) is recognised by its tables. Run again, it changes nothing."""
    from solidarity_mailer.ledger import migrate

    url = existing_ledger_url(config_path)
    with database_errors(url, config_path, doing="cannot upgrade it"):
        done = migrate.upgrade(url)
    click.echo(done.line())


@db_group.command("current")
@_config
def current_command(config_path: Path | None) -> None:
    """Print the revision the ledger's schema is at (or that it is a 0.1.0 ledger, or empty)."""
    url = existing_ledger_url(config_path)
    with database_errors(url, config_path):
        engine = open_engine(url)
        try:
            with engine.connect() as conn:
                version = read_version(conn)
            location = where(engine)
        finally:
            engine.dispose()
    click.echo(f"ledger {location}: {_state(version)}")


def _state(version: Version) -> str:
    if version.current:
        return f"revision {HEAD}, this release's"
    if version.empty:
        return f"empty (the first command that opens it creates revision {HEAD})"
    if version.older:
        return f"{version.describe()}, older than this release's {HEAD}: run `solidarity-mailer db upgrade`"
    return f"{version.describe()}, newer than this release, which knows revisions up to {HEAD}"
