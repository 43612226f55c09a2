"""Open the project's database for a command: the URL from settings (``--config``, environment, default).

A URL that names no known database, or whose driver is missing, is one :class:`MailerError` line
naming where the URL came from, never a traceback. Every engine opened here is disposed when the command ends
(:func:`dispose_opened`, from ``cli.main``): a PostgreSQL server keeps no connection of a finished command.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from solidarity_mailer.config import ENV_PREFIX, load_settings
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.location import check_exists, is_default, missing_file, sqlite_file
from solidarity_mailer.ledger.revision import one_line
from solidarity_mailer.ledger.schema import connect

ENV_VAR = ENV_PREFIX + "DATABASE"
_opened: list[Engine] = []  # this command's engines, disposed by dispose_opened()


def dispose_opened() -> None:
    """Close the connections of every engine the command opened (``cli.main`` calls it at the end)."""
    while _opened:
        _opened.pop().dispose()


def database_url(config_path: Path | None) -> str:
    """The database URL: ``SOLIDARITY_MAILER_DATABASE``, else the settings file, else the default."""
    return load_settings(config_path).database_url


def connect_url(url: str, config_path: Path | None = None, *, create: bool = True) -> Engine:
    """:func:`~solidarity_mailer.ledger.schema.connect`, with a bad URL, a missing driver or an unopenable file
    as one clear error (and a ledger at another schema revision as the one line of
    :class:`~solidarity_mailer.ledger.revision.SchemaVersionError`)."""
    with database_errors(url, config_path):
        engine = connect(url, create=create)
    _opened.append(engine)
    return engine


@contextlib.contextmanager
def database_errors(url: str, config_path: Path | None, doing: str = "cannot open it") -> Iterator[None]:
    """In the block, a bad URL, a missing driver or a database error is one :class:`MailerError` line naming
    where the URL came from."""
    try:
        yield
    except (ArgumentError, NoSuchModuleError, ImportError, OperationalError) as exc:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if isinstance(exc, NoSuchModuleError):
            why = f"no database kind '{scheme}' (use e.g. sqlite:///ledger.db or postgresql://…)"
        elif isinstance(exc, ImportError):
            why = f"the driver for '{scheme}' is not installed ({getattr(exc, 'name', None) or exc})"
        elif isinstance(exc, OperationalError):
            why = f"{doing}: {str(exc.orig).splitlines()[0] if exc.orig else exc}"
        else:
            why = "not a database URL (use e.g. sqlite:///ledger.db)"
        where = ENV_VAR if os.environ.get(ENV_VAR) else (config_path or "[database] url")
        raise MailerError(f"database URL: {why}", where=where) from None


def _source(config_path: Path | None) -> str:
    """Where the database URL came from, for messages."""
    return ENV_VAR if os.environ.get(ENV_VAR) else f"[database] url in {config_path or 'solidarity-mailer.toml'}"


def existing_ledger_url(config_path: Path | None) -> str:
    """The configured database URL, or one error line when it names an SQLite file that does not exist."""
    url = database_url(config_path)
    if (missing := missing_file(url)) is not None:
        raise MailerError("no ledger here: the file does not exist; nothing was created",
                          where=one_line(os.path.abspath(missing)),
                          hint="correct the URL, or create the ledger with `solidarity-mailer db init`")
    return url


def open_database(config_path: Path | None) -> Engine:
    """An engine for the configured ledger: created only at the default location, else it must exist."""
    url = database_url(config_path)
    check_exists(url, _source(config_path))
    return connect_url(url, config_path, create=is_default(url))


def existing_database(config_path: Path | None) -> Engine | None:
    """Like :func:`open_database`, but None when the ledger is the default one and does not exist yet."""
    url = database_url(config_path)
    check_exists(url, _source(config_path))
    return None if missing_file(url) else connect_url(url, config_path, create=is_default(url))


def read_only_database(config_path: Path | None) -> Engine:
    """For commands that only read: the ledger, or an empty in-memory one when the default ledger does not
    exist yet (so looking creates no folder and no file)."""
    if (engine := existing_database(config_path)) is None:
        _opened.append(engine := connect("sqlite://"))
    return engine


def create_database(config_path: Path | None) -> tuple[Engine, str]:
    """``db init``: the configured ledger, created if it does not exist; and where it is."""
    from solidarity_mailer.ledger.reachability import loggable_url

    url = database_url(config_path)
    path = sqlite_file(url)
    return connect_url(url, config_path), str(path.resolve()) if path else loggable_url(url)
