"""How many senders (each one SMTP connection, with its socket pair and, for SMTP, its process) a run starts
(issue 12): never more than the rows it has to send, so a large ``[delivery] concurrency`` for a small list
never runs out of file descriptors. The real CLI, under a low ``ulimit -n``, against a real aiosmtpd relay."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from solidarity_mailer.config.settings import MAX_CONCURRENCY
from tests.processes import cli_command
from tests.sendkit import addresses, clean_environment, states, write_project
from tests.smtpserver import RecordingHandler, smtp_server

FEW_FILES = 64  # open files allowed: enough for a run with a few senders, far from MAX_CONCURRENCY's pairs


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_a_large_concurrency_for_a_few_recipients_starts_only_a_few_senders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: bool) -> None:
    clean_environment(tmp_path, monkeypatch)
    emails = addresses(3)
    with smtp_server(RecordingHandler()) as (controller, handler):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=MAX_CONCURRENCY,
                                         extra_delivery=f"sender_processes = {str(processes).lower()}")
        command = ["sh", "-c", f'ulimit -n {FEW_FILES} && exec "$@"', "sh", *cli_command()]
        for _ in range(2):  # the second send has nothing left: it still starts one sender at most
            done = subprocess.run([*command, "send", str(campaign), "--config", str(config)], cwd=tmp_path,
                                  env=dict(os.environ), capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "Traceback" not in done.stderr
        assert sorted(handler.recipients()) == emails
    assert set(states(tmp_path).values()) == {"sent"}
