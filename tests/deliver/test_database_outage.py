"""PostgreSQL stops in the middle of a run and comes back (issue 14): two `solidarity-mailer run` daemons sending one
run pause, reconnect with backoff and finish it; nothing lost, nothing doubled. The cluster is the test's own
(tests/postgres.py Cluster), so stopping it leaves the session's server alone. The outage (8 s) outlasts every lease
(5 s), so the workers come back to leases run out and rows the other may have taken; an outage of a minute works
the same way, the backoff being capped at 30 s (docs/operations.md)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER
from solidarity_mailer.ledger.schema import connect, deliveries
from tests import postgres
from tests.daemonproc import Daemon, Env, delivery_states, local_at, run_rows, wait_for, write_list
from tests.databases import on_postgresql
from tests.smtpserver import RecordingHandler, smtp_server
from tests.starter import CAMPAIGN

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql (the server goes away)")]
PEOPLE = 400
OUTAGE_SECONDS = 8  # longer than the leases below: they run out meanwhile
LEASES = "lease_seconds = 5\n"


@pytest.fixture
def cluster() -> Iterator[postgres.Cluster]:
    own = postgres.Cluster()
    yield own
    own.remove()


def _workers_sending(url: str) -> int:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count(func.distinct(deliveries.c.worker)))
                                    .where(deliveries.c.state == "sent")).scalar_one())
    finally:
        engine.dispose()


def _run_finished(url: str) -> bool:
    engine = connect(url)
    try:
        return [run["state"] for run in run_rows(engine)] == ["finished"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_two_daemons_ride_out_a_database_restart_and_finish_the_run(
        tmp_path: Path, cluster: postgres.Cluster, mode: str) -> None:
    with smtp_server(RecordingHandler()) as (controller, handler):
        env = Env(tmp_path, controller.port, per_second=15, delivery=LEASES,
                  database_url=cluster.create_database("outage"))
        with env.config.open("a", encoding="utf-8") as fh:
            fh.write(f"\n[scheduler]\n{LEASES}")
        people = write_list(tmp_path / "members.csv", PEOPLE)
        first, second = Daemon(env, "first"), Daemon(env, "second")
        try:
            first.wait_log("started")
            second.wait_log("started")
            env.schedule("--at", local_at(1)[0], "--tz", "UTC", "--list", str(tmp_path / "members.csv"))
            wait_for(lambda: _workers_sending(env.db_url) == 2 and len(handler.received) >= 60, 90,
                     "both daemons to send")
            cluster.stop(mode)
            at_stop = len(handler.received)
            time.sleep(OUTAGE_SECONDS)
            during = len(handler.received) - at_stop
            cluster.start()
            wait_for(lambda: _run_finished(env.db_url), 240, "the run to finish after the database came back")
            assert first.proc.poll() is None and second.proc.poll() is None  # neither daemon exited
        finally:
            first.terminate()
            second.terminate()
    assert during <= 2 * HELD_PER_SENDER  # they paused: at most the messages already in their senders' hands
    for daemon in (first, second):
        log = daemon.log()
        assert "is unreachable" in log and "Traceback" not in log, log
    [run] = run_rows(env.engine())
    states = delivery_states(env.engine(), run["id"])
    assert sorted(states) == people and set(states.values()) <= {"sent", "uncertain"}
    received = Counter(handler.recipients())
    assert all(received[a] >= 1 for a in people)  # nobody lost
    uncertain = sum(state == "uncertain" for state in states.values())
    assert sum(n - 1 for n in received.values()) <= uncertain  # a second copy only where it was uncertain
    assert all(received[a] == 1 for a, state in states.items() if state == "sent")  # the ledger matches the server
    report = json.loads(env.cli("status", str(CAMPAIGN), "--json").stdout)
    assert report["runs"][0]["counts"]["sent"] == PEOPLE - uncertain
