"""The ledger's disk fills up while the daemon (`solidarity-mailer run`, a real process) sends a scheduled run to a
real SMTP server (a small tmpfs as root, and always SQLite's own size limit: tests/fullledger.py): one log line,
the daemon stops with a non-zero exit, and once space is freed the restarted daemon finishes the run, nobody
sent twice and nobody lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER
from tests.daemonproc import Daemon, Env, delivery_states, local_at, run_rows, wait_for, write_list
from tests.fullledger import Disk
from tests.ledgerfile import existing_ledger
from tests.smtpserver import RecordingHandler, smtp_server

pytestmark = pytest.mark.slow

FILLED_AT = 30  # the disk fills up while the server takes this message


def test_a_full_disk_stops_the_daemon_with_one_line_and_a_restart_finishes_the_run(tmp_path: Path, disk: Disk) -> None:
    handler = RecordingHandler()
    disk.fill_at(handler, FILLED_AT)
    with smtp_server(handler) as (controller, _):
        env = Env(tmp_path, controller.port)  # its logs stay off the small disk, the ledger goes there
        env.config.write_text(env.config.read_text().replace(f"sqlite:///{env.db_path}", existing_ledger(disk.db)))
        env.db_path = disk.db
        people = write_list(tmp_path / "members.csv", 300)
        daemon = Daemon(env, "full", **disk.env)
        try:
            daemon.wait_log("started")
            env.schedule("--at", local_at(2)[0], "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
            assert daemon.wait(timeout=60) == 2  # it stops by itself
        finally:
            daemon.terminate()
        log = daemon.log()
        assert "Traceback" not in log, log
        [error] = [line for line in log.splitlines() if " ERROR " in line]
        assert f"run 1: {env.db_path}: the ledger's disk is full (free space, then start the daemon again" in error
        assert log.splitlines()[-1] == (f"error: {env.db_path}: the ledger's disk is full (free space, then start "
                                        "the daemon again (`solidarity-mailer run`): it resumes run 1)"), log
        assert FILLED_AT < len(handler.received) < len(people)

        disk.free()
        daemon = Daemon(env, "restarted")
        try:
            wait_for(lambda: run_rows(env.engine())[0]["state"] == "finished", 60, "the run to finish")
        finally:
            assert daemon.terminate() == 0
    assert Counter(handler.recipients()) == Counter(people)  # nobody twice, nobody lost
    found = Counter(delivery_states(env.engine(), 1).values())
    assert found["sent"] + found["uncertain"] == len(people)  # the messages in flight when it filled: uncertain
    assert found["uncertain"] <= HELD_PER_SENDER
