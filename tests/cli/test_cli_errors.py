"""User mistakes at the command line are one `error:` line and a non-zero status, never a traceback."""

from __future__ import annotations

import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from tests.ledgerfile import existing_ledger
from tests.sendkit import clean_environment
from tests.starter import CAMPAIGN


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; it must fail with exactly one `error:` line on stderr; return that line."""
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize(("url", "fragment"), [
    ("nosuch://x", "no database kind 'nosuch'"),
    ("mysql://u@127.0.0.1/db", "the driver for 'mysql' is not installed"),
    ("postgresql://u@127.0.0.1:1/db", "cannot open it: connection failed"),  # psycopg, nobody listening
    ("not a url", "not a database URL"),
])
@pytest.mark.parametrize("argv", [["campaigns"], ["suppressions", "list"], ["schedule", "x", "--every", "1h"],
                                  ["send", str(CAMPAIGN), "--dry-run"],
                                  ["run"]])
def test_a_bad_database_url_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        url: str, fragment: str, argv: list[str]) -> None:
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", url)
    err = one_error(capsys, argv)
    assert "SOLIDARITY_MAILER_DATABASE" in err and fragment in err


def test_read_only_commands_create_no_database(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the default ledger, not created yet: looking shows an empty one and creates nothing
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOLIDARITY_MAILER_DATABASE", raising=False)
    assert main(["campaigns", "--json"]) == 0
    assert main(["status", "nothing", "--json"]) == 0
    assert "no runs yet" in one_error(capsys, ["status", "nothing"])
    assert not (tmp_path / "solidarity-mailer.db").exists()


def test_a_configured_ledger_that_does_not_exist_is_refused_until_db_init(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state" / "ledger.db"
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", f"sqlite:///{target}")
    for argv in (["campaigns"], ["status", "nothing"], ["suppressions", "add", "x@example.org"]):
        assert f"no ledger at {target}" in one_error(capsys, argv) and not target.parent.exists()
    assert main(["db", "init"]) == 0
    assert f"created the ledger at {target}" in capsys.readouterr().out and target.exists()
    assert main(["suppressions", "add", "x@example.org"]) == 0
    assert main(["db", "init"]) == 0
    assert "exists already; nothing changed" in capsys.readouterr().out


def test_an_empty_database_is_no_ledger_until_db_init(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "empty.db"  # as an empty PostgreSQL database: it exists, and holds no ledger
    target.touch()
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", f"sqlite:///{target}")
    for argv in (["campaigns"], ["suppressions", "add", "x@example.org"]):
        assert one_error(capsys, argv) == (f"error: {target}: the database holds no ledger (no tables); nothing was "
                                           "created (correct the URL, or create the ledger there with "
                                           "`solidarity-mailer db init`)")
    with closing(sqlite3.connect(target)) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []  # still no table
    assert main(["db", "init"]) == 0
    assert f"created the ledger at {target}" in capsys.readouterr().out
    assert main(["suppressions", "add", "x@example.org"]) == 0


def test_catch_into_an_impossible_outbox(capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot create the outbox folder" in one_error(capsys, ["catch", "--port", "1", "--outbox", "/proc/nope"])


def test_serve_on_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", existing_ledger(tmp_path / "ledger.db"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert f"port {port} on 127.0.0.1 is in use" in one_error(capsys, ["serve", "--port", str(port)])


def test_bounces_import_of_a_file_that_is_no_mbox(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", existing_ledger(tmp_path / "ledger.db"))
    junk = tmp_path / "some.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert "not an mbox file" in one_error(capsys, ["bounces", "import", str(junk)])
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    assert main(["bounces", "import", str(empty)]) == 0  # an empty mbox is fine: 0 messages


def test_an_empty_time_zone_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", existing_ledger(tmp_path / "ledger.db"))
    assert "--tz is empty" in one_error(capsys, ["schedule", "x", "--every", "1h", "--tz", ""])
