"""Shared fixtures: a real SMTP server, a real SQLite file, the starter project shipped in the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from solidarity_mailer.ledger.schema import connect
from tests import fullledger
from tests.smtpserver import RecordingHandler, smtp_server
from tests.starter import STARTER


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
    """A real SQLite file database with the project's schema."""
    eng = connect(f"sqlite:///{tmp_path / 'test.db'}")
    yield eng
    eng.dispose()


@pytest.fixture(params=fullledger.KINDS)
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[fullledger.Disk]:
    """A small disk for the ledger (a real tmpfs when root may mount one, else SQLite's page limit)."""
    with fullledger.small_disk(request.param, tmp_path) as place:
        yield place
