"""The 0.1.0 ledger upgraded on PostgreSQL (run with ``--database postgresql``): release 0.1.0's tables (the
baseline, unstamped, as 0.1.0's ``create_all`` left them) holding the rows of tests/data/ledger-0.1.0/ledger.db,
refused until ``db upgrade``, then ``status`` the same and a further ``send`` re-sends nobody."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from alembic import command
from sqlalchemy import Engine, MetaData, Table, create_engine, select, text

from solidarity_mailer.ledger import migrate
from solidarity_mailer.ledger.revision import BASELINE, HEAD, TABLES_0_1_0
from solidarity_mailer.ledger.schema import open_engine
from tests.databases import ledger_url, on_postgresql
from tests.ledger.release_0_1_0 import LEDGER_0_1_0
from tests.ledger.test_upgrade_0_1_0 import CAMPAIGNS, DATA, cli, project
from tests.smtpserver import RecordingHandler, free_port

pytestmark = pytest.mark.skipif(not on_postgresql(), reason="on PostgreSQL: run with --database postgresql")
ORDER = ("campaigns", "schedules", "runs", "deliveries", "suppressions", "soft_bounces", "bounce_messages", "locks")


def _utc(value: object) -> object:
    return value.replace(tzinfo=dt.UTC) if isinstance(value, dt.datetime) and value.tzinfo is None else value


def load_0_1_0(url: str) -> None:
    """0.1.0's tables in the empty database at ``url``, unstamped, with every row of the 0.1.0 SQLite ledger."""
    engine = open_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))  # 0.1.0 had no revisions
    source = create_engine(f"sqlite:///{LEDGER_0_1_0}")
    assert set(ORDER) == TABLES_0_1_0
    with source.connect() as src, engine.begin() as dst:
        for name in ORDER:
            table = Table(name, MetaData(), autoload_with=src)
            rows = [{k: _utc(v) for k, v in row._mapping.items()} for row in src.execute(select(table))]
            if rows:
                dst.execute(Table(name, MetaData(), autoload_with=dst).insert(), rows)
        for name in ("schedules", "runs"):  # ids were given: the sequences follow them, as 0.1.0's inserts did
            dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    source.dispose()
    engine.dispose()


def states(engine: Engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        return {a: (s, n) for a, s, n in conn.execute(text("SELECT address, state, attempts FROM deliveries"))}


def test_a_0_1_0_ledger_on_postgresql_upgrades_with_its_status_and_sends_nobody_again(tmp_path: Path) -> None:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False)
    root = project(tmp_path, controller.port)
    url = ledger_url(tmp_path, "pg-0.1.0")
    load_0_1_0(url)
    settings = root / "solidarity-mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("sqlite:///ledger.db", url), encoding="utf-8")
    refused = cli(root, "status", "alpha")
    assert refused.returncode == 2 and "older than this release: it is at 0.1.0 (no revision)" in refused.stderr
    done = cli(root, "db", "upgrade")
    assert done.returncode == 0 and done.stdout.endswith(f"upgraded from 0.1.0 (no revision) to revision {HEAD}\n")
    assert cli(root, "db", "upgrade").stdout.endswith(f"already at revision {HEAD}, nothing to do\n")
    expected = json.loads((DATA / "status.json").read_text(encoding="utf-8"))
    for name in CAMPAIGNS:
        report = json.loads(cli(root, "status", name, "--json").stdout)
        assert {run.pop("already_received") for run in report["runs"]} == {0}
        assert all(run.pop("relays") == [] for run in report["runs"])  # a later field: 0.1.0 recorded no relay
        assert report == expected[name]
    engine = open_engine(url)
    before = states(engine)
    controller.start()
    try:
        for name in CAMPAIGNS:
            assert cli(root, "send", name).returncode in (0, 4), name  # 4: the run has failed recipients
    finally:
        controller.stop()
    assert sorted(handler.recipients()) == ["dee@example.org", "eli@example.org"]  # the paused run's pending
    after = states(engine)
    engine.dispose()
    assert {a: v for a, v in after.items() if v[0] != "sent" or before[a][0] == "sent"} == {
        a: v for a, v in before.items() if a not in ("dee@example.org", "eli@example.org")}
