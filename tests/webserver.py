"""A real `solidarity-mailer serve` process on 127.0.0.1 and a free port, for tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ledgerfile import existing_ledger
from tests.processes import served
from tests.smtpserver import free_port

SECRET = "web-test-secret-0123456789abcdef"


@dataclass(frozen=True)
class WebServer:
    """A running server: its base URL, database URL and secret."""

    base_url: str
    database_url: str
    secret: bytes


@contextmanager
def web_server(database: Path, *, cwd: Path | None = None) -> Iterator[WebServer]:
    """Start the server process, wait for /healthz, stop it (SIGTERM, then SIGKILL) at the end."""
    port = free_port()
    url = existing_ledger(database)
    env = {**os.environ, "SOLIDARITY_MAILER_DATABASE": url, "SOLIDARITY_MAILER_SECRET": SECRET}
    env.pop("SOLIDARITY_MAILER_SECRET_FILE", None)
    base = f"http://127.0.0.1:{port}"
    with served(["serve", "--host", "127.0.0.1", "--port", str(port)], f"{base}/healthz", env=env, cwd=cwd):
        yield WebServer(base, url, SECRET.encode())
