"""The ledger that release 0.1.0 wrote (tests/data/ledger-0.1.0/ledger.db), for the upgrade tests, on SQLite or
(``--database postgresql``) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, column, create_engine, insert, inspect, select, table, text
from sqlalchemy.engine import make_url

from solidarity_mailer.ledger.full import location
from solidarity_mailer.ledger.migrate import alembic_config
from solidarity_mailer.ledger.revision import BASELINE, TABLES_0_1_0
from solidarity_mailer.ledger.schema import aware, metadata
from tests.databases import ledger_url, on_postgresql

LEDGER_0_1_0 = Path(__file__).resolve().parents[1] / "data" / "ledger-0.1.0" / "ledger.db"
URL_0_1_0 = f"sqlite:///{LEDGER_0_1_0}"
SERIAL = ("schedules", "runs")  # the tables whose ids a sequence gives on PostgreSQL


def columns_0_1_0(name: str) -> list[str]:
    """The columns table ``name`` had in release 0.1.0 (later revisions add more)."""
    with closing(sqlite3.connect(LEDGER_0_1_0)) as conn, conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]


def _value(value: object) -> object:
    return aware(value) if isinstance(value, dt.datetime) else value  # SQLite's are naive, PostgreSQL's aware


def rows_0_1_0(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every 0.1.0 table of the ledger at ``url``, in 0.1.0's columns, timestamps aware UTC."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted((tuple(_value(v) for v in row) for row in conn.execute(
                select(*[t.c[c] for c in columns_0_1_0(t.name)]))), key=repr)
                for t in metadata.sorted_tables if t.name in TABLES_0_1_0}
    finally:
        engine.dispose()


def ledger_0_1_0(directory: Path) -> str:
    """The 0.1.0 ledger as ``ledger_url(directory)``, its URL: the file copied, or on PostgreSQL the 0.1.0 schema
    (the baseline migration, unstamped as 0.1.0 left it) holding the file's rows."""
    url = ledger_url(directory)
    if not on_postgresql():
        shutil.copyfile(LEDGER_0_1_0, directory / "ledger.db")
        return url
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            conn.execute(text("DROP TABLE alembic_version"))  # 0.1.0 had no revision
            _copy_rows(conn)
    finally:
        engine.dispose()
    return url


def _copy_rows(conn: Connection) -> None:
    rows = rows_0_1_0(URL_0_1_0)
    for t in metadata.sorted_tables:  # referred rows first
        if t.name in TABLES_0_1_0 and rows[t.name]:
            names = columns_0_1_0(t.name)
            conn.execute(insert(table(t.name, *map(column, names))), [dict(zip(names, r, strict=True))
                                                                      for r in rows[t.name]])
    for name in SERIAL:  # new rows get the next ids, as on the SQLite file
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))


def shown(url: str) -> str:
    """The ledger as the commands name it: the SQLite file, or the URL without its password."""
    engine = create_engine(url)
    try:
        return location(engine)
    finally:
        engine.dispose()


def snapshot(url: str) -> object:
    """All that the ledger holds, to compare before and after: the SQLite file's bytes, else every table's rows."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database or "").read_bytes()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {name: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{name}"'))))
                    for name in sorted(inspect(conn).get_table_names())}
    finally:
        engine.dispose()


def structure(db: Path) -> dict[str, tuple[object, ...]]:
    """Each table's columns (name, type, not null, default, primary key) and indexes (name, unique, columns),
    whatever the text of its CREATE statement (a table an upgrade rebuilt reads differently)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found: dict[str, tuple[object, ...]] = {}
        for t in tables:
            cols = sorted(tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info({t})"))
            indexes = sorted((i[1], i[2], tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{i[1]}')")))
                             for i in conn.execute(f"PRAGMA index_list({t})") if not i[1].startswith("sqlite_"))
            found[t] = (tuple(cols), tuple(indexes))
        return found
