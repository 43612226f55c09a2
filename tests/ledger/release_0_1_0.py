"""The ledger that release 0.1.0 wrote (tests/data/ledger-0.1.0/ledger.db), for the upgrade tests."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from solidarity_mailer.ledger.revision import TABLES_0_1_0

LEDGER_0_1_0 = Path(__file__).resolve().parents[1] / "data" / "ledger-0.1.0" / "ledger.db"


def columns_0_1_0(table: str) -> list[str]:
    """The columns ``table`` had in release 0.1.0 (later revisions add more)."""
    with closing(sqlite3.connect(LEDGER_0_1_0)) as conn, conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def rows_0_1_0(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every 0.1.0 table of ``db``, in 0.1.0's columns."""
    with closing(sqlite3.connect(db)) as conn, conn:
        return {t: sorted(conn.execute(f"SELECT {', '.join(columns_0_1_0(t))} FROM {t}").fetchall(), key=repr)
                for t in sorted(TABLES_0_1_0)}


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
