"""A command run in-process (``cli.main``, as the tests and any long-lived caller run it) leaves no connection
open to the ledger: on PostgreSQL each would hold one of the server's connection slots until collected."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from solidarity_mailer.cli import main
from tests.databases import on_postgresql
from tests.ledgerfile import existing_ledger
from tests.sendkit import clean_environment


def _connections(url: str) -> int:
    engine = create_engine(make_url(url).set(database="postgres"))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"),
                                    {"db": make_url(url).database}).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql (counts the server's connections)")
def test_commands_close_their_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    clean_environment(tmp_path, monkeypatch)
    url = existing_ledger(tmp_path / "ledger.db")
    assert _connections(url) == 0
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", url)
    for argv in (["suppressions", "add", "gone@example.org"], ["suppressions", "list"], ["campaigns"],
                 ["db", "current"], ["suppressions", "remove", "nobody"]):
        assert main(argv) in (0, 1), capsys.readouterr()
        assert _connections(url) == 0, argv
