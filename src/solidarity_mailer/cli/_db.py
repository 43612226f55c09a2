"""Open the project's database for a command: the URL from settings (``--config``, environment, default)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from ..config import load_settings
from ..db import connect


def database_url(config_path: Path | None) -> str:
    """The database URL: ``SOLIDARITY_MAILER_DATABASE``, else the settings file, else the default."""
    return load_settings(config_path).database_url


def open_database(config_path: Path | None) -> Engine:
    """An engine for the configured database, its schema created if needed."""
    return connect(database_url(config_path))


def existing_database(config_path: Path | None) -> Engine | None:
    """Like :func:`open_database`, but None when the database is a SQLite file that does not exist yet."""
    url = database_url(config_path)
    prefix = "sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url and not Path(url.removeprefix(prefix)).expanduser().exists():
        return None
    return connect(url)
