"""``solidarity-mailer demo`` on a fresh folder: no settings, no secret; real scheduler, real SMTP, exit 0."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest

from tests.starter import CAMPAIGN, EXAMPLE_LIST

pytestmark = pytest.mark.slow


def test_demo_delivers_the_shipped_campaign_through_the_scheduler(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))",
         "demo", "--dir", str(workdir), "--delay", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "SOLIDARITY_MAILER_SECRET is not set" in out
    assert "schedule 1: peru-solidarity-2023 once at" in out
    assert "daemon: schedule 1 fired: run 1" in out
    assert "run 1: finished; sent 6" in out
    assert f"solidarity-mailer preview {CAMPAIGN} --outbox" in out  # the shipped starter campaign
    assert "solidarity-mailer init my-campaigns" in out
    files = sorted((workdir / "outbox").glob("*.eml"))
    assert len(files) == 6
    rows = EXAMPLE_LIST.read_text("utf-8").splitlines()[1:]
    seen = set()
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert msg["Subject"] == "ICOR resolution: Solidarity with the struggle of the Peruvian people"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        seen.add(str(msg["To"].addresses[0].addr_spec))
    assert len(seen) == len(rows) == 6  # each recipient of the example list, once
    # the settings file it wrote works with the other commands
    shown = subprocess.run(
        [sys.executable, "-c", "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))",
         "campaigns", "--config", str(workdir / "solidarity-mailer.toml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert "last run 1" in shown.stdout and "[finished]: sent 6" in shown.stdout
