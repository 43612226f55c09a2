"""The whole loop: a campaign through a real aiosmtpd server, an unsubscribe through the real HTTP endpoint
(a separate uvicorn process) with the URL taken from a received message, and the next messages skip it;
bounces of really sent messages found again by their VERP envelope sender and Message-ID."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select

from solidarity_mailer.campaign import load_campaign
from solidarity_mailer.config import Settings, load_settings
from solidarity_mailer.deliver.dispatcher import deliver_run
from solidarity_mailer.deliver.manual_send import open_manual_run
from solidarity_mailer.ledger.schema import connect, deliveries, suppressions
from tests.databases import ledger_url
from tests.smtpserver import RecordingHandler, smtp_server
from tests.starter import RESOLUTION, TEMPLATES
from tests.webserver import SECRET, WebServer, web_server

LIST_ID = "news.lists.example.org"
PEOPLE = [f"reader{i:02d}@example.org" for i in range(20)]
TARGET = PEOPLE[-1]  # sent last: the unsubscribe lands while the run is on its first message


@dataclass
class Project:
    root: Path
    engine: Engine
    web: WebServer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.setenv("SOLIDARITY_MAILER_SECRET", SECRET)  # the sender signs with the server's secret
    db = tmp_path / "ledger.db"
    (tmp_path / "recipients").mkdir()
    (tmp_path / "recipients" / "news.csv").write_text(
        "email,name\n" + "".join(f"{a},Reader {i}\n" for i, a in enumerate(PEOPLE)), encoding="utf-8")
    (tmp_path / "recipients" / "news.toml").write_text(
        f'name = "Solidarity news"\nlist_id = "{LIST_ID}"\n', encoding="utf-8")
    (tmp_path / "campaigns").mkdir()
    for cid in ("first", "second", "third"):
        (tmp_path / "campaigns" / f"{cid}.toml").write_text(
            f'[campaign]\nid = "{cid}"\nsubject = "Resolution ({cid})"\n'
            'from = "Solidarity Committee <committee@example.org>"\n'
            f'resolution = "{RESOLUTION}"\n'
            f'lists = ["../recipients/news.csv"]\ntemplates = "{TEMPLATES}"\n',
            encoding="utf-8")
    engine = connect(ledger_url(tmp_path))
    with web_server(db, cwd=tmp_path) as web:
        yield Project(tmp_path, engine, web)
    engine.dispose()


def settings_for(project: Project, smtp_port: int, extra: str = "") -> Settings:
    config = project.root / "solidarity-mailer.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\ntimeout = 10\n'
        f'[database]\nurl = "{ledger_url(project.root)}"\n'
        "[delivery]\nconcurrency = 2\nper_second = 0\n"
        f'[web]\npublic_base_url = "{project.web.base_url}"\n{extra}', encoding="utf-8")
    return load_settings(config, environ={})


def run_campaign(project: Project, settings: Settings, cid: str) -> int:
    camp = load_campaign(project.root / "campaigns" / f"{cid}.toml")
    run_id = open_manual_run(project.engine, camp).run_id
    summary = deliver_run(project.engine, run_id, settings)
    assert summary.state == "finished", summary.line()
    return run_id


def unsubscribe_url(data: bytes) -> str:
    header = str(message_from_bytes(data, policy=policy.default)["List-Unsubscribe"])
    found = re.search(r"<(https?://[^>]+)>", header)
    assert found is not None, header
    return found.group(1)


def row_state(engine: Engine, run_id: int, address: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(deliveries.c.state).where(
            deliveries.c.run_id == run_id, deliveries.c.address == address)).scalar_one_or_none()


def test_unsubscribe_during_and_after_a_run(project: Project) -> None:
    # run 1 reaches everyone; keep the target's unsubscribe link as it arrived
    with smtp_server() as (controller, handler):
        run_campaign(project, settings_for(project, controller.port), "first")
    assert sorted(handler.recipients()) == PEOPLE
    url = unsubscribe_url(next(m.data for m in handler.received if m.rcpt_tos == [TARGET]))
    assert url.startswith(f"{project.web.base_url}/u/")
    assert httpx.get(url).status_code == 200  # a link scanner: changes nothing

    # run 2: when the first message arrives, the target presses one-click (a real HTTP POST to the real server)
    posted: list[int] = []

    def press_one_click(server: SMTP, session: Session, envelope: Envelope) -> str | None:
        if not posted:
            posted.append(httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code)
        return None

    second = RecordingHandler(on_data=press_one_click)
    with smtp_server(second) as (controller, _):
        run_id = run_campaign(project, settings_for(project, controller.port), "second")
    assert posted == [200]
    assert TARGET not in second.recipients()
    assert sorted(second.recipients()) == PEOPLE[:-1]
    assert row_state(project.engine, run_id, TARGET) == "skipped"
    with project.engine.connect() as conn:
        row = conn.execute(select(suppressions).where(suppressions.c.address == TARGET)).one()
    assert (row.scope, row.reason) == (LIST_ID, "unsubscribed")

    # run 3, after: the target is not even enqueued
    with smtp_server() as (controller, third):
        run_id = run_campaign(project, settings_for(project, controller.port), "third")
    assert sorted(third.recipients()) == PEOPLE[:-1]
    assert row_state(project.engine, run_id, TARGET) is None


def _postfix_dsn(to: str, final_recipient: str, returned_headers: str, status: str) -> bytes:
    """A Postfix-shaped RFC 3464 report returning a real message's headers."""
    return (
        "Return-Path: <>\r\n"
        f"Delivered-To: {to}\r\nTo: {to}\r\n"
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-Id: <dsn.{final_recipient}.{status}@mx.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {final_recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned_headers}\r\n--B--\r\n"
    ).encode()


def test_bounces_of_real_messages_match_by_verp_and_message_id(project: Project) -> None:
    """Real VERP envelope senders, Message-IDs and mailto unsubscribes lead the import to the recipient."""
    import mailbox

    from solidarity_mailer.bounces.import_mailbox import import_mailbox

    with smtp_server() as (controller, handler):
        settings = settings_for(project, controller.port, '[sender]\nbounce_address = "bounces@example.net"\n')
        run_campaign(project, settings, "first")
    by_rcpt = {m.rcpt_tos[0]: m for m in handler.received}
    verp_one, by_id = by_rcpt[PEOPLE[3]], by_rcpt[PEOPLE[4]]
    assert re.fullmatch(r"bounces\+[0-9a-f]{14}-reader03=example\.org@example\.net", verp_one.mail_from)  # signed
    headers = by_id.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    box = mailbox.Maildir(project.root / "Maildir", create=True)
    box.add(_postfix_dsn(verp_one.mail_from, PEOPLE[3], "Subject: (headers not returned)", "5.1.1"))
    # no VERP here (a forwarding host rewrote the address): the returned Message-ID must find the recipient
    box.add(_postfix_dsn("bounces@example.net", "forwarded@elsewhere.example", headers, "5.1.1"))
    # the mailto of List-Unsubscribe, as a mail program would send it
    header = str(message_from_bytes(by_rcpt[PEOPLE[5]].data, policy=policy.default)["List-Unsubscribe"])
    mailto = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>", header)
    assert mailto is not None, header
    box.add(f"From: {PEOPLE[5]}\r\nTo: {mailto.group(1)}\r\nSubject: {mailto.group(2)}\r\n"
            f"Message-ID: <unsub.5@example.org>\r\n\r\n\r\n".encode())
    box.close()
    summary = import_mailbox(project.engine, project.root / "Maildir", bounce_address="bounces@example.net",
                             secret=SECRET.encode())
    assert (summary.hard, summary.unsubscribes, summary.suppressed, summary.unmatched) == (2, 1, 3, 0), summary
    with project.engine.connect() as conn:
        rows = conn.execute(select(suppressions.c.address, suppressions.c.scope, suppressions.c.reason)).all()
    assert sorted(rows) == [(PEOPLE[3], "*", "bounced"), (PEOPLE[4], "*", "bounced"),
                            (PEOPLE[5], LIST_ID, "unsubscribed")]
