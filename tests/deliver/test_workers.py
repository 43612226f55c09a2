"""Several workers deliver one run on PostgreSQL (issue 14): `send` processes join the run, one is killed with
SIGKILL in the middle, the others finish it. Every recipient gets the message; the only copies beyond one are
those of rows the killed worker left `uncertain`. Real processes, a real SMTP server, a real PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.daemonproc import Env, delivery_states, run_rows, start_send, wait_for, workers_that_sent, write_list
from tests.databases import on_postgresql
from tests.smtpserver import RecordingHandler, smtp_server
from tests.starter import CAMPAIGN

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql (workers share a run)")]


def _slow_data(server: SMTP, session: Session, envelope: Envelope) -> str | None:
    time.sleep(0.005)  # a relay that takes its time: the run lasts long enough to be shared
    return None


def test_three_workers_share_a_run_and_one_killed_loses_nobody(tmp_path: Path) -> None:
    with smtp_server(RecordingHandler(on_data=_slow_data)) as (_controller, handler):
        env = Env(tmp_path, _controller.port)
        members = tmp_path / "members.csv"
        people = write_list(members, 1500)
        engine = env.engine()
        first = start_send(env, "first", members)
        wait_for(lambda: len(handler.received) >= 20, 60, "the first worker to start sending")
        second, third = start_send(env, "second", members), start_send(env, "third", members)
        wait_for(lambda: workers_that_sent(engine) >= 3, 60, "all three workers to send")
        engine.dispose()
        second.send_signal(signal.SIGKILL)  # no goodbye: its lease and its rows stay as they were
        second.wait(10)
        assert first.wait(120) == 0, (tmp_path / "first.log").read_text()
        assert third.wait(120) == 0, (tmp_path / "third.log").read_text()
    [run] = run_rows(env.engine())
    assert run["state"] == "finished"
    states = delivery_states(env.engine(), run["id"])
    assert sorted(states) == sorted(people) and set(states.values()) <= {"sent", "uncertain"}
    received = Counter(handler.recipients())
    assert all(received[a] >= 1 for a, state in states.items() if state == "sent")  # nobody lost
    uncertain = sum(state == "uncertain" for state in states.values())
    assert sum(n - 1 for n in received.values()) <= uncertain  # a second copy only where it was uncertain
    report = json.loads(env.cli("status", str(CAMPAIGN), "--json").stdout)
    workers = report["runs"][0]["workers"]
    assert len(workers) == 3 and sum(w["sent"] for w in workers) == report["runs"][0]["counts"]["sent"]
