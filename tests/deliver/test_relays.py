"""Several SMTP relays (``[[smtp]]``): failover, weights and each relay's own rate limit, against two real aiosmtpd
servers and a real ledger; ``status`` reports what each relay sent."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from solidarity_mailer.deliver.manual_send import EXIT_PAUSED
from solidarity_mailer.ledger.schema import connect, deliveries
from tests.arrivals import busiest_second
from tests.databases import ledger_url
from tests.sendkit import addresses, clean_environment, rows, send, status, write_project
from tests.smtpserver import RecordingHandler, free_port


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


class Relay:
    """One relay for a test: aiosmtpd on a free port with a recording handler that notes when each message
    arrived (``arrivals``, monotonic seconds) and can run ``on_message(count)`` after each."""

    def __init__(self, name: str, port: int | None = None) -> None:
        self.name, self.handler, self.arrivals = name, RecordingHandler(), []
        self.handler.on_data = self._arrived
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port or free_port(), decode_data=False)
        self.stopped = threading.Event()
        self.stop_after: int | None = None  # stop the server (from another thread) once it accepted so many
        self.stopper: threading.Thread | None = None

    def _arrived(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        self.arrivals.append(time.monotonic())
        if self.stop_after is not None and len(self.arrivals) >= self.stop_after and not self.stopped.is_set():
            self.stopper = threading.Thread(target=self.controller.stop)  # not from its own loop's thread
            self.stopper.start()
            self.stopped.set()

    def table(self, extra: str = "") -> str:
        return (f'[[smtp]]\nname = "{self.name}"\nhost = "127.0.0.1"\nport = {self.controller.port}\n'
                f"timeout = 5\n{extra}\n")

    def recipients(self) -> list[str]:
        return self.handler.recipients()


def relay_project(root: Path, emails: list[str], tables: str, extra_delivery: str = "") -> tuple[Path, Path]:
    """A test project whose settings list the relays of ``tables`` (``[[smtp]]`` tables) instead of one, each
    with two connections."""
    campaign, config = write_project(root, 1, emails, concurrency=2, extra_delivery=extra_delivery)
    text = config.read_text(encoding="utf-8")
    single = text[text.index("[smtp]"):text.index("[database]")]
    config.write_text(text.replace(single, tables), encoding="utf-8")
    return campaign, config


def ledger_relays(root: Path) -> dict[str, tuple[str, str | None]]:
    """address -> (state, relay) in the ledger of ``root``."""
    engine = connect(ledger_url(root))
    with engine.connect() as conn:
        found = conn.execute(select(deliveries.c.address, deliveries.c.state, deliveries.c.relay)).all()
    engine.dispose()
    return {r.address: (r.state, r.relay) for r in found}


def test_a_relay_stopped_mid_run_its_rows_go_to_the_other_each_recipient_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emails = addresses(240)
    first, second = Relay("first"), Relay("second")
    first.stop_after = 40
    first.controller.start()
    second.controller.start()
    try:
        campaign, config = relay_project(tmp_path, emails, first.table() + second.table())
        code = send(campaign, config)
    finally:
        second.controller.stop()
    if first.stopper is not None:
        first.stopper.join(10)
    assert first.stopped.is_set(), "the first relay was never stopped"
    rows = ledger_relays(tmp_path)
    uncertain = {a for a, (state, _) in rows.items() if state == "uncertain"}
    assert code in (0, 4) if not uncertain else code != 2  # nothing refused outright: only uncertain rows
    assert {state for state, _ in rows.values()} <= {"sent", "uncertain"}
    copies = Counter(first.recipients() + second.recipients())
    assert set(copies) | uncertain == set(emails)  # nobody lost
    assert all(n == 1 for n in copies.values())  # nobody sent twice, across the two relays
    assert len(uncertain) <= 2 * 3  # at most what the first relay's connections held when it died
    for relay in (first, second):  # the ledger names the relay that accepted each message
        assert {a for a, (state, name) in rows.items() if state == "sent" and name == relay.name} == (
            set(relay.recipients()) - uncertain)
    assert len(first.recipients()) >= 39 and len(second.recipients()) > len(emails) / 2  # it took the rest
    run = status(capsys, config)["runs"][0]
    sent = Counter(name for state, name in rows.values() if state == "sent")
    assert [(r["name"], r["host"], r["port"], r["sent"]) for r in run["relays"]] == [
        ("first", "127.0.0.1", first.controller.port, sent["first"]),
        ("second", "127.0.0.1", second.controller.port, sent["second"])]
    assert run["counts"]["sent"] == sent["first"] + sent["second"]


def test_weights_share_the_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emails = addresses(400)
    heavy, light = Relay("heavy"), Relay("light")
    heavy.controller.start()
    light.controller.start()
    try:  # as fast as they take them, with as many connections each: the weights decide
        campaign, config = relay_project(tmp_path, emails, heavy.table("weight = 3") + light.table("weight = 1"))
        assert send(campaign, config) == 0
    finally:
        heavy.controller.stop()
        light.controller.stop()
    assert Counter(heavy.recipients() + light.recipients()) == Counter(emails)  # each once
    share = len(heavy.recipients()) / len(emails)
    assert 0.68 <= share <= 0.82, share  # 3:1 (0.75), within tolerance
    run = status(capsys, config)["runs"][0]
    assert {r["name"]: r["sent"] for r in run["relays"]} == {
        "heavy": len(heavy.recipients()), "light": len(light.recipients())}


def test_a_relays_own_rate_limit_holds_at_its_server(tmp_path: Path) -> None:
    emails = addresses(160)
    limited, free = Relay("limited"), Relay("free")
    limited.controller.start()
    free.controller.start()
    try:
        campaign, config = relay_project(tmp_path, emails, limited.table("per_second = 20") + free.table())
        assert send(campaign, config) == 0
    finally:
        limited.controller.stop()
        free.controller.stop()
    assert Counter(limited.recipients() + free.recipients()) == Counter(emails)  # each once
    assert limited.recipients()  # it took its share
    assert busiest_second(limited.arrivals) <= 22  # its limit, with 10% slack (upper bound only: slowness passes)
    rows = ledger_relays(tmp_path)
    assert {a for a, (_, name) in rows.items() if name == "limited"} == set(limited.recipients())


@pytest.mark.parametrize("trouble", ["refuses connections", "answers 421"])
def test_a_relay_in_trouble_from_the_start_leaves_its_rows_to_the_other(tmp_path: Path, trouble: str) -> None:
    emails = addresses(30)
    bad, good = Relay("bad"), Relay("good")
    bad.handler.mail_replies.extend(["421 4.3.2 service shutting down"] * 1000)
    bad.controller.start()
    if trouble == "refuses connections":
        bad.controller.stop()  # gone: nothing listens on its port
    good.controller.start()
    try:
        campaign, config = relay_project(tmp_path, emails, bad.table() + good.table())
        assert send(campaign, config) == 0
    finally:
        good.controller.stop()
        if trouble == "answers 421":
            bad.controller.stop()
    assert bad.recipients() == [] and Counter(good.recipients()) == Counter(emails)
    assert set(ledger_relays(tmp_path).values()) == {("sent", "good")}


def test_every_relay_down_pauses_the_run_as_with_one_then_each_recipient_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emails = addresses(20)
    first, second = Relay("first"), Relay("second")
    campaign, config = relay_project(tmp_path, emails, first.table() + second.table(),
                                     extra_delivery="unreachable_pause_seconds = 0.4")  # nothing listens yet
    first.controller.loop.close()  # (never started)
    second.controller.loop.close()
    assert send(campaign, config) == EXIT_PAUSED
    out = capsys.readouterr().out
    assert "every SMTP relay was unreachable" in out and "first: connection failed" in out and "second: " in out
    assert {(state, attempts) for state, attempts, _ in rows(tmp_path).values()} == {("pending", 0)}
    first, second = Relay("first", first.controller.port), Relay("second", second.controller.port)  # back
    first.controller.start()
    second.controller.start()
    try:
        assert send(campaign, config) == 0
    finally:
        first.controller.stop()
        second.controller.stop()
    assert Counter(first.recipients() + second.recipients()) == Counter(emails)
    assert first.recipients() and second.recipients()
