"""The revision check of ``schema.connect`` on a new ledger: processes that open it at the same moment (the
daemon and ``serve`` started together on a new database) all get it, created once and stamped (on SQLite and,
with ``--database postgresql``, on PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, inspect, select

from solidarity_mailer.ledger.revision import HEAD, version_table
from tests.databases import ledger_url

OPEN_AT_ONCE = """
import pathlib, sys, time
from solidarity_mailer.ledger.schema import connect
here = pathlib.Path(sys.argv[1])
(here / f"ready-{sys.argv[2]}").touch()
while not (here / "go").exists():
    time.sleep(0.001)
connect(sys.argv[3]).dispose()
"""


def test_processes_opening_a_new_ledger_at_once_all_get_it_stamped(tmp_path: Path) -> None:
    count = 6
    url = ledger_url(tmp_path)
    children = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, str(tmp_path), str(i), url],
                                 stderr=subprocess.PIPE, text=True) for i in range(count)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    failures = [child.communicate(timeout=60)[1] for child in children]
    assert [child.returncode for child in children] == [0] * count, "\n".join(f for f in failures if f)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(version_table.c.version_num)).scalars().all() == [HEAD]
            assert "deliveries" in inspect(conn).get_table_names()
    finally:
        engine.dispose()
