"""Where the ledger lives, whether a command may create it there (issue 12, hole 2).

A ledger is created only at the project's default location (``solidarity-mailer.db`` in the working folder,
beside ``solidarity-mailer.toml``) or by ``solidarity-mailer db init``. A configured SQLite file that does not
exist is a mistyped location far more often than a wish for a new, empty ledger: sending on one would mail
everyone again and ignore every suppression. :func:`check_exists` refuses it with one line naming the file.
"""

from __future__ import annotations

from pathlib import Path

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.schema import DEFAULT_DATABASE

SQLITE_FILE = "sqlite:///"
DEFAULT_FILE = DEFAULT_DATABASE.removeprefix(SQLITE_FILE)  # solidarity-mailer.db
SETTINGS_FILE = "solidarity-mailer.toml"


class LedgerNotFound(MailerError):
    """The configured ledger does not exist and this command may not create it."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (its ``?query`` left out), or None for an in-memory or another database."""
    if not url.startswith(SQLITE_FILE):
        return None
    path = url.removeprefix(SQLITE_FILE).split("?", 1)[0]
    if path in ("", ":memory:") or path.startswith("file::memory:"):
        return None
    return Path(path).expanduser()


def is_default(url: str) -> bool:
    """True for the project's default ledger: ``solidarity-mailer.db`` in the working folder or beside a
    ``solidarity-mailer.toml`` (the settings file resolves its relative URL against its own folder)."""
    path = sqlite_file(url)
    if url == DEFAULT_DATABASE or path is None or path.name != DEFAULT_FILE:
        return url == DEFAULT_DATABASE
    folder = path.parent.resolve()
    return folder == Path.cwd().resolve() or (folder / SETTINGS_FILE).is_file()


def missing_file(url: str) -> Path | None:
    """The ledger file of ``url`` when it is a SQLite file that does not exist yet, else None."""
    path = sqlite_file(url)
    return path if path is not None and not path.exists() else None


def check_exists(url: str, source: str) -> None:
    """Refuse a ledger file that does not exist, unless it is the default one (which commands create).

    ``source`` says where the URL came from (the settings file or the environment variable).
    """
    path = missing_file(url)
    if path is None or is_default(url):
        return
    raise LedgerNotFound(
        f"no ledger at {path.resolve()} (the database URL from {source})",
        hint="correct the URL, or create the ledger there with `solidarity-mailer db init`")

