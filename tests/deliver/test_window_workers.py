"""Send windows with several workers on PostgreSQL (issue 16 with issue 14): two `run` daemons share a scheduled run
on one test clock. The rows whose recipient's window is closed are held by whichever worker claimed them, the run
waits for the opening, then the daemons take it up again. Real processes, a real SMTP server, a real PostgreSQL;
order and not-before only, never durations."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select

from solidarity_mailer.ledger.schema import deliveries
from tests.daemonproc import Daemon, Env, run_rows, wait_for
from tests.databases import on_postgresql
from tests.schedule.zonekit import write_zoned_list
from tests.smtpserver import RecordingHandler, smtp_server

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql (workers share a run)")]
SPEED = 10  # simulated seconds per real second
START = datetime(2026, 12, 11, 6, 58, tzinfo=UTC)  # a Friday: 07:58 in Berlin (closed), 08:58 in Helsinki (open)
OPENS = datetime(2026, 12, 11, 7, 0, tzinfo=UTC)  # 08:00 in Berlin


class Arrivals(RecordingHandler):
    """A relay that takes its time (the run lasts long enough to be shared) and notes when each message arrived."""

    def __init__(self) -> None:
        super().__init__(on_data=self._arrived)
        self.arrivals: dict[str, float] = {}

    def _arrived(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        time.sleep(0.004)
        for rcpt in envelope.rcpt_tos:
            self.arrivals[rcpt] = time.time()


def test_two_workers_hold_the_closed_zone_until_its_window_opens(tmp_path: Path) -> None:
    handler = Arrivals()
    with smtp_server(handler) as (controller, _):
        origin = time.time() + 4  # the clock shows START four real seconds from now
        env = Env(tmp_path, controller.port, extra={"SOLIDARITY_MAILER_TEST_CLOCK":
                                                    f"start={START.isoformat()},speed={SPEED},origin={origin}"})
        env.config.write_text(env.config.read_text(encoding="utf-8") + '\n[window]\nhours = "08:00-20:00"\n',
                              encoding="utf-8")
        # more rows than a worker claims at once (feeder.BATCH), the two zones interleaved: every claim holds some
        people = {f"r{i:04d}@example.org": "Europe/Berlin" if i % 2 else "Europe/Helsinki" for i in range(1200)}
        write_zoned_list(tmp_path / "zoned.csv", people)
        env.schedule("--at", "2026-12-11 06:58:20", "--tz", "UTC", "--list", str(tmp_path / "zoned.csv"))
        first = Daemon(env, "first")
        first.wait_log("started")
        second = Daemon(env, "second")
        try:
            second.wait_log("started")
            wait_for(lambda: len(handler.arrivals) == len(people), 120, "every message")
            wait_for(lambda: [r["state"] for r in run_rows(env.engine())] == ["finished"], 30, "the run to finish")
        finally:
            assert first.terminate() == 0 and second.terminate() == 0
    log = first.log() + second.log()
    assert "waiting for the send window (08:00-20:00)" in log  # the run waited for Berlin's opening
    assert Counter(handler.recipients()) == Counter(list(people))  # each exactly once
    arrived = {a: START + timedelta(seconds=(t - origin) * SPEED) for a, t in handler.arrivals.items()}
    assert min(arrived[a] for a, zone in people.items() if zone == "Europe/Berlin") >= OPENS  # never before
    assert len(sending_processes(env.engine())) == 2  # both daemons delivered the run


def sending_processes(engine: Engine) -> set[str]:
    """The processes (``host:pid``) that sent rows (a worker is ``host:pid:nonce``, a nonce per call)."""
    with engine.connect() as conn:
        workers = conn.execute(select(deliveries.c.worker).where(deliveries.c.state == "sent").distinct()).scalars()
        return {str(w).rsplit(":", 1)[0] for w in workers}
