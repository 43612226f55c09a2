"""The ledger's migrations (real SQLite files, or PostgreSQL databases with ``--database postgresql``): one head,
the baseline is release 0.1.0's schema, an upgraded ledger is today's schema, a failing step leaves the ledger
untouched, and the revision check of ``connect``."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, select, update

from solidarity_mailer.ledger import migrate, revision, schema
from solidarity_mailer.ledger.revision import HEAD, REVISIONS, SchemaTooNew, SchemaTooOld, version_table
from solidarity_mailer.ledger.schema import connect, metadata
from tests.databases import ledger_url, on_postgresql
from tests.ledger.release_0_1_0 import LEDGER_0_1_0, URL_0_1_0, ledger_0_1_0, rows_0_1_0, shown, snapshot, structure

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "src" / "solidarity_mailer" / "ledger" / "migrations"


def differences(url: str, target: object = None) -> list[object]:
    """What ``compare_metadata`` finds between the ledger's schema and ``metadata`` (types and defaults too)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, target or metadata))
    finally:
        engine.dispose()


def master(path: Path) -> set[tuple[str, str, str, str | None]]:
    """The file's tables and indexes as SQLite keeps them (``sqlite_master``), the version table aside."""
    with closing(sqlite3.connect(path)) as db, db:
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version'")
        return set(rows.fetchall())


def stamped(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(version_table.c.version_num)).scalars())
    finally:
        engine.dispose()


def set_revision(url: str, value: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(update(version_table).values(version_num=value))
    engine.dispose()


def tables_and_indexes(url: str) -> dict[str, tuple[object, ...]]:
    """Each table's columns (name, type, nullable, default) and indexes, as the database reports them."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            return {t: (sorted((c["name"], str(c["type"]), c["nullable"], str(c["default"]))
                               for c in found.get_columns(t)),
                        sorted((i["name"], i["unique"], tuple(i["column_names"])) for i in found.get_indexes(t)))
                    for t in found.get_table_names()}
    finally:
        engine.dispose()


def test_revisions_are_the_scripts_in_order_with_a_single_head() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_heads() == [HEAD]
    assert migrate.script_revisions() == REVISIONS
    assert sorted(p.name for p in (SCRIPTS / "versions").glob("*.py")) == sorted(
        f"v{script.revision}_{Path(script.path).name.split('_', 1)[1]}" for script in scripts.walk_revisions())


@pytest.mark.sqlite_only
def test_the_baseline_makes_exactly_the_tables_of_release_0_1_0(tmp_path: Path) -> None:
    path = tmp_path / "baseline.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), revision.BASELINE)
    engine.dispose()
    assert master(path) == master(LEDGER_0_1_0)
    assert stamped(f"sqlite:///{path}") == [revision.BASELINE]


def test_an_upgraded_0_1_0_ledger_has_today_s_schema_and_every_row(tmp_path: Path) -> None:
    url = ledger_0_1_0(tmp_path)
    before = rows_0_1_0(URL_0_1_0)
    assert rows_0_1_0(url) == before
    done = migrate.upgrade(url)
    assert done.changed and done.before.unversioned
    assert done.line() == f"ledger {shown(url)}: upgraded from 0.1.0 (no revision) to revision {HEAD}"
    assert stamped(url) == [HEAD]
    assert differences(url) == []
    assert rows_0_1_0(url) == before
    assert sum(len(rows) for rows in before.values()) > 20  # runs, rows, schedules, suppressions: not empty


def test_a_new_ledger_and_an_upgraded_empty_one_are_today_s_schema_stamped_head(tmp_path: Path) -> None:
    new, empty = ledger_url(tmp_path, "new.db"), ledger_url(tmp_path, "empty.db")
    connect(new).dispose()
    (tmp_path / "empty.db").touch()
    assert migrate.upgrade(empty).line().endswith(f"was empty, created at revision {HEAD}")
    for url in (new, empty):
        assert stamped(url) == [HEAD]
        assert differences(url) == []
        engine = create_engine(url)
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD  # Alembic reads our stamp
        engine.dispose()
    assert tables_and_indexes(new) == tables_and_indexes(empty)
    if not on_postgresql():
        assert structure(tmp_path / "new.db") == structure(tmp_path / "empty.db")


def test_connect_refuses_older_and_newer_revisions_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = ledger_0_1_0(tmp_path)
    saved = snapshot(url)
    with pytest.raises(SchemaTooOld, match=r"older than this release: it is at 0\.1\.0 \(no revision\), .*db upgrade"):
        connect(url)
    assert snapshot(url) == saved
    migrate.upgrade(url)
    connect(url).dispose()  # at HEAD: opens
    monkeypatch.setattr(revision, "REVISIONS", (*REVISIONS, "9998"))  # a release that knows one more migration
    monkeypatch.setattr(revision, "HEAD", "9998")
    with pytest.raises(SchemaTooOld, match=f"it is at revision {HEAD}, this release needs revision 9998"):
        connect(url)
    monkeypatch.undo()
    set_revision(url, "9999")
    saved = snapshot(url)
    with pytest.raises(SchemaTooNew, match=f"it is at revision 9999, this release knows revisions up to {HEAD}; "
                                           "upgrade solidarity-mailer"):
        connect(url)
    with pytest.raises(SchemaTooNew):
        migrate.upgrade(url)
    assert snapshot(url) == saved


def test_a_revision_is_shown_on_one_line(tmp_path: Path) -> None:
    url = ledger_url(tmp_path, "odd.db")
    connect(url).dispose()
    set_revision(url, "x\n\x1b[2Jy")
    with pytest.raises(SchemaTooNew) as caught:
        connect(url)
    assert "revision x\\n\\x1b[2Jy" in caught.value.line() and "\n" not in caught.value.line()


NEXT = f"{int(HEAD) + 1:04d}"  # the id of the next migration
FAILING = f'''"""fails half-way"""
import sqlalchemy as sa
from alembic import op

revision = "{NEXT}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=True))
    op.execute("UPDATE runs SET priority = 1")
    raise RuntimeError("step failed")


def downgrade() -> None:
    pass
'''


def test_a_failing_upgrade_leaves_the_ledger_as_it_was(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"v{NEXT}_fails.py").write_text(FAILING, encoding="utf-8")
    url = ledger_0_1_0(tmp_path)
    saved = snapshot(url)
    with pytest.raises(RuntimeError, match="step failed"):
        migrate.upgrade(url, str(scripts))
    assert snapshot(url) == saved  # no stamp, no table, no column: rolled back
    assert not (tmp_path / "ledger.db-wal").exists()


def test_the_helper_writes_the_next_migration_from_the_schema(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    Table("notes", changed, Column("id", Integer, primary_key=True), Column("runs", Integer, nullable=False))
    monkeypatch.setattr(schema, "metadata", changed)  # env.py reads schema.metadata when it runs
    assert migrate.main(["notes: a new table", "--scripts", str(scripts)]) == 0
    written = scripts / "versions" / f"v{NEXT}_notes_a_new_table.py"
    text = written.read_text(encoding="utf-8")
    assert f'revision = "{NEXT}"' in text.replace("'", '"') and f'down_revision = "{HEAD}"' in text.replace("'", '"')
    assert "op.create_table('notes'" in text or 'op.create_table("notes"' in text
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", str(REPO / "pyproject.toml"),
                           str(written)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    url = ledger_0_1_0(tmp_path)
    migrate.upgrade(url, str(scripts))
    assert stamped(url) == [NEXT]
    assert differences(url, changed) == []
