"""The project's database: one SQLAlchemy Core schema (SQLite file by default, any SQLAlchemy URL).

Tables, by the modules that write them:
- ``suppressions``: ledger/suppressions.py. Every send consults it.
- ``soft_bounces``, ``bounce_messages``: bounces/import_mailbox.py. Soft bounces counted per address, and the
  mailbox messages already imported (idempotent re-import).
- ``campaigns``, ``runs``: ledger/queries.py (a schedule's runs: schedule/due_runs.py).
- ``schedules``: schedule/schedules.py, schedule/due_runs.py. APScheduler only fires; truth is here.
- ``deliveries``: ledger/queries.py, ledger/writer.py. One row per (run, recipient):
  pending → sending → sent|deferred|failed|uncertain (or skipped).
- ``web_versions``: ledger/web_versions.py. Each run's web version per language (subject, HTML without a
  reader's values), what ``serve`` and ``archive build`` show of a campaign once a message of it was delivered.
- ``locks``: ledger/leases.py. Named leases: ``scheduler``, so one daemon runs per database
  (schedule/daemon_lease.py), and ``run:{id}``, so one process sends a given run (deliver/run_lease.py).
- ``rate_limits``, ``rate_limit_grants``: ledger/rate_limits.py. The rate limits every worker shares: each limit's
  next free slot, and the slots it granted in the last hour.
- ``alembic_version``: the schema's revision (ledger/revision.py). A change to these tables needs a migration
  in ledger/migrations/versions/ (docs/operations.md, "Adding a migration").
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
)
from sqlalchemy.engine import make_url

from solidarity_mailer.ledger.revision import ensure_current

DEFAULT_DATABASE = "sqlite:///solidarity-mailer.db"

metadata = MetaData()

suppressions = Table(
    "suppressions",
    metadata,
    Column("address", String(320), primary_key=True),  # normalised, lower-cased
    Column("scope", String(200), primary_key=True, default="*"),  # "*" = every list, else a List-Id
    Column("reason", String(20), nullable=False),  # unsubscribed | bounced | complained | manual
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

soft_bounces = Table(
    "soft_bounces",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
    Column("last_status", String(20), nullable=False, default=""),
    Column("last_at", DateTime(timezone=True), nullable=False),
)

# bounces/import_mailbox.py: every mailbox message already imported, so a re-import counts nothing twice
bounce_messages = Table(
    "bounce_messages",
    metadata,
    Column("key", String(300), primary_key=True),  # the message's Message-ID, or "sha256:…" of its bytes
    Column("kind", String(12), nullable=False),  # hard | soft | autoreply | unsubscribe | unmatched | other
    Column("address", String(320), nullable=False, default=""),  # the recipient it was matched to
    Column("status", String(20), nullable=False, default=""),
    Column("original_message_id", String(250), nullable=False, default=""),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)
Index("ix_bounce_messages_address", bounce_messages.c.address, bounce_messages.c.original_message_id)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("path", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(100), ForeignKey("campaigns.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # once | cron | interval
    Column("spec", Text, nullable=False),  # UTC ISO instant | cron expression | seconds
    Column("timezone", String(64), nullable=False),  # IANA zone
    Column("lists", Text, nullable=False, default="[]"),  # JSON list of CSV paths; [] = campaign's lists
    Column("state", String(12), nullable=False, default="active"),  # active | paused | cancelled | done
    Column("grace_seconds", Integer, nullable=False, default=3600),
    Column("next_fire_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("again", Boolean, nullable=False, default=False, server_default=false()),  # its runs repeat on purpose
    Column("plan", Text),  # JSON: a --recipient-time schedule's batches, one per zone (schedule/zone_plan.py)
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(100), ForeignKey("campaigns.id"), nullable=False),
    Column("schedule_id", Integer, ForeignKey("schedules.id")),
    Column("fire_key", String(200), nullable=False),  # unique per firing: exactly one run per occurrence
    Column("scheduled_for", DateTime(timezone=True)),
    Column("lists", Text, nullable=False, default="[]"),
    Column("state", String(12), nullable=False, default="pending"),
    # pending | running | paused | cancelled | finished | missed
    Column("note", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # sha256 of what the run sends before personalisation (subject, HTML, text): ledger/received_content.py
    Column("content_digest", String(64)),
    Column("again", Boolean, nullable=False, default=False, server_default=false()),  # sends to earlier recipients
    Column("zone", String(64)),  # a batch run of a --recipient-time schedule: its recipients' zone
    Column("resume_at", DateTime(timezone=True)),  # waiting for a send window: the daemon takes it up then
    UniqueConstraint("fire_key", name="uq_runs_fire_key"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("address", String(320), primary_key=True),  # normalised address (de-duplication key)
    Column("name", Text, nullable=False, default=""),
    Column("list_id", String(200), nullable=False, default=""),
    Column("fields", Text, nullable=False, default="{}"),  # JSON of the CSV row's extra columns
    Column("state", String(10), nullable=False, default="pending"),
    # pending | sending | sent | deferred | failed | uncertain | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_reply", Text, nullable=False, default=""),
    Column("message_id", String(250), nullable=False, default=""),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("relay", String(300)),  # the SMTP relay's name (``[smtp] name``) of the last outcome; NULL: none
    Column("not_before", DateTime(timezone=True)),  # held until the recipient's send window opens
    Column("worker", String(200)),  # host:pid:nonce of the process that claimed the row last (ledger/row_claims.py)
    Column("claimed_until", DateTime(timezone=True)),  # a pending row held by ``worker`` until then
)
Index("ix_deliveries_run_state", deliveries.c.run_id, deliveries.c.state)
Index("ix_deliveries_sent_at", deliveries.c.sent_at)
Index("ix_deliveries_message_id", deliveries.c.message_id)  # bounces/import_mailbox.py matches returned Message-IDs
Index("ix_deliveries_address", deliveries.c.address)  # who received this content in another run

web_versions = Table(
    "web_versions",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("language", String(64), primary_key=True),  # the variant's BCP 47 tag
    Column("position", Integer, nullable=False),  # 0: the campaign's own language, then its translations
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),  # the web version: CSS inlined, no reader's values
    Column("sender", Text, nullable=False, default=""),  # the From name (else address): the archive feed's author
    Column("created_at", DateTime(timezone=True), nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# ledger/rate_limits.py: one row per limit (``delivery``, ``relay:NAME``), its next free slot in clock seconds
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("next_slot", Double, nullable=False),
)

# the slots each limit granted, counted by the second they count until (its per-hour part)
rate_limit_grants = Table(
    "rate_limit_grants",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("second", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
)


def sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """The pragmas of every SQLite connection to the ledger (a ``connect`` event listener)."""
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    _wal(cur)  # readers (status, web) never block the sender
    # FULL: a committed ``sending`` survives power loss too (NORMAL may roll the last commits back, and a
    # message be resent without being reported uncertain); group commit in ledger/writer.py amortises the fsync.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _wal(cur: sqlite3.Cursor) -> None:
    """WAL mode. While another process creates a new ledger, SQLite refuses the switch at once instead of
    waiting (busy_timeout does not apply to it): try again, for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def postgresql_session(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Every PostgreSQL connection to the ledger reads timestamps in UTC, whatever the server's ``TimeZone``
    (a ``connect`` event listener): the instants printed are the same as on SQLite."""
    with dbapi_connection.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.commit()


#: libpq's defaults for a ledger connection, unless its URL sets them: give up connecting after 10 s, and over TCP
#: (not a Unix socket) drop an idle or waiting connection whose server stopped answering after about 25 s (TCP
#: keepalives) instead of the kernel's two hours.
PG_TIMEOUTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
               "keepalives_count": 3}


def open_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``solidarity-mailer.db`` in the working directory), its schema neither
    checked nor created: for ``db upgrade`` and ``db current``. Everything else uses :func:`connect`."""
    url = url or DEFAULT_DATABASE
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # PostgreSQL: a pooled connection is tested before use, so one left from before a server restart is replaced
    # instead of failing the next statement; over TCP a server gone silent is noticed within about 25 s
    # (docs/operations.md, "When the database goes away")
    postgresql = url.startswith("postgresql")
    given = make_url(url).query if postgresql else {}
    engine = create_engine(url, future=True, pool_pre_ping=postgresql,
                           connect_args={k: v for k, v in PG_TIMEOUTS.items() if k not in given} if postgresql else {})
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", postgresql_session)
    return engine


def connect(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for ``url`` whose schema is this release's: an empty database gets it (stamped with
    :data:`~solidarity_mailer.ledger.revision.HEAD`), or with ``create=False`` is refused
    (:class:`~solidarity_mailer.ledger.revision.NoLedgerHere`); an older or newer one is refused with a
    :class:`~solidarity_mailer.ledger.revision.SchemaVersionError`, nothing written."""
    engine = open_engine(url)
    try:
        ensure_current(engine, metadata, create=create)
    except BaseException:
        engine.dispose()
        raise
    return engine


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp as aware UTC (SQLite hands back naive datetimes, PostgreSQL the session's zone)."""
    if value is None:
        return value
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
