"""Layout variations the importer accepts: source and date lines, signatory lines, demand sentences."""

from __future__ import annotations

import datetime as dt

import pytest

from solidarity_mailer.content.demands import split_items
from solidarity_mailer.content.plaintext_import import parse_resolution_text, parse_source_and_date
from solidarity_mailer.content.signatories import parse_signatory_line
from tests.content.resolution_texts import GOOD_BODY


@pytest.mark.parametrize(
    ("line", "source", "date"),
    [
        ("www.icor.info 7 February 2023", "www.icor.info", dt.date(2023, 2, 7)),
        ("www.icor.info February 7, 2023", "www.icor.info", dt.date(2023, 2, 7)),
        ("www.icor.info 2023-02-07", "www.icor.info", dt.date(2023, 2, 7)),
        ("www.icor.info 7 Feb 2023", "www.icor.info", dt.date(2023, 2, 7)),
        ("http://icor.info/2023/peru Sept. 30, 2023", "http://icor.info/2023/peru", dt.date(2023, 9, 30)),
    ],
)
def test_source_and_date_formats(line: str, source: str, date: dt.date) -> None:
    assert parse_source_and_date(line, "f:1") == (source, date)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MLPD Marxistisch-Leninistische Partei", ("MLPD", "Marxistisch-Leninistische Partei", None, None)),
        ("- MLPD Name Here", ("MLPD", "Name Here", None, None)),
        ("12) MLPD Name Here, Germany", ("MLPD", "Name Here", None, "Germany")),
        ("• Bloque Democratico Popular (Popular Democratic Bloc), Peru",
         ("", "Bloque Democratico Popular", "Popular Democratic Bloc", "Peru")),
        ("PCR Partido Comunista, sección del Perú", ("PCR", "Partido Comunista, sección del Perú", None, None)),
        ("MLKP Parti Türkiye / Kürdistan, Turkey / Kurdistan",
         ("MLKP", "Parti Türkiye / Kürdistan", None, "Turkey / Kurdistan")),
        ("CPI Communist Party of India (Red Star)", ("CPI", "Communist Party of India (Red Star)", None, None)),
        ("KP Kommunistische Partei (Marxistisch Leninistisch)",
         ("KP", "Kommunistische Partei (Marxistisch Leninistisch)", None, None)),
    ],
)
def test_signatory_line_variants(line: str, expected: tuple[str, str, str | None, str | None]) -> None:
    s = parse_signatory_line(line, "f:9")
    assert (s.abbreviation, s.name, s.name_en, s.country) == expected


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("A, B and C", ["A", "B", "C"]),
        ("A, B, and C", ["A", "B", "C"]),
        ("the end of war; the right to strike; and land, bread and water", ["the end of war", "the right to strike",
                                                                             "land, bread and water"]),
        ("the freedom (of speech, of assembly) and the right to strike",
         ["the freedom (of speech, of assembly)", "the right to strike"]),
        ("the end of torture, the end of killings and arrests and the withdrawal of troops",
         ["the end of torture", "the end of killings and arrests", "the withdrawal of troops"]),
        ("justice, now", []),
        ("", []),
    ],
)
def test_demand_items(text: str, items: list[str]) -> None:
    assert split_items(text, "f:1") == items


def test_no_demands_sentence_gives_none() -> None:
    text = "www.icor.info 7 Feb 2023\n\n" + GOOD_BODY.replace("They demand bread, land and peace.",
                                                            "The demands of the people are just. We demand justice.")
    assert parse_resolution_text(text, "f").demands is None


def test_demands_in_a_later_paragraph_with_the_right_index() -> None:
    text = "www.icor.info 7 Feb 2023\n\n" + GOOD_BODY.replace(
        "They demand", "First paragraph.\n\nSecond, wrapped\nover two lines; we demand")
    res = parse_resolution_text(text, "f")
    assert res.paragraphs[1] == "Second, wrapped over two lines; we demand bread, land and peace."
    assert res.demands is not None and res.demands.paragraph == 1 and res.demands.items == ("bread", "land", "peace")
