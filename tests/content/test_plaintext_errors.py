"""Import errors name the right line of the file; unreadable files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from solidarity_mailer.content.plaintext_import import import_file, parse_resolution_text
from solidarity_mailer.errors import MailerError
from tests.content.resolution_texts import GOOD_BODY, SEED, body_text


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (body_text("www.icor.info"), 2, "expected the source and the date"),
        (body_text("www.icor.info 31 February 2023"), 2, "not a valid date"),
        (body_text("ICOR 7 February 2023"), 2, "not a web address"),
        (body_text("7 February 2023"), 2, "expected the source"),
        (body_text("www.icor.info/7 February 2023"), 2, "expected the source and the date"),
        (body_text(body=GOOD_BODY.replace("A short title\n\nThey demand bread, land and peace.\n\n", "")), 6,
         "expected a title"),
        (body_text(body=GOOD_BODY.replace("A short title", "A title " * 30)), 6, "expected a title"),
        (body_text(body=GOOD_BODY.replace("They demand bread, land and peace.\n\n", "")), 8,
         "expected body paragraphs"),
        (body_text(body=GOOD_BODY.replace("Signatories (as of today):", "Signed:")), 12, "without a 'Signatories"),
        (body_text(body=GOOD_BODY.replace("(as of today):", "(as of today)")), 10, "expected ':'"),
        (body_text(body=GOOD_BODY.replace("(Marxist-Leninist Party of Germany)", "(Marxist-Leninist Party")), 12,
         "never closed"),
        (body_text(body=GOOD_BODY.replace("(Marxist-Leninist Party of Germany)", "Party)")), 12, "closes no"),
        (body_text(body=GOOD_BODY + "\n- 2.\n"), 14, "after the numbering"),
        (body_text(body=GOOD_BODY + "MLPD\n"), 13, "expected a name after the abbreviation"),
        (body_text(body=GOOD_BODY + "KP Kommunistische Partei ()\n"), 13, "empty parentheses"),
        (body_text(body=GOOD_BODY + "Further signatories:\n"), 13, "found a heading"),
        (body_text(body=GOOD_BODY.split("- 1.")[0]), 10, "expected signatories"),
        (body_text(body=GOOD_BODY.replace("bread, land and peace", "land and bread and peace")), 8,
         "cannot tell where the last demand starts"),
        ("\n \n", 1, "empty"),
    ],
)
def test_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(MailerError) as caught:
        parse_resolution_text(text, "res.txt")
    assert caught.value.where == f"res.txt:{line}"
    assert fragment in caught.value.what
    assert "\n" not in caught.value.line()


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(MailerError, match="file not found"):
        import_file(tmp_path / "missing.txt")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(SEED.read_text(encoding="utf-8").encode("latin-1", errors="replace"))
    with pytest.raises(MailerError, match="not UTF-8"):
        import_file(latin1)
