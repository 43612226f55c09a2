"""What the daemon (``solidarity-mailer run``, a real process) writes to its log: text from outside, such as a
relay's reply, with its control characters made visible (issue 12, hole 9); the database it names, without
a password (hole 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from solidarity_mailer.ledger.reachability import loggable_url
from tests.cli.hostile_rows import CONTROL
from tests.daemonproc import Daemon, Env, local_at, wait_for, write_list
from tests.smtpserver import RecordingHandler, smtp_server

HOSTILE_REPLY = "530 5.7.0 \x1b]0;owned\x07\x1b[2J authentication required"


@pytest.mark.slow
def test_a_relay_reply_cannot_drive_the_terminal_through_the_daemon_log(tmp_path: Path) -> None:
    handler = RecordingHandler(mail_replies=[HOSTILE_REPLY] * 10)
    with smtp_server(handler) as (controller, _):
        env = Env(tmp_path, controller.port)
        write_list(tmp_path / "members.csv", 2)
        daemon = Daemon(env)
        try:
            daemon.wait_log("started")
            at, _ = local_at(1)
            env.schedule("--at", at, "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
            wait_for(lambda: "authentication required" in daemon.log(), 30, "the relay's reply in the log")
        finally:
            assert daemon.terminate() == 0
    log = daemon.log()
    assert "paused by the SMTP server: 530 5.7.0 \\x1b]0;owned\\x07\\x1b[2J authentication" in log, log
    assert not CONTROL.search(log), log


@pytest.mark.parametrize(("url", "shown"), [
    ("sqlite:////srv/ledger.db?password=PW", "sqlite:////srv/ledger.db?…"),
    ("sqlite:///ledger.db", "sqlite:///ledger.db"),
    ("postgresql://mailer:PW@db.example.org:5432/ledger", "postgresql://mailer:***@db.example.org:5432/ledger"),
    ("postgresql://mailer:P%40W@db/ledger?sslpassword=PW", "postgresql://mailer:***@db/ledger?…"),
    ("postgresql://mailer:P@W@db/ledger", "postgresql://mailer:***@db/ledger"),  # a raw '@' in the password
    ("postgresql://mailer:P/W@db/ledger", "postgresql://mailer:***@db/ledger"),
])
def test_the_database_url_is_logged_without_its_password(url: str, shown: str) -> None:
    assert loggable_url(url) == shown
