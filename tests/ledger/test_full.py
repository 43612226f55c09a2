"""A full disk is recognised in each form it takes (SQLite's own errors, raised by SQLite; PostgreSQL's SQLSTATE
53100, raised by a real server), and nothing else is."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from solidarity_mailer.ledger.full import LedgerFull, is_disk_full, location
from solidarity_mailer.ledger.schema import open_engine
from tests.databases import ledger_url, on_postgresql

# PostgreSQL's error for a full disk ("could not extend file …: No space left on device"), raised by the server
RAISE_DISK_FULL = ("DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
                   "USING ERRCODE = 'disk_full'; END $$")
RAISE_OTHER = "DO $$ BEGIN RAISE EXCEPTION 'out of connections' USING ERRCODE = 'too_many_connections'; END $$"


def _full_error(path: Path) -> sqlite3.OperationalError:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE t (b BLOB)")
        conn.execute("PRAGMA max_page_count = 3")
        with pytest.raises(sqlite3.OperationalError) as caught:
            conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
        return caught.value
    finally:
        conn.close()


@pytest.mark.sqlite_only
def test_sqlite_full_is_a_full_disk_raw_wrapped_or_chained(tmp_path: Path) -> None:
    raw = _full_error(tmp_path / "raw.db")
    assert is_disk_full(raw)
    engine = create_engine(f"sqlite:///{tmp_path / 'wrapped.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (b BLOB)"))
    with pytest.raises(OperationalError) as wrapped, engine.begin() as conn:
        conn.execute(text("PRAGMA max_page_count = 3"))
        conn.execute(text("INSERT INTO t VALUES (zeroblob(100000))"))
    assert is_disk_full(wrapped.value)
    try:
        raise RuntimeError("while recording") from raw
    except RuntimeError as chained:
        assert is_disk_full(chained)
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert location(engine) == str(tmp_path / "wrapped.db")
    line = LedgerFull("/x/ledger.db", "go on").line()
    assert line == "/x/ledger.db: the ledger's disk is full (free space, then go on)"


@pytest.mark.sqlite_only
def test_other_database_errors_are_not_a_full_disk(tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked") as locked:
            other.execute("BEGIN IMMEDIATE")
    finally:
        holder.close()
        other.close()
    assert not is_disk_full(locked.value)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(None)


@pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql")
def test_postgresql_disk_full_is_a_full_disk_and_other_errors_are_not(tmp_path: Path) -> None:
    engine = open_engine(ledger_url(tmp_path))
    try:
        for sql, full in ((RAISE_DISK_FULL, True), (RAISE_OTHER, False)):
            with pytest.raises(OperationalError) as caught, engine.connect() as conn:
                conn.exec_driver_sql(sql)
            assert is_disk_full(caught.value) is full
            assert is_disk_full(caught.value.orig) is full  # the driver's own error, as the ledger writer sees it
        assert location(engine) == engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
