"""The database going away while a command runs (after it opened it): one line and exit status 5, no traceback.

The error is psycopg's own, from a real failed connection; it is raised inside a command's library call because
no server can be made to vanish at that exact point of a short command (the workers' ride-through is
tests/deliver/test_database_outage.py, on a real server stopped mid-run).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from solidarity_mailer.cli import main
from solidarity_mailer.ledger import status
from tests.sendkit import write_project


def _outage(tmp_path: Path) -> OperationalError:
    gone = create_engine(f"postgresql+psycopg://mailer:s3cret-pw@/ledger?host={tmp_path}/no-server-here")
    try:
        with gone.connect():
            pass
    except OperationalError as exc:
        return exc
    finally:
        gone.dispose()
    raise AssertionError("connected to a server that does not exist")


def test_an_outage_during_a_command_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    campaign, config = write_project(tmp_path, 2525, ["a@example.org"])
    outage = _outage(tmp_path)

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise outage

    monkeypatch.setattr(status, "campaign_status", unreachable)
    assert main(["status", str(campaign), "--config", str(config)]) == 5
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: the database is unreachable (") and "no-server-here" in err, err
    assert "s3cret-pw" not in err
    assert "again" in err  # what to do
