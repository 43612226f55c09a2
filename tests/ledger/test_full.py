"""A full disk is recognised in each form it takes (SQLite's own errors, raised by SQLite), and nothing else is."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from solidarity_mailer.ledger.full import LedgerFull, is_disk_full, location


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
