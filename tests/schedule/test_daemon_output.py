"""What the daemon (``solidarity-mailer run``, a real process) writes to its log: text from outside, such as a
relay's reply, with its control characters made visible (issue 12, hole 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.hostile_rows import CONTROL
from tests.daemonproc import Daemon, Env, local_at, wait_for, write_list
from tests.smtpserver import RecordingHandler, smtp_server

pytestmark = pytest.mark.slow

HOSTILE_REPLY = "530 5.7.0 \x1b]0;owned\x07\x1b[2J authentication required"


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
