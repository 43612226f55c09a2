"""One rate limit shared by every worker through the ledger (issue 14), on PostgreSQL: two `send` processes deliver
one run against a real SMTP server that notes when each message arrives. Together they keep to `[delivery]
per_second`, to a relay's own `per_second`, and to `per_hour` across workers and a restart; each recipient gets
one copy. Real processes, a real SMTP server, a real PostgreSQL; bounds only, never durations."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, func, select

from solidarity_mailer.ledger.schema import deliveries, rate_limit_grants
from tests.arrivals import busiest_second
from tests.daemonproc import Env, run_rows, start_send, wait_for, workers_that_sent, write_list
from tests.databases import on_postgresql
from tests.smtpserver import RecordingHandler, smtp_server

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not on_postgresql(), reason="needs --database postgresql (workers share a run)")]


class Arrivals(RecordingHandler):
    """Records each message, and when it arrived (monotonic seconds)."""

    def __init__(self) -> None:
        super().__init__(on_data=self._arrived)
        self.times: list[float] = []

    def _arrived(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        self.times.append(time.monotonic())


def limited_env(tmp_path: Path, port: int, delivery: str, relay: str = "") -> Env:
    """An Env whose settings have ``delivery`` lines in ``[delivery]`` and, with ``relay``, its one relay as an
    ``[[smtp]]`` table named ``main`` with those lines."""
    env = Env(tmp_path, port, concurrency=2)
    text = env.config.read_text(encoding="utf-8").replace("per_second = 0\n", delivery + "\n")
    if relay:
        text = text.replace("[smtp]\n", f'[[smtp]]\nname = "main"\n{relay}\n', 1)
    env.config.write_text(text, encoding="utf-8")
    return env


def granted(engine: Engine) -> int:
    """The slots of the hour granted so far (every worker's)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(rate_limit_grants.c.count), 0))).scalar_one())


def claiming(engine: Engine) -> int:
    """How many workers hold claimed rows."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(deliveries.c.worker)))
                                .where(deliveries.c.claimed_until.is_not(None))).scalar_one())


def two_workers_send(env: Env, handler: Arrivals, count: int) -> list[str]:
    """Two `send` workers deliver a run of ``count`` recipients, the second joining once the first has sent 10;
    returns the recipients once both have finished (each must have sent some)."""
    members = env.tmp / "members.csv"
    people = write_list(members, count)
    first = start_send(env, "first", members)
    wait_for(lambda: len(handler.received) >= 10, 60, "the first worker to start sending")
    second = start_send(env, "second", members)
    for name, worker in (("first", first), ("second", second)):
        assert worker.wait(180) == 0, (env.tmp / f"{name}.log").read_text()
    engine = env.engine()
    assert workers_that_sent(engine) == 2  # both sent: the limit was shared, not one worker's alone
    assert [r["state"] for r in run_rows(engine)] == ["finished"]
    engine.dispose()
    return people


@pytest.mark.parametrize(("delivery", "relay"), [("per_second = 25", ""), ("per_second = 0", "per_second = 25")],
                         ids=["delivery", "relay"])
def test_two_workers_together_keep_to_the_per_second_limit(tmp_path: Path, delivery: str, relay: str) -> None:
    with smtp_server(Arrivals()) as (controller, handler):
        env = limited_env(tmp_path, controller.port, delivery, relay)
        people = two_workers_send(env, handler, 250)
    assert Counter(handler.recipients()) == Counter(people)  # each exactly once
    # 25 a second with 10% slack, +1: a slot may be used up to LATE (0.05 s) after its time, and one window
    # may hold a slot of each of its ends (deliver/rate_limit.py)
    assert busiest_second(handler.times) <= int(25 * 1.1) + 1


def stop(worker: subprocess.Popen[str]) -> None:
    """Ctrl-C: the worker stops sending (it was waiting for the hour) and exits."""
    worker.send_signal(signal.SIGINT)
    worker.wait(60)


def test_the_hourly_limit_holds_across_two_workers_and_a_restart(tmp_path: Path) -> None:
    with smtp_server(Arrivals()) as (controller, handler):
        env = limited_env(tmp_path, controller.port, "per_second = 2\nper_hour = 30")
        members = env.tmp / "members.csv"
        write_list(members, 260)  # more than one worker's batch of claims (200): rows for both
        first = start_send(env, "first", members)
        wait_for(lambda: len(handler.received) >= 6, 60, "the first worker to start sending")
        second = start_send(env, "second", members)
        engine = env.engine()
        wait_for(lambda: workers_that_sent(engine) == 2, 60, "the second worker to send too")
        wait_for(lambda: granted(engine) >= 30, 60, "the hour's 30 slots to be granted")
        time.sleep(1.0)  # room for a few more, were the limit not shared
        assert granted(engine) == 30 and 20 <= len(handler.received) <= 30  # (a slot that lapsed went unused)
        sent = len(handler.received)
        stop(first)
        stop(second)
        again = start_send(env, "again", members)  # a restart: the hour is remembered in the ledger
        wait_for(lambda: claiming(engine) == 1, 60, "the restarted worker to claim rows")
        time.sleep(1.0)
        assert len(handler.received) == sent and again.poll() is None  # waiting for the hour
        assert granted(engine) == 30
        stop(again)
        engine.dispose()
    assert len(set(handler.recipients())) == sent
