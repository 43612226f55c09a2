"""The suppression store in a real SQLite file: scopes, idempotence, CSV export and import."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import suppressions as suppression
from solidarity_mailer.ledger.schema import connect
from tests.databases import ledger_url

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_add_is_idempotent_and_case_insensitive(engine: Engine) -> None:
    assert suppression.add(engine, " Alice@Example.ORG ", "unsubscribed", now=T0) is True
    assert suppression.add(engine, "alice@example.org", "unsubscribed", now=T1) is False
    assert suppression.add(engine, "ALICE@example.org", "bounced", detail="5.1.1", now=T1) is False
    rows = list(suppression.iter_suppressions(engine))
    assert len(rows) == 1
    assert (rows[0].address, rows[0].scope) == ("alice@example.org", "*")
    assert (rows[0].reason, rows[0].detail) == ("bounced", "5.1.1")
    assert rows[0].created_at == T0  # the first time it was suppressed
    assert suppression.is_suppressed(engine, "aLiCe@EXAMPLE.org")
    assert suppression.is_suppressed(engine, "alice@example.org", "any.lists.example.org")


def test_idn_forms_are_one_key(engine: Engine) -> None:
    suppression.add(engine, "erin@xn--bcher-kva.example.org", "complained")
    assert suppression.is_suppressed(engine, "Erin@Bücher.example.org")
    assert suppression.suppressed_keys(engine) == {"erin@xn--bcher-kva.example.org"}


def test_strasse_and_strasse_with_eszett_are_different_mailboxes(engine: Engine) -> None:
    suppression.add(engine, "a@strasse.de", "unsubscribed")
    suppression.add(engine, "strasse@example.org", "unsubscribed")
    assert suppression.is_suppressed(engine, "A@Strasse.de")
    assert not suppression.is_suppressed(engine, "a@straße.de")
    assert not suppression.is_suppressed(engine, "straße@example.org")


def test_list_scope(engine: Engine) -> None:
    suppression.add(engine, "bob@example.org", "unsubscribed", scope="news.lists.example.org")
    assert suppression.is_suppressed(engine, "bob@example.org", "news.lists.example.org")
    assert not suppression.is_suppressed(engine, "bob@example.org", "other.lists.example.org")
    assert not suppression.is_suppressed(engine, "bob@example.org")
    suppression.add(engine, "carol@example.org", "manual")
    assert suppression.suppressed_keys(engine) == {"carol@example.org"}
    assert suppression.suppressed_keys(engine, "news.lists.example.org") == {"bob@example.org", "carol@example.org"}


def test_remove(engine: Engine) -> None:
    suppression.add(engine, "dave@example.org", "manual")
    suppression.add(engine, "dave@example.org", "manual", scope="news.lists.example.org")
    assert suppression.remove(engine, "Dave@example.org") is True
    assert suppression.remove(engine, "dave@example.org") is False
    assert suppression.is_suppressed(engine, "dave@example.org", "news.lists.example.org")
    assert not suppression.is_suppressed(engine, "dave@example.org")


@pytest.mark.parametrize(
    ("address", "reason", "scope", "fragment"),
    [
        ("not an address", "manual", "*", "invalid email address"),
        ("a@example.org", "annoyed", "*", "unknown reason"),
        ("a@example.org", "manual", "no dots", "invalid list_id"),
    ],
)
def test_add_rejects(engine: Engine, address: str, reason: str, scope: str, fragment: str) -> None:
    with pytest.raises(MailerError, match=fragment):
        suppression.add(engine, address, reason, scope=scope)
    assert list(suppression.iter_suppressions(engine)) == []


def test_lookup_of_an_invalid_address_is_false(engine: Engine) -> None:
    assert suppression.is_suppressed(engine, "not an address") is False
    assert suppression.remove(engine, "not an address") is False


def test_csv_round_trip(engine: Engine, tmp_path: Path) -> None:
    suppression.add(engine, "a@example.org", "unsubscribed", now=T0)
    suppression.add(engine, "b@bücher.example.org", "bounced", detail='550 5.1.1 "no such user", sorry', now=T1)
    suppression.add(engine, "c@example.org", "complained", scope="news.lists.example.org", detail="line 1\nline 2",
                    now=T1)
    suppression.add(engine, "ayşe@example.org", "manual", now=T0)
    buffer = io.StringIO()
    assert suppression.export_csv(engine, buffer) == 4
    path = tmp_path / "export.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    other = connect(ledger_url(tmp_path, "other.db"))
    try:
        counts = suppression.import_csv(other, path)
        assert (counts.added, counts.updated, counts.unchanged, counts.errors) == (4, 0, 0, [])
        assert list(suppression.iter_suppressions(other)) == list(suppression.iter_suppressions(engine))
        again = suppression.import_csv(other, path)
        assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    finally:
        other.dispose()


def test_import_reports_file_and_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"\xef\xbb\xbfEmail,Reason,Scope,created_at\r\n"  # 1 BOM, "email" as the address column
        b"a@example.org,bounced,,\r\n"  # 2 added, scope *
        b"\r\n"  # 3 blank
        b"broken,manual,,\r\n"  # 4 invalid address
        b"b@example.org,angry,,\r\n"  # 5 unknown reason
        b"c@example.org,,news.lists.example.org,2026-01-02T03:04:05Z\r\n"  # 6 added, reason manual
        b"d@example.org,manual,,yesterday\r\n"  # 7 bad time
        b"\"e@example.org,manual,,\r\n"  # 8 unclosed quote
        b"f@example.org,manual,,\r\n"  # 9 still read
        b"g@example.org,unsubscribed,\"x\r\n"  # 10 wrong scope spanning lines: 11 is read again
        b"h@example.org\",,,\r\n"  # 11 read on its own: a stray quote, malformed address
    )
    counts = suppression.import_csv(engine, path, now=T0)
    assert (counts.added, counts.blank) == (3, 1)
    lines = [int(e.removeprefix(f"{path}:").split(":")[0]) for e in counts.errors]
    assert lines == [4, 5, 7, 8, 10, 11]
    assert all(e.startswith(f"{path}:") for e in counts.errors)
    assert suppression.is_suppressed(engine, "c@example.org", "news.lists.example.org")
    created = {s.address: s.created_at for s in suppression.iter_suppressions(engine)}
    assert created == {"a@example.org": T0, "c@example.org": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                       "f@example.org": T0}


def test_import_needs_an_address_column(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("who,reason\na@example.org,manual\n", encoding="utf-8")
    counts = suppression.import_csv(engine, path)
    assert counts.errors == [f"{path}:1: the header row has no 'address' column"]
    with pytest.raises(MailerError, match="not found"):
        suppression.import_csv(engine, tmp_path / "missing.csv")
