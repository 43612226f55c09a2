"""A small project on disk for sending tests: a campaign of the seed resolution, a CSV list, a settings file."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select

from solidarity_mailer.cli import main
from solidarity_mailer.config import Settings, load_settings
from solidarity_mailer.deliver import manual_send
from solidarity_mailer.deliver.dispatcher import RunDependencies
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect, deliveries
from tests.databases import ledger_url
from tests.smtpserver import RecordingHandler
from tests.starter import RESOLUTION, TEMPLATES

REPO = Path(__file__).resolve().parents[1]
SEED = RESOLUTION
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
                  max_attempts: int = 4, extra_smtp: str = "", extra_delivery: str = "") -> tuple[Path, Path]:
    """Write campaigns/test.toml, recipients/list.csv and solidarity-mailer.toml; returns (campaign, config).
    ``extra_smtp`` / ``extra_delivery`` are more lines for those sections."""
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
        f'templates = "{TEMPLATES}"\n',
        encoding="utf-8",
    )
    config = root / "solidarity-mailer.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 10\n{extra_smtp}\n'
        f'[database]\nurl = "{ledger_url(root, relative=True)}"\n'
        f"[delivery]\nconcurrency = {concurrency}\nper_second = {per_second}\nmax_attempts = {max_attempts}\n"
        f"retry_base_seconds = 0.05\nretry_max_seconds = 0.2\n{extra_delivery}\n"
        '[web]\npublic_base_url = "https://lists.example.org"\n',
        encoding="utf-8",
    )
    connect(ledger_url(root)).dispose()  # `db init`: only the default ledger is created by commands
    return campaign, config


def settings_for(config: Path) -> Settings:
    """The settings of a test project (the secret comes from the environment, set by the test)."""
    return load_settings(config, environ={})


def open_manual_run(config: Path, campaign: Path) -> tuple[Settings, Engine, int]:
    """The settings, an engine and the id of the campaign's manual run (opened as ``send`` opens it)."""
    settings = settings_for(config)
    engine = connect(settings.database_url)
    return settings, engine, manual_send.open_manual_run(engine, find_campaign(str(campaign))).run_id


def send(campaign: Path, config: Path, *args: str) -> int:
    """``solidarity-mailer send CAMPAIGN --config CONFIG ARGS…`` in this process; its exit status."""
    return main(["send", str(campaign), "--config", str(config), *args])


def status(capsys: pytest.CaptureFixture[str], config: Path) -> dict:  # type: ignore[type-arg]
    """``solidarity-mailer status test --config CONFIG --json`` in this process; the report it printed."""
    capsys.readouterr()
    assert main(["status", "test", "--config", str(config), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def rows(tmp_path: Path) -> dict[str, tuple[str, int, str]]:
    """The ledger in ``tmp_path``: address -> (state, attempts, last_reply)."""
    engine = connect(ledger_url(tmp_path))
    with engine.connect() as conn:
        found = conn.execute(select(deliveries.c.address, deliveries.c.state, deliveries.c.attempts,
                                    deliveries.c.last_reply)).all()
    engine.dispose()
    return {r.address: (r.state, r.attempts, r.last_reply) for r in found}


def states(tmp_path: Path) -> dict[str, str]:
    """The ledger in ``tmp_path``: address -> state."""
    return {address: row[0] for address, row in rows(tmp_path).items()}


@dataclass
class Clock:
    """``now``/``sleep`` for deliver_run (:meth:`dependencies`): time moves only when the dispatcher sleeps;
    ``on_sleep`` hooks get the number of sleeps so far."""

    t: dt.datetime = field(default_factory=ledger.utcnow)
    slept: list[float] = field(default_factory=list)
    on_sleep: list[Callable[[int], object]] = field(default_factory=list)

    def now(self) -> dt.datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += dt.timedelta(seconds=seconds)
        for hook in self.on_sleep:
            hook(len(self.slept))

    def dependencies(self) -> RunDependencies:
        """This clock's ``now`` and ``sleep`` for :func:`deliver_run`."""
        return RunDependencies(now=self.now, sleep=self.sleep)
