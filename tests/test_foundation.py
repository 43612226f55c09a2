"""The foundation: the SMTP fixture really accepts mail, the schema is created in a SQLite file."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from sqlalchemy import inspect


def test_smtp_fixture_accepts_and_refuses(smtpd) -> None:  # type: ignore[no-untyped-def]
    controller, handler = smtpd
    handler.rcpt_replies["no@example.org"] = ["550 5.1.1 no such user"]
    with smtplib.SMTP(controller.hostname, controller.port) as client:
        refused = client.sendmail("a@example.org", ["yes@example.org", "no@example.org"], b"Subject: x\r\n\r\nhi\r\n")
    assert refused == {"no@example.org": (550, b"5.1.1 no such user")}
    assert handler.recipients() == ["yes@example.org"]


@pytest.mark.sqlite_only  # the SQLite file itself
def test_schema_created_in_sqlite_file(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (tmp_path / "test.db").exists()
    names = set(inspect(engine).get_table_names())
    assert {"suppressions", "campaigns", "schedules", "runs", "deliveries", "locks"} <= names
