"""Sender processes (``couriers.py``) against a real aiosmtpd server and SQLite ledger: one that dies with
messages in hand, sender threads when processes are switched off, and no process left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from solidarity_mailer import ledger
from solidarity_mailer.cli import main
from solidarity_mailer.db import connect
from solidarity_mailer.dispatch import deliver_run
from solidarity_mailer.ledgerwriter import LedgerWriter
from solidarity_mailer.message import MessageFactory
from solidarity_mailer.preparation import find_campaign
from solidarity_mailer.workers import IN_HAND

from .sendkit import SlowHandler, addresses, clean_environment, settings_for, write_project
from .smtpserver import smtp_server


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def sender_pids() -> set[int]:
    """This test process's sender launcher and the senders it forked (``python -m solidarity_mailer.couriers``)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"solidarity_mailer.couriers" in cmdline:
                found.add(int(entry.name))
    launchers = {pid for pid in found if _parent(pid) == os.getpid()}
    return launchers | {pid for pid in found if _parent(pid) in launchers}


@dataclass
class Watching(SlowHandler):
    """Records, at each message, which sender processes of this test are running."""

    seen_processes: list[set[int]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.seen_processes.append(sender_pids())
        return await super().handle_DATA(server, session, envelope)


def send(campaign: Path, config: Path, *args: str) -> int:
    return main(["send", str(campaign), "--config", str(config), *args])


def test_a_sender_killed_with_messages_in_hand_stops_the_run_and_loses_no_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emails = addresses(12)
    killed: list[int] = []

    class KillSenderAtFifth(SlowHandler):
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            reply = await super().handle_DATA(server, session, envelope)  # recorded: the message did arrive
            if envelope.rcpt_tos == [emails[4]] and not killed:  # once
                running = sender_pids()
                for pid in running:
                    if _parent(pid) in running:  # a sender forked by the launcher, not the launcher itself
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
            return reply

    handler = KillSenderAtFifth()
    with smtp_server(handler) as (controller, _):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
        code = send(campaign, config)
        err = capsys.readouterr().err
        assert killed, "no sender process was found to kill"
        assert code != 0
        assert "sender process 0 died while sending" in err and "send again to continue" in err
        assert "Traceback" not in err
        assert not sender_pids()  # the launcher is gone too

        assert send(campaign, config) == 0  # the rest, once each
        capsys.readouterr()
        main(["status", "test", "--config", str(config), "--json"])
        run = json.loads(capsys.readouterr().out)["runs"][0]
        uncertain = {p["address"] for p in run["problems"] if p["state"] == "uncertain"}
        assert emails[4] in uncertain and len(uncertain) <= IN_HAND  # what it had in hand: maybe delivered
        copies = Counter(handler.recipients())
        assert set(copies) | uncertain == set(emails)  # nobody lost
        assert all(n == 1 for n in copies.values())  # nobody sent twice

        assert send(campaign, config, "--resend-uncertain") == 0
        copies = Counter(handler.recipients())
        assert set(copies) == set(emails)
        assert {a for a, n in copies.items() if n > 1} <= uncertain


def test_sender_threads_when_sender_processes_are_off(tmp_path: Path) -> None:
    emails = addresses(10)
    handler = Watching()
    with smtp_server(handler) as (controller, _):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=3)
        config.write_text(config.read_text().replace("[delivery]\n", "[delivery]\nsender_processes = false\n"))
        assert send(campaign, config) == 0
    assert Counter(handler.recipients()) == Counter(emails)
    assert handler.seen_processes and not any(handler.seen_processes)  # threads in the dispatcher did the sending


def test_sender_processes_send_everything_once_and_leave_nothing_behind(tmp_path: Path) -> None:
    emails = addresses(40)
    handler = Watching()
    with smtp_server(handler) as (controller, _):
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=3)
        assert send(campaign, config) == 0
        assert Counter(handler.recipients()) == Counter(emails)
    assert max(len(p) for p in handler.seen_processes) == 4  # the launcher and three senders
    assert not sender_pids()


def _run_in_thread(fn, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """``fn()`` in a thread: its result or exception, or a failure if it hangs."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "deliver_run hung"
    return box


def _open_run(tmp_path: Path, port: int, emails: list[str], **kwargs):  # type: ignore[no-untyped-def]
    campaign, config = write_project(tmp_path, port, emails, **kwargs)
    settings = settings_for(config)
    engine = connect(settings.database_url)
    ledger.ensure_campaign(engine, find_campaign(str(campaign)))
    return settings, engine, ledger.open_run(engine, "test", "manual:test", now=ledger.utcnow())


def test_a_ledger_error_mid_run_stops_it_without_hanging_and_loses_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim that fails (here: the database refuses the write; no real server produces it on demand) is
    raised by deliver_run; nothing stays `sending`, and the next run sends everyone else exactly once."""
    emails = addresses(30)
    handler = SlowHandler()
    calls = [0]
    real_claim = LedgerWriter.claim_many

    def failing_claim(self, claims):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 3:
            raise sqlite3.OperationalError("database is locked")
        return real_claim(self, claims)

    with smtp_server(handler) as (controller, _):
        settings, engine, run_id = _open_run(tmp_path, controller.port, emails, concurrency=2)
        monkeypatch.setattr(LedgerWriter, "claim_many", failing_claim)
        box = _run_in_thread(lambda: deliver_run(engine, run_id, settings))
        assert isinstance(box.get("error"), sqlite3.OperationalError)
        assert not sender_pids()
        monkeypatch.setattr(LedgerWriter, "claim_many", real_claim)
        states = Counter(ledger.counts(engine, run_id))
        assert states["sending"] == 0
        summary = deliver_run(engine, run_id, settings)
        assert summary.state == "finished"
    uncertain = {p.address for p in ledger.problems(engine, run_id) if p.state == "uncertain"}
    copies = Counter(handler.recipients())
    assert set(copies) | uncertain == set(emails)
    assert all(n == 1 for n in copies.values())


def test_a_message_that_cannot_be_built_fails_alone_in_a_sender_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while building one recipient's message (not a MailerError) fails that recipient; the sender
    goes on (it used to die silently and leave the run waiting for it)."""
    emails = addresses(8)
    handler = SlowHandler()
    real_build = MessageFactory.build

    def build(self, recipient):  # type: ignore[no-untyped-def]
        if recipient.key == emails[3]:
            raise ValueError("boom")
        return real_build(self, recipient)

    monkeypatch.setattr(MessageFactory, "build", build)
    with smtp_server(handler) as (controller, _):
        settings, engine, run_id = _open_run(tmp_path, controller.port, emails, concurrency=2)
        settings = dataclasses.replace(settings, delivery=dataclasses.replace(settings.delivery,
                                                                                sender_processes=False))
        box = _run_in_thread(lambda: deliver_run(engine, run_id, settings))
    assert "error" not in box, box
    [problem] = ledger.problems(engine, run_id)
    assert (problem.address, problem.state) == (emails[3], "failed")
    assert "cannot build the message" in problem.last_reply
    assert Counter(handler.recipients()) == Counter(e for e in emails if e != emails[3])
