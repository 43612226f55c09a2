"""Only authenticated bounces change state: a valid VERP tag for the address, or the Message-ID of a message we
sent to it. Real bounces of each server family (tests/data/bounces), a real Maildir, a real SQLite ledger,
the real CLI ``bounces import``."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from solidarity_mailer.cli import main
from solidarity_mailer.compose.verp import day_number, signed_verp, verp_key
from solidarity_mailer.ledger.schema import campaigns, deliveries, runs, soft_bounces, suppressions
from tests.bounces.sample_set import SAMPLES, load

SECRET = "import-auth-test-secret-0123456789"
BOUNCES = "bounces@lists.example.net"
DSN = Path(__file__).parents[1] / "data" / "dsn"
#: a sample of each family, each naming another address: qmail, Exchange, GroupWise, Yahoo, AOL, sendmail,
#: Postfix, Exim, SMTP32, Netscape (permanent); an X.400 gateway (dsn_02), RFC 3464 (dsn_10 permanent, dsn_05
#: delayed) and free-text delay warnings (simple_03, simple_35)
FAMILIES = ["qmail_01", "microsoft_01", "groupwise_01", "yahoo_02", "aol_01", "sendmail_01", "postfix_01",
            "exim_01", "smtp32_01", "netscape_01", "dsn_10", "dsn_02", "dsn_05", "simple_03", "simple_35"]
LABELS = {s.path.stem: s for s in load()}
HARD = sorted(min(LABELS[n].addresses) for n in FAMILIES if LABELS[n].kind == "hard")
SOFT = sorted(min(LABELS[n].addresses) for n in FAMILIES if LABELS[n].kind == "soft")
assert len(set(HARD + SOFT)) == len(FAMILIES) and len(SOFT) == 4


def _now() -> datetime:
    return datetime.now(UTC)


def seed(engine: Engine, addresses: list[str], sent: datetime, message_ids: dict[str, str] | None = None) -> None:
    """Run 7 mailed ``addresses`` at ``sent``; Message-IDs from ``message_ids`` or ones no bounce quotes."""
    with engine.begin() as conn:
        conn.execute(insert(campaigns).values(id="resolution", path="campaigns/resolution.toml", created_at=sent))
        conn.execute(insert(runs).values(id=7, campaign_id="resolution", fire_key="manual:7", created_at=sent))
        for i, address in enumerate(addresses):
            mid = (message_ids or {}).get(address, f"<r7.{i:04d}@lists.example.net>")
            conn.execute(insert(deliveries).values(run_id=7, address=address, list_id="news.lists.example.net",
                                                   state="sent", message_id=mid, updated_at=sent, sent_at=sent))


def state(engine: Engine) -> tuple[list[str], dict[str, int]]:
    with engine.connect() as conn:
        suppressed = sorted(r.address for r in conn.execute(select(suppressions.c.address)))
        return suppressed, {r.address: r.count for r in conn.execute(select(soft_bounces))}


def key() -> bytes:
    return verp_key(SECRET.encode())


def valid(rcpt: str) -> str:
    return signed_verp(key(), BOUNCES, rcpt, day_number(_now()))


#: how the envelope address a bounce arrived at is made, from the address the sample reports failed
VARIANTS: dict[str, Callable[[str], str]] = {
    "unsigned VERP": lambda rcpt: BOUNCES.replace("@", f"+{rcpt.replace('@', '=')}@"),
    "tag of another recipient": lambda rcpt: valid("attacker@example.org").replace(
        "-attacker=example.org@", f"-{rcpt.replace('@', '=')}@"),
    "tag under another key": lambda rcpt: signed_verp(verp_key(b"not-our-secret-0123456789"), BOUNCES, rcpt,
                                                      day_number(_now())),
    "expired tag": lambda rcpt: signed_verp(key(), BOUNCES, rcpt, day_number(_now()) - 31),
    "other domain": lambda rcpt: valid(rcpt).replace("@lists.example.net", "@lists.example.com"),
    "no VERP": lambda rcpt: BOUNCES,
}


def maildir(folder: Path, mails: dict[str, bytes]) -> Path:
    path = folder / "Maildir"
    box = mailbox.Maildir(path, create=True)
    for data in mails.values():
        box.add(data)
    box.close()
    return path


def arrived_at(envelope: str, data: bytes) -> bytes:
    """``data`` as our MTA delivers it: with the envelope recipient in ``Delivered-To`` on top."""
    return f"Delivered-To: {envelope}\n".encode() + data


def run_cli(engine: Engine, tmp_path: Path, path: Path, monkeypatch: pytest.MonkeyPatch,
            bounce_address: str | None = BOUNCES, *extra: str) -> str:
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", str(engine.url))
    monkeypatch.setenv("SOLIDARITY_MAILER_SECRET", SECRET)
    config = tmp_path / "settings.toml"
    config.write_text(f'[sender]\nbounce_address = "{bounce_address}"\n' if bounce_address else "", encoding="utf-8")
    assert main(["bounces", "import", str(path), "--config", str(config), *extra]) == 0
    return path.name


def family_mails(envelope: Callable[[str], str]) -> dict[str, bytes]:
    return {n: arrived_at(envelope(min(LABELS[n].addresses)), (SAMPLES / f"{n}.eml").read_bytes()) for n in FAMILIES}


def test_a_valid_tag_authenticates_each_family(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    seed(engine, HARD + SOFT, _now() - timedelta(days=2))
    run_cli(engine, tmp_path, maildir(tmp_path, family_mails(valid)), monkeypatch)
    out, err = capsys.readouterr()
    assert "unmatched" not in err
    assert out.startswith(f"{len(HARD)} hard, {len(SOFT)} soft, {len(HARD)} suppressed, 0 unmatched, 0 unparseable")
    assert state(engine) == (HARD, dict.fromkeys(SOFT, 1))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_forged_bounce_changes_nothing(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], variant: str) -> None:
    """Every sample names an address the ledger mailed; without a valid tag or our Message-ID it is unmatched."""
    seed(engine, HARD + SOFT, _now() - timedelta(days=2))
    run_cli(engine, tmp_path, maildir(tmp_path, family_mails(VARIANTS[variant])), monkeypatch)
    out, err = capsys.readouterr()
    assert out.startswith(f"0 hard, 0 soft, 0 suppressed, {len(FAMILIES)} unmatched, 0 unparseable"), (out, err)
    assert err.count("unmatched") == len(FAMILIES)
    if variant == "expired tag":
        assert err.count("VERP tag expired (31 days old") == len(FAMILIES)
    assert state(engine) == ([], {})


def test_without_a_bounce_address_no_verp_is_read(engine: Engine, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """No bounce address configured: messages went out without VERP, and no VERP-shaped address is read, even
    one with a tag that verifies under the secret; only the Message-ID rule can authenticate."""
    seed(engine, HARD + SOFT, _now() - timedelta(days=2))
    run_cli(engine, tmp_path, maildir(tmp_path, family_mails(valid)), monkeypatch, None)
    assert capsys.readouterr().out.startswith(f"0 hard, 0 soft, 0 suppressed, {len(FAMILIES)} unmatched")
    assert state(engine) == ([], {})


def _exim(original_id: str) -> bytes:
    """A real-shaped Exim bounce naming bob@example.net, returning the message ``original_id``."""
    return (DSN / "exim-hard.eml").read_bytes().replace(b"r7.bob.example.net@lists.example.net", original_id.encode())


@pytest.mark.parametrize(("sent_days_ago", "quoted", "suppressed"), [
    (2, "r7.0000@lists.example.net", ["bob@example.net"]),  # our Message-ID for bob: authenticated
    (2, "r7.0001@lists.example.net", ["carol@example.net"]),  # our Message-ID for carol: carol, whoever is named
    (2, "guessed.bob@lists.example.net", []),  # names bob, quotes no message of ours
    (31, "r7.0000@lists.example.net", []),  # ours, but sent longer ago than the validity
])
def test_the_message_id_rule(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str], sent_days_ago: int, quoted: str,
                             suppressed: list[str]) -> None:
    seed(engine, ["bob@example.net", "carol@example.net"], _now() - timedelta(days=sent_days_ago))
    run_cli(engine, tmp_path, maildir(tmp_path, {"exim": _exim(quoted)}), monkeypatch, None)
    out = capsys.readouterr().out
    assert out.startswith(f"{len(suppressed)} hard, 0 soft, {len(suppressed)} suppressed, {1 - len(suppressed)} "
                          "unmatched")
    assert state(engine) == (suppressed, {})


def test_the_validity_is_a_cli_option(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    seed(engine, HARD + SOFT, _now() - timedelta(days=40))
    run_cli(engine, tmp_path, maildir(tmp_path, family_mails(VARIANTS["expired tag"])), monkeypatch, BOUNCES,
            "--max-age-days", "45")
    assert capsys.readouterr().out.startswith(f"{len(HARD)} hard, {len(SOFT)} soft")
