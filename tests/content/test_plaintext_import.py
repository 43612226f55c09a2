"""The plain-text importer on whole files: the seed, and a second resolution in other scripts."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import pytest

from solidarity_mailer.content.resolution import Resolution, Signatory
from tests.content.resolution_texts import OTHER, SEED

NUMBERING = re.compile(r"^(?:[-–—•*]\s*)?(?:\d{1,3}[.)]\s+)?")


def _by_abbreviation(res: Resolution, abbreviation: str) -> Signatory:
    (found,) = [s for s in res.signatories if s.abbreviation == abbreviation]
    return found


def _signatory_line(s: Signatory) -> str:
    line = f"{s.abbreviation} {s.name}".strip()
    line += f" ({s.name_en})" if s.name_en else ""
    return line + (f", {s.country}" if s.country else "")


def _words_after_first_line(path: Path) -> list[str]:
    lines = [NUMBERING.sub("", x.strip()) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
    return " ".join(lines[1:]).split()


def _words_of(res: Resolution) -> list[str]:
    parts = [f"{res.kind}:", res.title, *res.paragraphs, *res.slogans, f"{res.signatories_heading}:"]
    parts += [_signatory_line(s) for s in res.signatories]
    return " ".join(parts).split()


# --- the seed ------------------------------------------------------------------------------------------


def test_seed_header(seed: Resolution) -> None:
    assert (seed.kind, seed.title) == ("ICOR resolution", "Solidarity with the struggle of the Peruvian people")
    assert seed.date == dt.date(2023, 2, 7)
    assert (seed.source, seed.source_url) == ("www.icor.info", "https://www.icor.info")
    assert len(seed.paragraphs) == 9
    assert seed.slogans == (
        "Support the building of strong revolutionary and Marxist-Leninist parties in Peru!",
        "Against fascism and anticommunism – for freedom and genuine socialism!",
    )
    assert seed.signatories_heading == "Signatories (as of 7 February 2023, further signatories possible)"


def test_seed_demands_exact(seed: Resolution) -> None:
    d = seed.demands
    assert d is not None
    assert d.items == (
        "the immediate cessation of repression",
        "the resignation of Dina Boularte",
        "the dissolution of the reactionary Congress",
        "a call for national elections in 2023",
        "the convocation of a Constituent Assembly for a new constitution",
        "the immediate release of the elected president Pedro Castillo",
    )
    assert d.lead.endswith("raised a minimum program, where they demand")
    assert d.tail == "This program should be supported by all forces interested in freedom and democracy."
    rebuilt = f"{d.lead} {', '.join(d.items[:-1])} and {d.items[-1]}. {d.tail}"
    assert rebuilt == seed.paragraphs[d.paragraph]


def test_seed_signatories(seed: Resolution) -> None:
    assert len(seed.signatories) == 29
    assert seed.signatories[0] == Signatory(
        "PCPCI", "Parti Communiste Proletarien de Côte d'Ivoire", "Proletarian Communist Party of Ivory Coast",
        None, "fr")
    assert _by_abbreviation(seed, "БКП") == Signatory(
        "БКП", "Българска Комунистическа Партия", "Bulgarian Communist Party", None, "bg")
    assert _by_abbreviation(seed, "RMP") == Signatory(
        "RMP", "Российская маоистская партия (Rossijskaya maoistskaya partiya)", "Russian Maoist Party", None, "ru")
    assert _by_abbreviation(seed, "TKP-ML").name == "Türkiye Komünist Partisi Marksist-Leninist"
    assert _by_abbreviation(seed, "TKP-ML").lang == "tr"
    assert _by_abbreviation(seed, "PPDS").country == "Tunisia"
    assert _by_abbreviation(seed, "NDMLP") == Signatory(
        "NDMLP", "New-Democratic Marxist-Leninist Party", None, "Sri Lanka", None)
    assert _by_abbreviation(seed, "PC (ML)") == Signatory(
        "PC (ML)", "Partido Comunista (Marxista Leninista)", "Communist Party (Marxist-Leninist)",
        "Dominican Republic", "es")
    assert _by_abbreviation(seed, "CPI (ML) Red Star").name == "Communist Party of India (Marxist-Leninist) Red Star"
    assert _by_abbreviation(seed, "NCP (Mashal)") == Signatory("NCP (Mashal)", "Nepal Communist Party (Mashal)")
    assert _by_abbreviation(seed, "CPSA (ML)").name == "Communist Party of South Africa (Marxist-Leninist)"
    assert _by_abbreviation(seed, "UoC") == Signatory("UoC", "Union of Cypriots", None, "Cyprus")
    assert _by_abbreviation(seed, "PCT").name == "Parti Comuniste du Togo"  # the user's spelling, kept
    assert seed.signatories[-1].abbreviation == "PCR-U"


def test_every_word_kept(seed: Resolution, other: Resolution) -> None:
    assert _words_of(seed) == _words_after_first_line(SEED)
    assert _words_of(other) == _words_after_first_line(OTHER)


# --- a second resolution: other scripts, other formats, characters that need escaping -----------------


def test_other_resolution(other: Resolution) -> None:
    assert other.date == dt.date(2024, 3, 8)
    assert other.source_url == "https://www.example.org/declarations/2024/womens-day"
    assert other.title == "Equal rights, equal pay & no more wars: on International Women's Day"
    assert len(other.slogans) == 3 and len(other.signatories) == 13
    assert "border < and beyond > the reach" in other.paragraphs[1]
    d = other.demands
    assert d is not None and d.lead == "The undersigned organisations demand:"
    assert d.items == (
        "equal pay for equal work",
        "free and public childcare for every family",
        "the protection of women refugees fleeing war and persecution",
        "an end to every law that restricts the right to abortion",
    )
    assert f"{d.lead} {', '.join(d.items[:-1])}, and {d.items[-1]}. {d.tail}" == other.paragraphs[d.paragraph]


@pytest.mark.parametrize(
    ("index", "abbreviation", "name", "lang"),
    [
        (0, "ΕΕΓ", "Ένωση Εργαζόμενων Γυναικών", "el"),
        (1, "", "اتحاد العاملات في مصر", "ar"),
        (2, "NMS", "नेपाल महिला संघ", "ne"),
        (3, "JWU", "日本女性労働者ユニオン", "ja"),
        (4, "", "中国女工互助会", "zh"),
        (5, "B&R", "Bread & Roses Collective", None),
        (6, "E>P", "Equality > Profit <Alliance>", None),
        (8, "FMT (ML)", "Frente de Mujeres Trabajadoras (Marxista-Leninista)", "es"),
        (9, "СРЖ", "Союз работающих женщин (Soyuz rabotayushchikh zhenshchin)", "ru"),
        (10, "EKD", "Emekçi Kadınlar Derneği", "tr"),
        (11, "IWU", "اتحادیه زنان کارگر", "fa"),
        (12, "", "Women Workers' Solidarity Network of Australia", None),
    ],
)
def test_other_signatories(other: Resolution, index: int, abbreviation: str, name: str, lang: str | None) -> None:
    s = other.signatories[index]
    assert (s.abbreviation, s.name, s.lang) == (abbreviation, name, lang)


def test_arabic_names_are_right_to_left_and_tagged(other: Resolution) -> None:
    for s in (other.signatories[1], other.signatories[11]):
        assert {unicodedata.bidirectional(ch) for ch in s.name if ch != " "} == {"AL"}
        assert s.lang in ("ar", "fa") and s.name_en and s.name_en.isascii()
