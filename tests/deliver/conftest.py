"""Fixtures for the `send` tests: a clean environment, and a real SMTP server that records what it accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.sendkit import SlowHandler, clean_environment
from tests.smtpserver import smtp_server


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test secret, no SOLIDARITY_MAILER_* override from outside, cwd = tmp_path (see clean_environment)."""
    clean_environment(tmp_path, monkeypatch)


@pytest.fixture
def server() -> Iterator[tuple[Controller, SlowHandler]]:
    with smtp_server(SlowHandler()) as pair:
        yield pair  # type: ignore[misc]
