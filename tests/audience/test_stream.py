"""The audience: several lists, de-duplicated case-insensitively, minus suppression; every row counted once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from solidarity_mailer.audience import seen_addresses
from solidarity_mailer.audience.lists import RowError
from solidarity_mailer.audience.stream import AudienceStats, check_lists, iter_audience
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import suppressions as suppression

NEWS = (
    b"\xef\xbb\xbfemail,name\r\n"
    b"Alice@Example.org,Alice\r\n"  # 2 valid
    b"ALICE@example.ORG,Alice shouting\r\n"  # 3 duplicate within the list
    b"\r\n"  # 4 blank
    b"bob@example.org,Bob\r\n"  # 5 valid
    b"erin@xn--bcher-kva.example.org,Erin\r\n"  # 6 valid (IDN in ASCII form)
    b"broken@,Broken\r\n"  # 7 invalid
    b"x@example.org,\"X\r\nBcc: evil@example.net\"\r\n"  # 8-9 invalid name; line 9 re-read: invalid
    b"gone@example.org,Gone\r\n"  # 10 suppressed everywhere
    b"left-news@example.org,Left\r\n"  # 11 suppressed for this list only
)
ACTION = (
    b"name,email,city\n"
    b"Alice Again,alice@example.org,Lima\n"  # 2 duplicate across lists
    b"Erin,erin@B\xc3\xbcCHER.example.org,Bonn\n"  # 3 duplicate across lists (Unicode form, other case)
    b"Left,left-news@example.org,Oslo\n"  # 4 valid here: only unsubscribed from the news list
    b"Carol,carol@example.org,\"Quito, EC\"\n"  # 5 valid
    b"\n"  # 6 blank
    b"Dan,,Lima\n"  # 7 missing email
    b"Gone,GONE@example.org,Rome\n"  # 8 suppressed everywhere
)


@pytest.fixture
def lists(tmp_path: Path) -> list[Path]:
    news, action = tmp_path / "news.csv", tmp_path / "action.csv"
    news.write_bytes(NEWS)
    news.with_suffix(".toml").write_text('name = "News"\nlist_id = "news.lists.example.org"\n', encoding="utf-8")
    action.write_bytes(ACTION)
    return [news, action]


@pytest.mark.parametrize("spill_at", [seen_addresses.SPILL_AT, 2])
def test_dedup_and_suppression_across_lists(engine: Engine, lists: list[Path], spill_at: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen_addresses, "SPILL_AT", spill_at)  # 2: the seen keys move to SQLite after the second
    suppression.add(engine, "gone@example.org", "bounced")
    suppression.add(engine, "left-news@example.org", "unsubscribed", scope="news.lists.example.org")
    stats = AudienceStats()
    got = list(iter_audience(lists, suppression.lookup(engine), stats=stats))
    assert [(r.email, r.list_id) for r in got] == [
        ("Alice@example.org", "news.lists.example.org"),  # first list wins
        ("bob@example.org", "news.lists.example.org"),
        ("erin@bücher.example.org", "news.lists.example.org"),
        ("left-news@example.org", "action.localhost"),
        ("carol@example.org", "action.localhost"),
    ]
    assert got[-1].fields == {"city": "Quito, EC"}
    assert (stats.valid, stats.invalid, stats.duplicates, stats.suppressed, stats.blank) == (5, 4, 3, 3, 2)
    assert stats.rows == 10 + 7  # lines 2-11 and 2-8
    assert stats.valid + stats.invalid + stats.duplicates + stats.suppressed + stats.blank == stats.rows
    assert [(Path(e.file).name, e.line) for e in stats.errors] == [
        ("news.csv", 7), ("news.csv", 8), ("news.csv", 9), ("action.csv", 7)]
    assert stats.errors[-1].message == "missing email address"
    assert stats.summary() == "5 valid, 4 invalid, 3 duplicates, 3 suppressed"


def test_without_a_database_nothing_is_suppressed(lists: list[Path]) -> None:
    stats = check_lists(lists, None)
    assert (stats.valid, stats.invalid, stats.duplicates, stats.suppressed) == (6, 4, 5, 0)
    assert stats.valid + stats.invalid + stats.duplicates + stats.suppressed + stats.blank == stats.rows


def test_on_error_streams_errors(lists: list[Path]) -> None:
    seen: list[RowError] = []
    stats = check_lists(lists, None, on_error=seen.append, display=lambda p: p.name)
    assert stats.errors == [] and stats.invalid == len(seen) == 4
    assert str(seen[0]) == "news.csv:7: invalid email address 'broken@': " + seen[0].message.split(": ", 1)[1]


def test_iterates_lazily(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"email\n" + b"".join(b"p%d@example.org\n" % i for i in range(5000)))
    stats = AudienceStats()
    it = iter_audience([path], None, stats=stats)
    first = next(it)
    assert first.email == "p0@example.org" and stats.valid == 1  # rows are counted as they are read


def test_as_dict_shape(lists: list[Path]) -> None:
    data = check_lists(lists, None, display=lambda p: p.name).as_dict()
    assert set(data) == {"valid", "invalid", "duplicates", "suppressed", "errors"}
    assert data["errors"][0] == {"file": "news.csv", "line": 7, "message": data["errors"][0]["message"]}  # type: ignore[index]


def test_header_error_counts_as_invalid(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("mail,name\na@example.org,A\n", encoding="utf-8")
    stats = check_lists([path], None)
    assert stats.invalid == 1 and stats.errors[0].line == 1 and "no 'email' column" in stats.errors[0].message


def test_missing_list_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(MailerError, match="list file not found"):
        check_lists([tmp_path / "none.csv"], None)
