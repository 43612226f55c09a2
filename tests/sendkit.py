"""A small project on disk for sending tests: a campaign of the seed resolution, a CSV list, a settings file."""

from __future__ import annotations

import asyncio
import csv
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from solidarity_mailer.config import Settings, load_settings

from .smtpserver import RecordingHandler

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "campaigns" / "peru-solidarity-2023.resolution.toml"
SECRET = "test-secret-0123456789abcdef"
_OVERRIDES = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "DATABASE")


def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's environment: the test secret, no SOLIDARITY_MAILER_* override from outside, cwd = tmp_path."""
    monkeypatch.setenv("SOLIDARITY_MAILER_SECRET", SECRET)
    for name in _OVERRIDES:
        monkeypatch.delenv(f"SOLIDARITY_MAILER_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


@dataclass
class SlowHandler(RecordingHandler):
    """A recording handler that waits ``delay`` seconds at the end of DATA (before replying)."""

    delay: float = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def addresses(n: int, domain: str = "example.org") -> list[str]:
    """``r0000@domain`` … in address order (the order the dispatcher sends in)."""
    return [f"r{i:04d}@{domain}" for i in range(n)]


def write_list(path: Path, emails: list[str]) -> Path:
    """A CSV list with email and name columns."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name"])
        for i, email in enumerate(emails):
            writer.writerow([email, f"Reader {i}"])
    return path


def write_project(root: Path, port: int, emails: list[str], *, concurrency: int = 2, per_second: float = 0,
                  max_attempts: int = 4, extra_smtp: str = "") -> tuple[Path, Path]:
    """Write campaigns/test.toml, recipients/list.csv and solidarity-mailer.toml; returns (campaign, config)."""
    (root / "campaigns").mkdir(parents=True, exist_ok=True)
    (root / "recipients").mkdir(exist_ok=True)
    write_list(root / "recipients" / "list.csv", emails)
    campaign = root / "campaigns" / "test.toml"
    campaign.write_text(
        "[campaign]\n"
        'id = "test"\n'
        'subject = "Solidarity with the struggle of the Peruvian people"\n'
        'from = "Solidarity Committee <committee@example.org>"\n'
        f'resolution = "{SEED}"\n'
        'lists = ["../recipients/list.csv"]\n'
        f'templates = "{REPO / "templates"}"\n',
        encoding="utf-8",
    )
    config = root / "solidarity-mailer.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 10\n{extra_smtp}\n'
        '[database]\nurl = "sqlite:///ledger.db"\n'
        f"[delivery]\nconcurrency = {concurrency}\nper_second = {per_second}\nmax_attempts = {max_attempts}\n"
        "retry_base_seconds = 0.05\nretry_max_seconds = 0.2\n"
        '[web]\npublic_base_url = "https://lists.example.org"\n',
        encoding="utf-8",
    )
    return campaign, config


def settings_for(config: Path) -> Settings:
    """The settings of a test project (the secret comes from the environment, set by the test)."""
    return load_settings(config, environ={})
