"""Shared fixtures: a real SMTP server, a real ledger (SQLite file, or PostgreSQL with ``--database postgresql``),
the starter project shipped in the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from solidarity_mailer.ledger import schema
from solidarity_mailer.ledger.schema import connect
from tests import databases, fullledger, postgres
from tests.smtpserver import RecordingHandler, smtp_server
from tests.starter import STARTER


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--database", choices=databases.KINDS, default="sqlite",
                     help="where the tests' ledgers live: SQLite files (default), or fresh databases of a "
                          f"PostgreSQL server (${postgres.ENV}, else a throwaway cluster: tests/postgres.py)")


def pytest_configure(config: pytest.Config) -> None:
    databases.use(config.getoption("--database"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if databases.on_postgresql():
        skip = pytest.mark.skip(reason="about SQLite itself (sqlite_only)")
        for item in items:
            if item.get_closest_marker("sqlite_only") or "disk" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session) -> None:
    postgres.stop()


@pytest.fixture
def starter() -> Path:
    """The starter project shipped in the package (templates/, campaigns/, recipients/); do not edit it."""
    return STARTER


@pytest.fixture
def smtpd() -> Iterator[tuple[Controller, RecordingHandler]]:
    """A real aiosmtpd server on 127.0.0.1 and a free port; the handler records what it accepts."""
    with smtp_server() as pair:
        yield pair


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A real database with the project's schema (an SQLite file, or PostgreSQL: tests/databases.py)."""
    eng = connect(databases.ledger_url(tmp_path, "test.db"))
    yield eng
    eng.dispose()


@pytest.fixture(params=fullledger.KINDS)
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[fullledger.Disk]:
    """A small disk for the ledger (a real tmpfs when root may mount one, else SQLite's page limit)."""
    with fullledger.small_disk(request.param, tmp_path) as place:
        yield place


@pytest.fixture(autouse=True)
def _engines_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Under PostgreSQL, every engine a test opened is disposed after it: a pooled psycopg connection left to the
    garbage collector warns (ResourceWarning), and warnings are errors here."""
    if not databases.on_postgresql():
        yield
        return
    made: list[Engine] = []
    opened = schema.open_engine

    def recording(url: str | None = None) -> Engine:
        made.append(opened(url))
        return made[-1]

    monkeypatch.setattr(schema, "open_engine", recording)
    yield
    for engine in made:
        engine.dispose()
