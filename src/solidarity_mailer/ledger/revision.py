"""Which schema revision a ledger is at, checked whenever it is opened, cheaply: no Alembic here.

Importing Alembic costs about 0.1 s, so every command would pay it. Instead :data:`REVISIONS` lists the
migration scripts' ids, oldest first (tests/ledger/test_migrations.py keeps it equal to
ledger/migrations/versions/), and the revision is read from Alembic's own ``alembic_version`` table.
``schema.connect()`` calls :func:`ensure_current`: an empty database gets today's schema, stamped
:data:`HEAD`; any other revision than :data:`HEAD` is refused with one line. ``solidarity-mailer db upgrade``
(ledger/migrate.py) moves an older ledger forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from solidarity_mailer.display import visible
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import full

#: every migration's revision id, oldest first; a new migration appends its id here
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0005", "0006", "0007", "0008")
BASELINE = REVISIONS[0]  # the schema of release 0.1.0, which had no revisions
HEAD = REVISIONS[-1]
#: the tables release 0.1.0 made: a database holding them without a revision is a 0.1.0 ledger
TABLES_0_1_0 = frozenset(
    {"suppressions", "soft_bounces", "bounce_messages", "campaigns", "schedules", "runs", "deliveries", "locks"})
UNVERSIONED = "0.1.0 (no revision)"
#: PostgreSQL: the advisory lock held while a ledger's schema is created or upgraded ("ledger" in ASCII)
SCHEMA_LOCK = 0x6C6564676572

# Alembic's version table, as Alembic makes it (alembic.ddl.impl.DefaultImpl.version_table_impl)
version_table = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@dataclass(frozen=True)
class Version:
    """What a database holds: which of the ledger's tables, and the revision(s) in ``alembic_version``."""

    tables: frozenset[str]
    revisions: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.tables and not self.revisions

    @property
    def unversioned(self) -> bool:
        """Tables without a revision: written by release 0.1.0."""
        return bool(self.tables) and not self.revisions

    @property
    def current(self) -> bool:
        return self.revisions == (HEAD,)

    @property
    def older(self) -> bool:
        """A schema ``db upgrade`` knows how to bring to :data:`HEAD`."""
        return self.unversioned or (len(self.revisions) == 1 and self.revisions[0] in REVISIONS[:-1])

    def describe(self) -> str:
        """``revision 0002``, ``0.1.0 (no revision)`` or ``empty``, printable on one line."""
        if self.revisions:
            return one_line(f"revision {', '.join(self.revisions)}")
        return UNVERSIONED if self.tables else "empty"


class SchemaVersionError(MailerError):
    """The ledger's schema is not the one this release uses; nothing was written to it."""


class SchemaTooOld(SchemaVersionError):
    def __init__(self, where: str, version: Version) -> None:
        super().__init__(f"the ledger's schema is older than this release: it is at {version.describe()}, this "
                         f"release needs revision {HEAD}; back it up, then run `solidarity-mailer db upgrade`",
                         where=where)


class NoLedgerHere(MailerError):
    """The database holds no ledger yet, and this command may not create one (only ``db init`` and the project's
    default SQLite file do)."""

    def __init__(self, where: str) -> None:
        super().__init__("the database holds no ledger (no tables); nothing was created", where=where,
                         hint="correct the URL, or create the ledger there with `solidarity-mailer db init`")


class SchemaTooNew(SchemaVersionError):
    def __init__(self, where: str, version: Version) -> None:
        super().__init__(f"the ledger's schema is newer than this release: it is at {version.describe()}, this "
                         f"release knows revisions up to {HEAD}; upgrade solidarity-mailer", where=where)


def one_line(text: str) -> str:
    """``text`` for one line of output: control characters, newline and tab shown, not sent."""
    return visible(text.replace("\n", "\\n").replace("\t", "\\t"))


def where(engine: Engine) -> str:
    """The ledger for people: its SQLite file or its URL without the password, on one line."""
    return one_line(full.location(engine))


def read_version(conn: Connection) -> Version:
    """The ledger tables and the revision(s) of the database behind ``conn`` (reads only)."""
    names = set(inspect(conn).get_table_names())
    revisions: tuple[str, ...] = ()
    if version_table.name in names:
        revisions = tuple(conn.execute(select(version_table.c.version_num)).scalars())
    return Version(frozenset(names & TABLES_0_1_0), revisions)


def check(version: Version, location: str) -> None:
    """Nothing when ``version`` is :data:`HEAD`; else :class:`SchemaTooOld` or :class:`SchemaTooNew`."""
    if version.current:
        return
    raise SchemaTooOld(location, version) if version.older else SchemaTooNew(location, version)


def lock_schema(conn: Connection) -> None:
    """Begin ``conn``'s transaction holding the right to change the schema: SQLite's write lock
    (``BEGIN IMMEDIATE``, waiting as long as ``busy_timeout``), PostgreSQL's advisory lock :data:`SCHEMA_LOCK`
    until the transaction ends. Processes creating or upgrading one ledger at once take turns."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # DDL stays in it
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def ensure_current(engine: Engine, metadata: MetaData, *, create: bool = True) -> None:
    """Refuse a ledger at another revision than :data:`HEAD` before writing anything; give an empty database
    ``metadata``'s tables, stamped :data:`HEAD` (with ``create``; else :class:`NoLedgerHere`)."""
    with engine.connect() as conn:
        version = read_version(conn)
        if version.empty and not create:
            raise NoLedgerHere(where(engine))
        if version.empty:
            version = _create(conn, metadata)
    check(version, where(engine))


def _create(conn: Connection, metadata: MetaData) -> Version:
    """Tables and stamp in one transaction that holds :func:`lock_schema`, so no other process sees the tables
    unstamped, and of processes opening a new ledger at once only the first creates it."""
    conn.rollback()
    try:
        lock_schema(conn)
        version = read_version(conn)
        if version.empty:
            metadata.create_all(conn)
            version_table.create(conn, checkfirst=True)
            conn.execute(insert(version_table).values(version_num=HEAD))
        conn.commit()
    except DBAPIError:  # another database's creator won (a duplicate table or stamp)
        conn.rollback()
        if not (version := read_version(conn)).current:
            raise
    return read_version(conn) if version.empty else version
