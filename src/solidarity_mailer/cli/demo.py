"""``solidarity-mailer demo``: the main job end to end on a fresh machine, with embedded defaults.

In a working folder (default: a new ``solidarity-mailer-demo-*`` folder in the system temp directory, or
``--dir``) it writes a settings file and a SQLite ledger, starts the capture SMTP server (aiosmtpd on a
free 127.0.0.1 port, storing ``.eml`` files in ``outbox/``), schedules the campaign of the starter project
shipped in the package (the same from a checkout or an installed wheel, whatever the working folder) a few
seconds ahead, runs the real scheduler daemon until that run is over, and prints the summary and where to look.
Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from solidarity_mailer.compose.unsubscribe_tokens import SECRET_ENV
from solidarity_mailer.config import load_settings
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect
from solidarity_mailer.paths import starter_project
from solidarity_mailer.schedule.daemon import Daemon
from solidarity_mailer.schedule.recurrence import default_zone, zone
from solidarity_mailer.schedule.schedules import add_schedule
from solidarity_mailer.transports.capture import CaptureServer

CAMPAIGN = ("campaigns", "peru-solidarity-2023.toml")  # in the shipped starter project


@dataclass
class DemoResult:
    """What the demo did."""

    workdir: Path
    campaign_path: Path
    outbox: Path
    config: Path
    run_id: int
    state: str
    counts: dict[str, int]
    files: list[Path]
    scheduled_for: dt.datetime
    first_message_at: dt.datetime | None


def run_demo(workdir: Path | None = None, *, delay: float = 5.0, say: Callable[[str], None] = print,
             timeout: float = 120.0) -> DemoResult:
    """Run the demo; ``say`` receives the lines meant for people."""
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="solidarity-mailer-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()
    say(f"working folder: {workdir}")
    if not os.environ.get(SECRET_ENV):
        os.environ[SECRET_ENV] = secrets.token_urlsafe(32)
        say(f"{SECRET_ENV} is not set: using a random demo secret for the unsubscribe links of this demo")
    outbox = workdir / "outbox"
    first: list[dt.datetime] = []
    server = CaptureServer(outbox, on_message=lambda *_: first.append(dt.datetime.now(dt.UTC)))
    server.start()
    try:
        say(f"capture SMTP server listening on {server.host}:{server.port}, storing mail in {outbox}")
        config = workdir / "solidarity-mailer.toml"
        config.write_text(
            "# Written by `solidarity-mailer demo`: deliver to the embedded capture SMTP server.\n"
            f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n\n'
            '[database]\nurl = "sqlite:///demo.db"\n\n[delivery]\ntransport = "smtp"\nper_second = 50.0\n',
            encoding="utf-8",
        )
        settings = load_settings(config)
        engine = connect(settings.database_url)
        campaign = find_campaign(str(starter_project().joinpath(*CAMPAIGN)))
        tz = default_zone()
        at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)).replace(microsecond=0)
        local = at.astimezone(zone(tz))
        sched = add_schedule(engine, campaign, at=f"{local:%Y-%m-%d %H:%M:%S}", tz=tz, now=ledger.utcnow())
        say(f"schedule {sched.id}: {campaign.id} once at {local:%H:%M:%S} {tz} ({at:%H:%M:%S} UTC), "
            f"to {', '.join(p.name for p in campaign.lists)}")
        daemon = Daemon(settings, engine=engine, sync_seconds=1.0)
        daemon.start()
        say("scheduler daemon started; waiting for the firing…")
        try:
            run_id = _wait_for_run(engine, campaign.id, sched.id, timeout, daemon)
        finally:
            daemon.stop()
        run = ledger.get_run(engine, run_id)
        counts = {k: v for k, v in ledger.counts(engine, run_id).items() if v}
        files = sorted(outbox.glob("*.eml"))
        return DemoResult(workdir, campaign.path, outbox, config, run_id, run.state, counts, files, at,
                          first[0] if first else None)
    finally:
        server.stop()


def _wait_for_run(engine: Engine, campaign_id: str, schedule_id: int, timeout: float, daemon: Daemon) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in ledger.runs_of(engine, campaign_id):
            if run.schedule_id == schedule_id and run.state in ("finished", "paused", "cancelled", "missed"):
                return run.id
        if daemon.stopping.wait(0.2):
            break
    raise MailerError(f"the demo run did not finish within {timeout:.0f} s", hint="see the messages above")
