"""The sender process (``deliver/senders.py``) against a real aiosmtpd server and SQLite ledger: killed with
messages in hand, sender threads in the dispatcher when it is switched off, and no process left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import psutil
import pytest

from solidarity_mailer.cli import main
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.deliver.claim_loop import HELD_PER_SENDER
from solidarity_mailer.deliver.dispatcher import deliver_run
from solidarity_mailer.deliver.prepare import find_campaign, make_factory
from solidarity_mailer.deliver.sender_loop import read_pipe, write_pipe
from solidarity_mailer.deliver.senders import _SenderProcess
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.writer import LedgerWriter
from solidarity_mailer.ports import free_port
from solidarity_mailer.render.once import render_once
from tests.sendkit import addresses, clean_environment, open_manual_run, send, settings_for, write_project
from tests.smtpserver import smtp_server


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


def sender_pids() -> set[int]:
    """This test process's sender processes (``python -m solidarity_mailer.deliver.senders``) and anything they
    started (nothing: their senders are threads)."""
    found: set[int] = set()
    for child in psutil.Process().children():
        try:
            if any("solidarity_mailer.deliver.senders" in arg for arg in child.cmdline()):
                found |= {child.pid, *(grandchild.pid for grandchild in child.children(recursive=True))}
        except psutil.Error:  # it ended meanwhile
            continue
    return found


def test_a_sender_killed_with_messages_in_hand_stops_the_run_and_loses_no_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emails = addresses(12)
    killed: list[int] = []

    def kill_sender_at_fifth(server, session, envelope):  # type: ignore[no-untyped-def]
        if envelope.rcpt_tos == [emails[4]] and not killed:  # once; the message is still recorded (it arrived)
            for pid in sender_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with smtp_server() as (controller, handler):
        handler.on_data = kill_sender_at_fifth
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=1)
        code = send(campaign, config)
        err = capsys.readouterr().err
        assert killed, "no sender process was found to kill"
        assert code != 0
        # (whether the loop learns it when reading a result or when passing on the next row is a race)
        assert ("sender 0 of the sender process died while sending" in err
                or "sender 0 of the sender process is gone" in err)
        assert "send again to continue" in err
        assert "Traceback" not in err
        assert not sender_pids()

        assert send(campaign, config) == 0  # the rest, once each
        capsys.readouterr()
        main(["status", "test", "--config", str(config), "--json"])
        run = json.loads(capsys.readouterr().out)["runs"][0]
        uncertain = {p["address"] for p in run["problems"] if p["state"] == "uncertain"}
        assert emails[4] in uncertain and len(uncertain) <= HELD_PER_SENDER  # what it held: maybe delivered
        copies = Counter(handler.recipients())
        assert set(copies) | uncertain == set(emails)  # nobody lost
        assert all(n == 1 for n in copies.values())  # nobody sent twice

        assert send(campaign, config, "--resend-uncertain") == 0
        copies = Counter(handler.recipients())
        assert set(copies) == set(emails)
        assert {a for a, n in copies.items() if n > 1} <= uncertain


@pytest.mark.parametrize(("processes", "count", "most_seen"), [(False, 10, 0), (True, 40, 1)],
                         ids=["threads when sender processes are off", "one sender process for three senders"])
def test_who_sends_and_that_nothing_is_left_behind(tmp_path: Path, processes: bool, count: int,
                                                   most_seen: int) -> None:
    emails = addresses(count)
    seen: list[set[int]] = []  # the sender processes alive at each message
    with smtp_server() as (controller, handler):
        handler.on_data = lambda *_: seen.append(sender_pids())
        campaign, config = write_project(tmp_path, controller.port, emails, concurrency=3,
                                         extra_delivery=f"sender_processes = {str(processes).lower()}")
        assert send(campaign, config) == 0
        assert Counter(handler.recipients()) == Counter(emails)
    assert max(len(p) for p in seen) == most_seen  # none: threads in the dispatcher did the sending
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
    return open_manual_run(config, campaign)


def test_a_ledger_error_mid_run_stops_it_without_hanging_and_loses_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim that fails (here: the database refuses the write; no real server produces it on demand) is
    raised by deliver_run; nothing stays `sending`, and the next run sends everyone else exactly once."""
    emails = addresses(30)
    calls = [0]
    real_claim = LedgerWriter.claim_many

    def failing_claim(self, claims):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 3:
            raise sqlite3.OperationalError("database is locked")
        return real_claim(self, claims)

    with smtp_server() as (controller, handler):
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
    real_build = MessageFactory.build

    def build(self, recipient, message_id=""):  # type: ignore[no-untyped-def]
        if recipient.key == emails[3]:
            raise ValueError("boom")
        return real_build(self, recipient, message_id)

    monkeypatch.setattr(MessageFactory, "build", build)
    with smtp_server() as (controller, handler):
        settings, engine, run_id = _open_run(tmp_path, controller.port, emails, concurrency=2)
        settings = dataclasses.replace(settings, delivery=dataclasses.replace(settings.delivery,
                                                                                sender_processes=False))
        box = _run_in_thread(lambda: deliver_run(engine, run_id, settings))
    assert "error" not in box, box
    [problem] = ledger.problems(engine, run_id)
    assert (problem.address, problem.state) == (emails[3], "failed")
    assert "cannot build the message" in problem.last_reply
    assert Counter(handler.recipients()) == Counter(e for e in emails if e != emails[3])


def test_a_sender_thread_that_cannot_start_closes_its_socket(tmp_path: Path) -> None:
    """A sender thread that fails before its loop (here: a relay index the settings do not have) closes its end at
    once: the dispatcher reads EOF ("exited while starting"), never a minute-long wait; the others start."""
    campaign, config = write_project(tmp_path, free_port(), addresses(2))
    settings = settings_for(config)
    chosen = find_campaign(str(campaign))
    factory = make_factory(chosen, render_once(chosen), settings, 1)
    process = _SenderProcess(factory, settings, [0, 5])
    good, bad = process.connections
    try:
        assert bad.poll(10), "the failed sender's socket stayed open"
        with pytest.raises(EOFError):
            read_pipe(bad)
        assert read_pipe(good) == ("ready", "")
        write_pipe(good, None)
    finally:
        for connection in (good, bad):
            connection.close()
            process.closed_one()
    assert process.process.returncode == 0
