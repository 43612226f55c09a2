"""The daemon tests' own harness: polling the ledger must not leave a connection open per poll (on PostgreSQL
the server's ``max_connections`` ran out in CI when every poll opened an engine of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.daemonproc import Env, run_rows
from tests.databases import on_postgresql


@pytest.mark.skipif(not on_postgresql(), reason="counts PostgreSQL's server connections")
def test_polling_the_ledger_a_hundred_times_holds_at_most_one_connection(tmp_path: Path) -> None:
    env = Env(tmp_path, 2525)
    for _ in range(100):
        run_rows(env.engine())
    with env.engine().connect() as conn:
        opened = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"))
        assert opened.scalar_one() <= 2  # the poll's pooled connection and this one
