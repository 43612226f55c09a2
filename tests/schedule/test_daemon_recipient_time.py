"""End to end: ``schedule --recipient-time`` fired by the real daemon (``solidarity-mailer run``) into a real SMTP
server, on two zones whose instants fall 15 simulated minutes (3 real seconds) apart on a shared test clock. Only
order and not-before are asserted, never an upper bound on wall-clock delays."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.daemonproc import Daemon, Env, run_rows, wait_for
from tests.schedule.zonekit import write_zoned_list
from tests.smtpserver import RecordingHandler, smtp_server
from tests.starter import CAMPAIGN

pytestmark = pytest.mark.slow
SPEED = 300  # simulated seconds per real second
KATHMANDU, KOLKATA = datetime(2026, 12, 8, 3, 15, tzinfo=UTC), datetime(2026, 12, 8, 3, 30, tzinfo=UTC)


class ArrivalHandler(RecordingHandler):
    """Records when (real time) each recipient's message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, float] = {}
        self.on_data = self._on_data

    def _on_data(self, server: SMTP, session: Session, envelope: Envelope) -> str | None:
        for rcpt in envelope.rcpt_tos:
            self.arrivals[rcpt] = time.time()
        return None


@pytest.fixture
def arrival_smtp() -> Iterator[tuple[int, ArrivalHandler]]:
    handler = ArrivalHandler()
    with smtp_server(handler) as (controller, _):
        yield controller.port, handler


def test_each_zones_batch_arrives_at_its_own_instant(tmp_path: Path,
                                                      arrival_smtp: tuple[int, ArrivalHandler]) -> None:
    port, handler = arrival_smtp
    origin = time.time() + 6  # the clock shows 03:15:00 UTC (Kathmandu's 09:00) six real seconds from now
    start = KATHMANDU.isoformat()
    env = Env(tmp_path, port, extra={"SOLIDARITY_MAILER_TEST_CLOCK": f"start={start},speed={SPEED},origin={origin}"})
    people = {"ktm1@example.org": "Asia/Kathmandu", "ktm2@example.org": "Asia/Kathmandu",
              "kol1@example.org": "Asia/Kolkata", "kol2@example.org": None}  # no zone: --tz Asia/Kolkata
    write_zoned_list(tmp_path / "zoned.csv", people)
    sid = env.schedule("--at", "2026-12-08 09:00", "--recipient-time", "--tz", "Asia/Kolkata",
                       "--list", str(tmp_path / "zoned.csv"))
    (camp,) = [c for c in env.campaigns() if c["id"] == "peru-solidarity-2023"]
    plan = camp["schedules"][0]["plan"]
    assert plan == [{"zone": "Asia/Kathmandu", "at": "2026-12-08T03:15:00Z", "recipients": 2},
                    {"zone": "Asia/Kolkata", "at": "2026-12-08T03:30:00Z", "recipients": 2}]
    daemon = Daemon(env)
    try:
        wait_for(lambda: len(handler.arrivals) == len(people), 60, "every message")
        wait_for(lambda: daemon.log().count("finished") >= 2, 20, "both batches to finish")
    finally:
        assert daemon.terminate() == 0

    def simulated(real: float) -> datetime:
        return KATHMANDU + timedelta(seconds=(real - origin) * SPEED)

    arrived = {address: simulated(t) for address, t in handler.arrivals.items()}
    assert all(arrived[a] >= KATHMANDU for a in ("ktm1@example.org", "ktm2@example.org"))  # never early
    assert all(arrived[a] >= KOLKATA for a in ("kol1@example.org", "kol2@example.org"))
    assert max(arrived["ktm1@example.org"], arrived["ktm2@example.org"]) < min(
        arrived["kol1@example.org"], arrived["kol2@example.org"])  # Kathmandu's batch first
    runs = run_rows(env.engine())
    assert [(r["fire_key"], r["state"]) for r in runs] == [
        (f"sched:{sid}:2026-12-08T03:15:00+00:00:Asia/Kathmandu", "finished"),
        (f"sched:{sid}:2026-12-08T03:30:00+00:00:Asia/Kolkata", "finished"),
    ]
    assert sorted(handler.recipients()) == sorted(people)  # each exactly once
    report = json.loads(env.cli("status", str(CAMPAIGN), "--json").stdout)  # status counts per batch
    assert [(r["zone"], {k: n for k, n in r["counts"].items() if n}) for r in report["runs"]] == [
        ("Asia/Kathmandu", {"sent": 2}), ("Asia/Kolkata", {"sent": 2})]
