"""`kill -9` of a real `solidarity-mailer send` in the middle of a run, then `send` again.

Asserted from the SMTP server's own records: every recipient has at least one copy, and the only
recipients with more than one are those the ledger reported as uncertain.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER
from tests.processes import cli_command
from tests.sendkit import SECRET, SlowHandler, addresses, write_project
from tests.smtpserver import smtp_server


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
    env["SOLIDARITY_MAILER_SECRET"] = SECRET
    return env


@pytest.mark.slow
def test_kill_9_mid_run_then_send_again(tmp_path: Path) -> None:
    emails = addresses(80)
    with smtp_server(SlowHandler(delay=0.03)) as (controller, handler):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=3)
        send = [*cli_command(), "send", str(campaign), "--config", str(config)]
        proc = subprocess.Popen(send, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(handler.received) < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        assert proc.poll() is None, "the send finished or failed before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = len(handler.received)
        assert 20 <= killed_at < len(emails)

        again = subprocess.run(send, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert "uncertain" in again.stderr  # told about the interrupted sends
        report = subprocess.run([*cli_command(), "status", "test", "--config", str(config), "--json"], cwd=tmp_path,
                                env=_env(), capture_output=True, text=True, timeout=60)
        run = json.loads(report.stdout)["runs"][0]
        uncertain = {p["address"] for p in run["problems"] if p["state"] == "uncertain"}
        assert 1 <= len(uncertain) <= 3 * HELD_PER_SENDER  # at most HELD_PER_SENDER rows per connection were held
        assert run["counts"]["sent"] + len(uncertain) == len(emails)
        copies = Counter(handler.recipients())
        assert set(copies) | uncertain == set(emails)  # nobody lost (uncertain ones may have 0 or 1 copy)
        assert all(n == 1 for n in copies.values())  # no duplicates before resending the uncertain

        final = subprocess.run([*send, "--resend-uncertain"], cwd=tmp_path, env=_env(), capture_output=True,
                               text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        copies = Counter(handler.recipients())
        assert set(copies) == set(emails)  # every recipient has at least one copy
        duplicated = {a for a, n in copies.items() if n > 1}
        assert duplicated <= uncertain  # duplicates only among those reported uncertain
