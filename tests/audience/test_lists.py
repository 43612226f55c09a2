"""Reading list files: messy real-world CSV written as bytes; every row is accounted for, with its line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from solidarity_mailer.audience import csv_rows as csvrows
from solidarity_mailer.audience.csv_rows import CsvRows
from solidarity_mailer.audience.lists import ListReader, RowError, load_list_meta, normalise_address
from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.errors import MailerError


def read(tmp_path: Path, data: bytes, name: str = "list.csv") -> tuple[ListReader, dict[int, Recipient | RowError]]:
    path = tmp_path / name
    path.write_bytes(data)
    reader = ListReader(path)
    by_line: dict[int, Recipient | RowError] = {}
    for item in reader:
        line = item.line if isinstance(item, RowError) else int(item.source.rsplit(":", 1)[1])
        assert line not in by_line
        by_line[line] = item
    valid = sum(isinstance(x, Recipient) for x in by_line.values())
    invalid = sum(isinstance(x, RowError) for x in by_line.values())
    assert valid + invalid + reader.blank == reader.rows  # every row accounted for
    return reader, by_line


def ok(item: Recipient | RowError | None) -> Recipient:
    assert isinstance(item, Recipient), item
    return item


def err(item: Recipient | RowError | None) -> str:
    assert isinstance(item, RowError), item
    return item.message


MESSY = (
    b"\xef\xbb\xbfEmail , Name,lang,city\r\n"  # 1 BOM, CRLF, spaced and capitalised header
    b"  Alice@Example.ORG  ,\"Smith, Alice\",en,Berlin\r\n"  # 2 quoted comma, spaces around the address
    b"\r\n"  # 3 blank
    b"alice@example.org,Alice again,,\r\n"  # 4 same key (duplicates are the audience's business)
    b",No Address,,\r\n"  # 5 missing email
    b"not-an-address,Broken,,\r\n"  # 6 malformed
    b"x@example.org,\"X\r\nBcc: evil@example.net\",,\r\n"  # 7-8 header injection attempt
    b"\"bob@example.org,Bob,de,Rome\r\n"  # 9 unclosed quote in the middle
    b"carol@example.org,Carol,fr,Paris\r\n"  # 10 still read
    b"dave@b\xfccher.example.org,Dave,,\r\n"  # 11 Latin-1 byte: undecodable
    b"erin@b\xc3\xbccher.example.org,Erin,,\r\n"  # 12 IDN domain (UTF-8)
    b"frank@example.org,Frank\r\n"  # 13 wrong column count
    b",,,\r\n"  # 14 only empty fields: blank
    + b"g" * 65 + b"@example.org,Long local,,\r\n"  # 15 local part over 64 octets
    + b"h@" + b".".join([b"d" * 60] * 5) + b".org,Long,,\r\n"  # 16 over 254 characters
    b"ivan@example.org,\"Ivan \"\"the\"\" Great\",ru,\"Multi\r\nline city\"\r\n"  # 17-18 multi-line extra field
    b"judy@example.org,Judy,xx_bad,\r\n"  # 19 bad language tag
    b"karl@example.org,Karl\tTab,,\r\n"  # 20 control character in the name
    b"   \r\n"  # 21 whitespace only: blank
    b"last@example.org,Last,,"  # 22 no final line break
)


def test_messy_file_every_row_accounted_for(tmp_path: Path) -> None:
    reader, rows = read(tmp_path, MESSY)
    assert reader.rows == 20 and reader.blank == 3
    alice = ok(rows[2])
    assert (alice.email, alice.key) == ("Alice@example.org", "alice@example.org")
    assert (alice.name, alice.lang) == ("Smith, Alice", "en")
    assert alice.fields == {"city": "Berlin"} and alice.source.endswith("list.csv:2")
    assert ok(rows[4]).key == alice.key
    assert err(rows[5]) == "missing email address"
    assert "invalid email address 'not-an-address'" in err(rows[6])
    assert "line break" in err(rows[7]) and "runs on to line 8" in err(rows[7])
    assert isinstance(rows[8], RowError)  # re-read on its own: an open quote never hides a row
    assert "unclosed quote" in err(rows[9])
    assert ok(rows[10]).email == "carol@example.org"
    assert "undecodable bytes" in err(rows[11]) and "line 11" in err(rows[11])
    erin = ok(rows[12])
    assert erin.email == "erin@bücher.example.org" and erin.ascii_email == "erin@xn--bcher-kva.example.org"
    assert err(rows[13]) == "expected 4 columns, found 2"
    assert "64 bytes" in err(rows[15])
    assert "too long" in err(rows[16])
    ivan = ok(rows[17])
    assert ivan.name == 'Ivan "the" Great' and ivan.fields == {"city": "Multi\r\nline city"}
    assert "language tag" in err(rows[19])
    assert "U+0009" in err(rows[20])
    assert ok(rows[22]).email == "last@example.org"
    assert sorted(rows) == [2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 20, 22]


def test_injected_name_never_reaches_a_recipient(tmp_path: Path) -> None:
    for data in (
        b"email,name\nx@example.org,\"X\r\nBcc: evil@example.net\"\n",
        b"email,name\nx@example.org,\"X\nBcc: evil@example.net\"\n",
        b"email,name\nx@example.org,\"X\rBcc: evil@example.net\"\n",
        b"email,name\nx@example.org,X\xe2\x80\xa8Bcc: evil@example.net\n",  # U+2028 LINE SEPARATOR
        b"email,name\nx@example.org,X\xc2\x85Bcc: evil@example.net\n",  # U+0085 NEXT LINE
        b"email,name\nx@example.org,X\x00Y\n",
    ):
        _, rows = read(tmp_path, data)
        assert all(isinstance(x, RowError) for x in rows.values()), data


def test_unclosed_quote_at_the_end_rereads_the_following_lines(tmp_path: Path) -> None:
    data = b"email,name\na@example.org,\"Open\nb@example.org,B\nc@example.org,C\n"
    reader, rows = read(tmp_path, data)
    assert "unclosed quote" in err(rows[2])
    assert ok(rows[3]).email == "b@example.org" and ok(rows[4]).email == "c@example.org"
    assert reader.rows == 3


def test_unclosed_quote_closing_far_away_is_caught_by_column_count(tmp_path: Path) -> None:
    # The quote opened on line 2 "closes" at the quote starting line 4: a well-formed row with the right
    # column count but an address spanning lines, so line 2 is reported and lines 3 and 4 are read again.
    data = b"email,name,city\n\"a@example.org,A,X\nb@example.org,B,Y\n\",C,c@example.org\n"
    reader, rows = read(tmp_path, data)
    assert "invalid email address" in err(rows[2]) and "runs on to line 4" in err(rows[2])
    assert ok(rows[3]).email == "b@example.org"
    assert isinstance(rows[4], RowError)
    assert reader.rows == 3


def test_unclosed_quote_is_bounded(tmp_path: Path) -> None:
    lines = [b"email,name", b"a@example.org,\"never closed"] + [b"r%d@example.org,R" % i for i in range(500)]
    reader, rows = read(tmp_path, b"\n".join(lines) + b"\n")
    assert "unclosed quote" in err(rows[2])
    assert sum(isinstance(x, Recipient) for x in rows.values()) == 500
    assert reader.rows == 501


def test_text_after_closing_quote_and_bare_cr(tmp_path: Path) -> None:
    reader, rows = read(tmp_path, b"email,name\n\"a@example.org\"junk,A\nb@example.org,B\rc@example.org,C\n")
    assert "after a closing quote" in err(rows[2])
    assert "carriage return" in err(rows[3])
    assert reader.rows == 2


def test_over_long_line_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvrows, "MAX_LINE_BYTES", 64)
    data = b"email,name\na@example.org," + b"N" * 300 + b"\nb@example.org,B\n"
    _, rows = read(tmp_path, data)
    assert "longer than 64 bytes" in err(rows[2])
    assert ok(rows[3]).name == "B"


def test_reading_is_lazy() -> None:
    body = b"email,name\n" + b"".join(b"p%d@example.org,P\n" % i for i in range(10_000))
    fp = io.BytesIO(body)
    rows = iter(CsvRows(fp))
    assert next(rows).header
    assert next(rows).fields == ["p0@example.org", "P"]
    assert fp.tell() < 100  # one line read ahead at most, not the file


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"name,lang\nA,en\n", "no 'email' column"),
        (b"email,name,Email\na@example.org,A,b@example.org\n", "appears twice"),
        (b"\"email,name\na@example.org,A\n", "header row: unclosed quote"),
        (b"", None),
    ],
)
def test_header_problems(tmp_path: Path, header: bytes, message: str | None) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(header)
    items = list(ListReader(path))
    if message is None:
        assert items == []
    else:
        assert len(items) == 1 and message in err(items[0]) and items[0].line == 1


def test_unnamed_trailing_column(tmp_path: Path) -> None:
    _, rows = read(tmp_path, b"email,name,\na@example.org,A,\nb@example.org,B,oops\n")
    assert ok(rows[2]).fields == {}
    assert "no name in the header" in err(rows[3])


def test_addresses_normalised() -> None:
    idn = normalise_address(" Erin@XN--BCHER-KVA.Example.ORG ")
    assert idn.email == "Erin@bücher.example.org" and idn.key == "erin@xn--bcher-kva.example.org"
    assert idn.ascii_email == "Erin@xn--bcher-kva.example.org"
    utf8 = normalise_address("ayşe@example.org")
    assert utf8.ascii_email is None and Recipient(utf8.email, utf8.key).needs_smtputf8
    for bad in ("a@b", "a@@example.org", "a b@example.org", "a@example.org\r\nBcc: x@example.net", "@example.org",
                "a@localhost", "<a@example.org>", "A <a@example.org>"):
        with pytest.raises(ValueError):
            normalise_address(bad)


def test_list_metadata(tmp_path: Path) -> None:
    csv_path = tmp_path / "Friends of Peru.csv"
    meta = load_list_meta(csv_path)
    assert (meta.name, meta.list_id, meta.description) == ("Friends of Peru", "friends-of-peru.localhost", "")
    csv_path.with_suffix(".toml").write_text(
        'name = "Friends"\nlist_id = "friends.lists.example.org"\ndescription = "Peru"\n', encoding="utf-8"
    )
    meta = load_list_meta(csv_path)
    assert (meta.name, meta.list_id, meta.description) == ("Friends", "friends.lists.example.org", "Peru")
    for text, fragment in (('list_id = "no dots"\n', "invalid list_id"), ('nmae = "x"\n', "unknown key"),
                           ("name = 3\n", "must be a string"), ("name = \n", "invalid TOML")):
        csv_path.with_suffix(".toml").write_text(text, encoding="utf-8")
        with pytest.raises(MailerError, match=fragment):
            load_list_meta(csv_path)


def test_shipped_example_list(starter: Path) -> None:
    reader = ListReader(starter / "recipients" / "example.csv")
    items = list(reader)
    assert items and all(isinstance(x, Recipient) for x in items)
    assert {x.list_id for x in items if isinstance(x, Recipient)} == {"example.lists.example.org"}
    domains = {x.email.split("@")[1] for x in items if isinstance(x, Recipient)}
    assert all(d == "example.org" or d == "example.net" or d.endswith(".example.org") for d in domains)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MailerError, match="list file not found"):
        list(ListReader(tmp_path / "nope.csv"))


def test_address_keys_do_not_merge_different_mailboxes() -> None:
    """casefold() would merge straße/strasse; keys are local.lower() @ the IDNA ASCII domain."""
    keys = {raw: normalise_address(raw).key for raw in
            ("a@straße.de", "a@strasse.de", "straße@example.org", "strasse@example.org")}
    assert len(set(keys.values())) == 4
    assert keys["a@straße.de"] == "a@xn--strae-oqa.de"
    assert normalise_address("Alice@Example.ORG").key == normalise_address("alice@example.org").key
    upper, lower = normalise_address("Ivan@ПРИМЕР.рф").key, normalise_address("ivan@пример.рф").key
    assert upper == lower == "ivan@xn--e1afmkfd.xn--p1ai"
