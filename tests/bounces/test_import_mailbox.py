"""Bounce import: real-world-shaped DSN samples (tests/data/dsn) in a real Maildir and mbox, a real SQLite file."""

from __future__ import annotations

import mailbox
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from solidarity_mailer.bounces.dsn import Kind, parse
from solidarity_mailer.bounces.import_mailbox import import_mailbox
from solidarity_mailer.cli import main
from solidarity_mailer.compose.unsubscribe_tokens import make_token
from solidarity_mailer.ledger.schema import campaigns, deliveries, runs, soft_bounces, suppressions

DSN = Path(__file__).parents[1] / "data" / "dsn"
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
BOUNCES = "bounces@lists.example.net"

#: sample -> (kind, enhanced status of the worst recipient, recipient it is matched to, how)
EXPECTED: dict[str, tuple[Kind, str, str | None]] = {
    "postfix-hard-5.1.1.eml": (Kind.HARD, "5.1.1", "alice@example.org"),  # VERP
    "postfix-soft-4.2.2-mailbox-full.eml": (Kind.SOFT, "4.2.2", "carol@example.com"),  # VERP
    "exim-hard.eml": (Kind.HARD, "5.1.1", "bob@example.net"),  # Message-ID in the returned copy
    "gmail-legacy-hard.eml": (Kind.HARD, "5.1.1", "dave.nonexistent@gmail.com"),  # Message-ID, "550-5.1.1"
    "gmail-delay-4.2.2.eml": (Kind.SOFT, "4.2.2", "erin@gmail.com"),  # VERP, Action: delayed
    "exchange-online-hard.eml": (Kind.HARD, "5.1.10", "frank@contoso.example"),  # VERP
    "exchange-legacy-text-hard.eml": (Kind.HARD, "5.1.1", "grete.müller@fabrikam.example"),  # Message-ID
    "qmail-failure-notice.eml": (Kind.HARD, "5.0.0", "heidi@yahoo.example"),  # VERP, "554:" only
    "out-of-office.eml": (Kind.AUTOREPLY, "", None),
    "human-reply.eml": (Kind.OTHER, "", None),
    "garbage.eml": (Kind.UNPARSEABLE, "", None),
    "mailer-daemon-garbled.eml": (Kind.UNPARSEABLE, "", None),
}
HARD = sorted(a for k, _, a in EXPECTED.values() if k is Kind.HARD and a)


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    """One campaign run that mailed every sample's recipient; Message-IDs stored with and without brackets."""
    with engine.begin() as conn:
        conn.execute(insert(campaigns).values(id="resolution", path="campaigns/resolution.toml", created_at=NOW))
        conn.execute(insert(runs).values(id=7, campaign_id="resolution", fire_key="manual:7", created_at=NOW))
        for i, address in enumerate(
            ["alice@example.org", "bob@example.net", "carol@example.com", "dave.nonexistent@gmail.com",
             "erin@gmail.com", "frank@contoso.example", "grete.müller@fabrikam.example", "heidi@yahoo.example",
             "ivan@example.org", "judy@example.org"]
        ):
            local, _, domain = address.partition("@")
            mid = f"r7.{local.replace('ü', 'u').replace('-müller', '')}.{domain}@lists.example.net"
            if address.startswith("grete"):
                mid = "r7.grete.fabrikam.example@lists.example.net"
            conn.execute(insert(deliveries).values(
                run_id=7, address=address, list_id="news.lists.example.net", state="sent",
                message_id=f"<{mid}>" if i % 2 else mid, updated_at=NOW, sent_at=NOW))
    return engine


def build(kind: str, folder: Path, samples: dict[str, bytes]) -> tuple[Path, dict[str, str]]:
    """A real Maildir or mbox holding ``samples``; returns its path and {mailbox key: sample name}."""
    if kind == "maildir":
        path = folder / "Maildir"
        box: mailbox.Mailbox = mailbox.Maildir(path, create=True)
    else:
        path = folder / "bounces.mbox"
        box = mailbox.mbox(path, create=True)
    keys = {str(box.add(data)): name for name, data in samples.items()}
    box.flush()
    box.close()
    return path, keys


def samples() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(DSN.glob("*.eml"))}


def suppressed(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        q = select(suppressions.c.address, suppressions.c.scope, suppressions.c.reason).order_by(suppressions.c.address)
        return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def soft_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r.address: r.count for r in conn.execute(select(soft_bounces))}


def test_every_sample_is_listed() -> None:
    assert sorted(samples()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_is_classified(name: str) -> None:
    kind, status, address = EXPECTED[name]
    parsed = parse((DSN / name).read_bytes())
    assert parsed.kind is kind, (name, parsed.reason)
    if status:
        assert parsed.worst is not None and parsed.worst.status == status
    if kind in (Kind.HARD, Kind.SOFT):
        assert parsed.original_message_ids, "the returned message's Message-ID is found"
        assert address is not None and parsed.worst is not None
        assert parsed.worst.address == address


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_import_classifies_matches_and_is_idempotent(ledger: Engine, tmp_path: Path, kind: str) -> None:
    path, keys = build(kind, tmp_path, samples())
    summary = import_mailbox(ledger, path, bounce_address=BOUNCES, now=NOW)
    assert (summary.hard, summary.soft, summary.suppressed, summary.unmatched, summary.unparseable) == (6, 2, 6, 0, 2)
    assert (summary.autoreplies, summary.other, summary.messages) == (1, 1, 12)
    assert suppressed(ledger) == [(a, "*", "bounced") for a in HARD]
    assert soft_counts(ledger) == {"carol@example.com": 1, "erin@gmail.com": 1}
    reported = {line.split(":")[0] for line in summary.problems}
    assert {keys[k] for k in reported} == {"garbage.eml", "mailer-daemon-garbled.eml"}
    assert summary.line().startswith("6 hard, 2 soft, 6 suppressed, 0 unmatched, 2 unparseable")

    again = import_mailbox(ledger, path, bounce_address=BOUNCES, now=NOW)
    assert (again.hard, again.soft, again.suppressed, again.already, again.unparseable) == (0, 0, 0, 10, 2)
    assert soft_counts(ledger) == {"carol@example.com": 1, "erin@gmail.com": 1}
    assert len(suppressed(ledger)) == 6


def _carol_in_runs_8_and_9(engine: Engine) -> None:
    """Carol was mailed again by runs 8 and 9: bounces quoting those Message-IDs are hers too."""
    with engine.begin() as conn:
        for run in (8, 9):
            conn.execute(insert(runs).values(id=run, campaign_id="resolution", fire_key=f"manual:{run}",
                                             created_at=NOW))
            conn.execute(insert(deliveries).values(
                run_id=run, address="carol@example.com", list_id="news.lists.example.net", state="sent",
                message_id=f"<r{run}.carol@lists.example.net>", updated_at=NOW, sent_at=NOW))


def _soft(n: int, original: str) -> bytes:
    data = (DSN / "postfix-soft-4.2.2-mailbox-full.eml").read_bytes()
    data = data.replace(b"<20261117133002.8C2A13E0F1@relay.example.com>", f"<soft-{n}@relay.example.com>".encode())
    return data.replace(b"<r7.carol.example.com@lists.example.net>", f"<{original}@lists.example.net>".encode())


@pytest.mark.parametrize("limit", [1, 3])
def test_soft_bounces_suppress_at_the_limit(ledger: Engine, tmp_path: Path, limit: int) -> None:
    # three delay warnings for run 7's message count once; then two more messages bounce softly
    mails = {f"{i}": _soft(i, "r7.carol.example.com") for i in range(3)}
    mails |= {"3": _soft(3, "r8.carol"), "4": _soft(4, "r9.carol")}
    _carol_in_runs_8_and_9(ledger)
    path, _ = build("maildir", tmp_path, mails)
    summary = import_mailbox(ledger, path, soft_limit=limit, bounce_address=BOUNCES, now=NOW)
    assert summary.soft == 5
    assert soft_counts(ledger) == {"carol@example.com": 3}
    assert suppressed(ledger) == [("carol@example.com", "*", "bounced")]
    assert summary.suppressed == 1


def test_soft_bounces_below_the_limit_do_not_suppress(ledger: Engine, tmp_path: Path) -> None:
    path, _ = build("mbox", tmp_path, {"1": _soft(1, "r7.carol.example.com"), "2": _soft(2, "r8.carol")})
    _carol_in_runs_8_and_9(ledger)
    assert import_mailbox(ledger, path, soft_limit=3, bounce_address=BOUNCES, now=NOW).suppressed == 0
    assert suppressed(ledger) == []
    # a lowered limit applies to what was counted before
    assert import_mailbox(ledger, path, soft_limit=2, bounce_address=BOUNCES, now=NOW).suppressed == 1
    assert suppressed(ledger) == [("carol@example.com", "*", "bounced")]


def test_unmatched_bounce_is_reported_not_suppressed(ledger: Engine, tmp_path: Path) -> None:
    data = (DSN / "exim-hard.eml").read_bytes().replace(b"r7.bob.example.net", b"somebody-elses-message")
    data = data.replace(b"bob@example.net", b"stranger@example.net")
    path, _ = build("maildir", tmp_path, {"exim": data})
    summary = import_mailbox(ledger, path, bounce_address=BOUNCES, now=NOW)
    assert (summary.hard, summary.unmatched, summary.suppressed) == (0, 1, 0)
    assert summary.problems and "unmatched hard bounce (5.1.1, stranger@example.net)" in summary.problems[0]
    assert suppressed(ledger) == []


@pytest.mark.parametrize(("sample", "changes", "address"), [
    # only the returned Message-ID names bob (stored with angle brackets) and grete (stored without)
    ("exim-hard.eml", {b"bob@example.net": b"old-bob@example.net"}, "bob@example.net"),
    ("exchange-legacy-text-hard.eml", {b"grete.m=FCller@fabrikam.example": b"grete.alias@fabrikam.example"},
     "grete.müller@fabrikam.example"),
], ids=["message-id-bracketed", "message-id-bare"])
def test_each_way_of_matching_works_alone(ledger: Engine, tmp_path: Path, sample: str, changes: dict[bytes, bytes],
                                          address: str) -> None:
    data = (DSN / sample).read_bytes()
    for old, new in changes.items():
        assert old in data
        data = data.replace(old, new)
    path, _ = build("maildir", tmp_path, {sample: data})
    summary = import_mailbox(ledger, path, bounce_address=BOUNCES, now=NOW)
    assert (summary.hard, summary.unmatched, summary.suppressed, summary.problems) == (1, 0, 1, [])
    assert suppressed(ledger) == [(address, "*", "bounced")]


def test_a_failed_recipient_alone_authenticates_nothing(ledger: Engine, tmp_path: Path) -> None:
    # the report names bob, whom we mailed, but quotes no Message-ID of ours and carries no signed tag
    data = (DSN / "exim-hard.eml").read_bytes().replace(b"r7.bob.example.net", b"somebody-elses-message")
    path, _ = build("maildir", tmp_path, {"exim": data})
    summary = import_mailbox(ledger, path, bounce_address=BOUNCES, now=NOW)
    assert (summary.hard, summary.unmatched, summary.suppressed) == (0, 1, 0)
    assert suppressed(ledger) == []


def _request(subject: str, n: int) -> bytes:
    return (
        "From: Kim <kim@example.org>\r\nTo: unsubscribe@lists.example.net\r\n"
        f"Subject: {subject}\r\nMessage-ID: <req-{n}@example.org>\r\n\r\nplease\r\n"
    ).encode()


def test_mailto_unsubscribe_requests(ledger: Engine, tmp_path: Path) -> None:
    secret = b"bounce-test-secret-0123456789"
    good = make_token(secret, "news.lists.example.net", "Kim@example.org")
    forged = make_token(b"not-the-secret-0123456789", "news.lists.example.net", "lee@example.org")
    mails = {"good": _request(f"unsubscribe-{good}", 1), "forged": _request(f"unsubscribe-{forged}", 2)}
    path, _ = build("mbox", tmp_path, mails)
    summary = import_mailbox(ledger, path, secret=secret, now=NOW)
    assert (summary.unsubscribes, summary.other, summary.suppressed) == (1, 1, 1)
    assert suppressed(ledger) == [("kim@example.org", "news.lists.example.net", "unsubscribed")]


def test_a_mailto_request_with_a_stale_list_id_leaves_every_list_as_on_the_web(ledger: Engine, tmp_path: Path) -> None:
    """One scope rule (suppression.unsubscribe) for web and mail: an invalid list id never keeps anyone on."""
    secret = b"bounce-test-secret-0123456789"
    stale = make_token(secret, "news letter (old)", "kim@example.org")
    path, _ = build("mbox", tmp_path, {"stale": _request(f"unsubscribe-{stale}", 3)})
    summary = import_mailbox(ledger, path, secret=secret, now=NOW)
    assert (summary.unsubscribes, summary.suppressed, summary.problems) == (1, 1, [])
    assert suppressed(ledger) == [("kim@example.org", "*", "unsubscribed")]


def test_cli_import_and_errors(ledger: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", str(ledger.url))
    monkeypatch.setenv("SOLIDARITY_MAILER_SECRET", "cli-test-secret-0123456789")
    monkeypatch.chdir(tmp_path)
    path, _ = build("maildir", tmp_path, samples())
    assert main(["bounces", "import", str(path), "--soft-limit", "5"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("6 hard, 2 soft, 6 suppressed, 0 unmatched, 2 unparseable")
    assert err.count("unparseable:") == 2
    assert main(["bounces", "import", str(tmp_path / "missing")]) == 2
    assert "mailbox not found" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert main(["bounces", "import", str(tmp_path / "plain")]) == 2
    assert "not a Maildir" in capsys.readouterr().err


def test_parser_survives_mangled_input() -> None:
    """Deterministic mutations of the samples (bytes flipped, cut, bogus charsets, stray MIME): never an exception,
    and every reading is consistent (a hard bounce has a 5.x.x worst status, a soft one a 4.x.x, no other kind
    has a failing status); the mangled samples still yield every kind, and over a third of them are still read as
    a hard or soft bounce (246 of the 600 today), so the parser is not merely giving up on what looks odd."""
    import random

    rng = random.Random(20261129)
    originals = list(samples().values())
    kinds: Counter[Kind] = Counter()
    inserts = [b"\r\n", b"--", b'charset="x-bogus"', b"Content-Type: message/delivery-status\n\n", b"\x00",
               b"=?utf-8?b?####?=", b"Content-Transfer-Encoding: base64\n", b'charset="\xc3\xbctf-8"',
               b"Content-Type: multipart/mixed; boundary=Q\n\n--Q\n"]
    for _ in range(600):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 30)):
            pos = rng.randrange(len(data)) if data else 0
            op = rng.random()
            if op < 0.4:
                data[pos:pos + 1] = bytes([rng.randrange(256)])
            elif op < 0.7:
                del data[pos:pos + rng.randint(1, 50)]
            else:
                data[pos:pos] = rng.choice(inserts)
        parsed = parse(bytes(data))
        worst = parsed.worst.status[:1] if parsed.worst else ""
        assert worst == {Kind.HARD: "5", Kind.SOFT: "4"}.get(parsed.kind, ""), (parsed.kind, parsed.statuses)
        assert parsed.key and (parsed.reason or parsed.kind in (Kind.HARD, Kind.SOFT))
        kinds[parsed.kind] += 1
    assert set(kinds) == set(Kind)
    assert kinds[Kind.HARD] + kinds[Kind.SOFT] >= 600 // 3, dict(kinds)


def test_unknown_charset_still_classified() -> None:
    data = (b"From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n"
            b'Content-Type: text/plain; charset="x-no-such-charset"\n\n<a@example.org>: 550 5.1.1 no such user\n')
    parsed = parse(data)
    assert parsed.kind is Kind.HARD and parsed.worst is not None and parsed.worst.address == "a@example.org"


def test_an_existing_suppression_keeps_its_reason(ledger: Engine, tmp_path: Path) -> None:
    from solidarity_mailer.ledger import suppressions as suppression

    suppression.add(ledger, "alice@example.org", "complained", detail="feedback loop", now=NOW)
    path, _ = build("maildir", tmp_path, {"postfix": (DSN / "postfix-hard-5.1.1.eml").read_bytes()})
    summary = import_mailbox(ledger, path, bounce_address=BOUNCES, now=NOW)
    assert (summary.hard, summary.suppressed) == (1, 0)
    assert suppressed(ledger) == [("alice@example.org", "*", "complained")]
