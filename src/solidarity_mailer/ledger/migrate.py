"""Alembic, driven from the code: ``db upgrade`` brings a ledger to :data:`~.revision.HEAD` in one transaction,
and ``python -m solidarity_mailer.ledger.migrate MESSAGE`` writes a developer's next migration.

No ``alembic.ini``: :func:`alembic_config` names the scripts in the package (ledger/migrations/) and hands
env.py the connection. On SQLite the upgrade runs between its own ``BEGIN IMMEDIATE`` and ``COMMIT`` (Python's
sqlite3 would commit before DDL), with foreign keys off while tables are rebuilt and checked at the end, as
SQLite's documentation prescribes for altering tables; on PostgreSQL, whose DDL is transactional, in one
transaction holding the schema's advisory lock (:func:`~.revision.lock_schema`), so a process opening the new
ledger meanwhile waits for it. Either way a failing step leaves the ledger as it was.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.revision import (
    BASELINE,
    HEAD,
    TABLES_0_1_0,
    SchemaTooNew,
    Version,
    lock_schema,
    read_version,
    where,
)
from solidarity_mailer.ledger.schema import sqlite_pragmas

SCRIPT_LOCATION = "solidarity_mailer.ledger:migrations"
FILE_TEMPLATE = "v%%(rev)s_%%(slug)s"  # v0002_add_a_column.py: a module name (docs/architecture.md lists it)


@dataclass(frozen=True)
class Upgrade:
    """What ``db upgrade`` did to the ledger at ``where``."""

    where: str
    before: Version

    @property
    def changed(self) -> bool:
        return not self.before.current

    def line(self) -> str:
        if not self.changed:
            return f"ledger {self.where}: already at revision {HEAD}, nothing to do"
        if self.before.empty:
            return f"ledger {self.where}: was empty, created at revision {HEAD}"
        return f"ledger {self.where}: upgraded from {self.before.describe()} to revision {HEAD}"


def alembic_config(connection: Connection | None = None, script_location: str = SCRIPT_LOCATION) -> Config:
    """Alembic's configuration, built in code; env.py migrates ``connection``."""
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("file_template", FILE_TEMPLATE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_revisions(script_location: str = SCRIPT_LOCATION) -> tuple[str, ...]:
    """The migration scripts' revision ids, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config(script_location=script_location))
    return tuple(reversed([script.revision for script in scripts.walk_revisions()]))


def upgrade(url: str, script_location: str = SCRIPT_LOCATION) -> Upgrade:
    """Bring the database at ``url`` to the scripts' head in one transaction: an empty one is made from the
    migrations, a 0.1.0 ledger stamped :data:`BASELINE` first; a newer one is refused, untouched."""
    engine = _migration_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name != "sqlite":  # SQLite's lock is the BEGIN IMMEDIATE of _migration_engine
                lock_schema(conn)
            before = read_version(conn)
            done = Upgrade(where(engine), before)
            if not done.changed:
                return done
            if not (before.empty or before.older):
                raise SchemaTooNew(done.where, before)
            config = alembic_config(conn, script_location)
            if before.unversioned:
                _require_0_1_0(before, done.where)
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
            _check_references(conn, done.where)
        return done
    finally:
        engine.dispose()


def _require_0_1_0(version: Version, location: str) -> None:
    missing = sorted(TABLES_0_1_0 - version.tables)
    if missing:
        raise MailerError(f"not a ledger of release 0.1.0: it has some of its tables but not {', '.join(missing)}; "
                          "nothing was changed", where=location)


def _check_references(conn: Connection, location: str) -> None:
    if conn.dialect.name == "sqlite" and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
        raise MailerError(f"the upgrade would leave {len(broken)} row(s) referring to rows that do not exist "
                          f"(first: table {broken[0][0]}); nothing was changed", where=location)


def _migration_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def _sqlite_connect(dbapi_connection: sqlite3.Connection, record: object) -> None:
    sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # a table is altered by copying it (batch mode)
    dbapi_connection.isolation_level = None  # no implicit COMMIT before DDL: the BEGIN above holds it all


def new_revision(message: str, script_location: str = SCRIPT_LOCATION) -> Path:
    """Write the next migration, ``v<NNNN>_<message>.py``: how ``schema.metadata`` differs from a database
    upgraded to the current head, autogenerated. Read and complete it, then add its id to ``REVISIONS``."""
    scripts = ScriptDirectory.from_config(alembic_config(script_location=script_location))
    rev_id = f"{int(scripts.get_current_head() or 0) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = _migration_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        try:
            with engine.begin() as conn:
                config = alembic_config(conn, script_location)
                command.upgrade(config, "head")
                written = command.revision(config, message, autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    assert isinstance(written, Script)
    return Path(written.path)


def main(argv: list[str] | None = None) -> int:
    """``python -m solidarity_mailer.ledger.migrate MESSAGE``: :func:`new_revision` in the package's scripts."""
    parser = argparse.ArgumentParser(prog="python -m solidarity_mailer.ledger.migrate", description=main.__doc__)
    parser.add_argument("message", help="what the migration does, e.g. 'runs: a priority column'")
    parser.add_argument("--scripts", default=SCRIPT_LOCATION, help="the script directory (default: %(default)s)")
    args = parser.parse_args(argv)
    path = new_revision(args.message, args.scripts)
    rev_id = path.name.removeprefix("v").split("_", 1)[0]
    print(f"wrote {path}\nnext: check it (a rename is autogenerated as drop + add), add "
          f"'{rev_id}' to REVISIONS in ledger/revision.py, run tests/ledger/")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
