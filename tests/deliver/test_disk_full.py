"""The ledger's disk fills up in the middle of a real `solidarity-mailer send` (a real SMTP server, a real SQLite
file): one line, a non-zero exit, and once space is freed `send` again finishes the run, nobody sent twice and
nobody lost. The disk fills for real (tests/fullledger.py): a small tmpfs when the tests run as root, and always
SQLite's own size limit, which fails writes with the very same SQLITE_FULL."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER
from tests.fullledger import Disk
from tests.ledgerfile import existing_ledger
from tests.processes import cli_command
from tests.sendkit import SECRET, SlowHandler, addresses, states, write_project
from tests.smtpserver import smtp_server

FILLED_AT = 30  # the disk fills up while the server takes this message
CONCURRENCY = 2


@pytest.mark.slow
def test_a_full_disk_mid_send_is_one_line_and_send_again_finishes(tmp_path: Path, disk: Disk) -> None:
    emails = addresses(300)
    handler = SlowHandler()
    disk.fill_at(handler, FILLED_AT)
    with smtp_server(handler) as (controller, _):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=CONCURRENCY)
        config.write_text(config.read_text().replace("sqlite:///ledger.db", existing_ledger(disk.db)))
        send = [*cli_command(), "send", str(campaign), "--config", str(config)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
        env.update(disk.env, SOLIDARITY_MAILER_SECRET=SECRET)
        full = subprocess.run(send, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert full.returncode == 2, full.stderr
        assert "Traceback" not in full.stderr + full.stdout, full.stderr
        [line] = [x for x in full.stderr.splitlines() if not x.startswith("lists: ")]
        assert line == (f"error: {disk.db}: the ledger's disk is full (free space, then `solidarity-mailer send "
                        "test` continues the run)"), full.stderr
        taken = len(handler.received)
        assert FILLED_AT < taken < len(emails)

        disk.free()
        again = subprocess.run(send, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
    assert Counter(handler.recipients()) == Counter(emails)  # nobody twice, nobody lost
    found = Counter(states(disk.db.parent).values())
    assert found["sent"] + found["uncertain"] == len(emails)  # the messages in flight when it filled: uncertain
    assert found["uncertain"] <= HELD_PER_SENDER * CONCURRENCY
