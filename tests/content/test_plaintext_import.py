"""The plain-text importer: the seed, a second resolution in other scripts, round trips, errors, the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import sys
import tomllib
import unicodedata
from pathlib import Path

import pytest

from solidarity_mailer.content.demands import split_items
from solidarity_mailer.content.load import imported_toml, load_content
from solidarity_mailer.content.plaintext_import import import_file, parse_resolution_text, parse_source_and_date
from solidarity_mailer.content.resolution import Resolution, Signatory, load_resolution, save_resolution
from solidarity_mailer.content.signatories import parse_signatory_line
from solidarity_mailer.errors import MailerError
from tests.starter import CAMPAIGN, RESOLUTION

DATA = Path(__file__).resolve().parents[1] / "data"
SEED = DATA / "icor-2023-02-07-peru.txt"
OTHER = DATA / "other-resolution.txt"  # a fictional declaration written for these tests
SHIPPED = RESOLUTION
NUMBERING = re.compile(r"^(?:[-–—•*]\s*)?(?:\d{1,3}[.)]\s+)?")


@pytest.fixture(scope="module")
def seed() -> Resolution:
    return import_file(SEED)


@pytest.fixture(scope="module")
def other() -> Resolution:
    return import_file(OTHER)


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


# --- round trips and the shipped files ---------------------------------------------------------------


@pytest.mark.parametrize("path", [SEED, OTHER], ids=["seed", "other"])
def test_round_trip(path: Path, tmp_path: Path) -> None:
    imported = import_file(path)
    out = tmp_path / "out.toml"
    save_resolution(imported, out)
    assert load_resolution(out) == imported
    out.write_text(imported_toml(imported, path), encoding="utf-8")
    assert load_content(out) == (None, imported)
    assert load_content(path) == (None, imported)
    crlf = "\ufeff" + path.read_text(encoding="utf-8").replace("\n", "\r\n")
    assert parse_resolution_text(crlf, path) == imported


def test_shipped_resolution_is_the_seed(seed: Resolution) -> None:
    shipped = load_resolution(SHIPPED)
    hand_set = {s.abbreviation: s.lang for s, fresh in zip(shipped.signatories, seed.signatories, strict=True)
                if fresh.lang is None and s.lang is not None}
    assert hand_set == {"KOL": "de", "MLGS": "de"}
    without_hand_set = [dataclasses.replace(s, lang=None) if s.abbreviation in hand_set else s
                        for s in shipped.signatories]
    assert dataclasses.replace(shipped, signatories=tuple(without_hand_set)) == seed


def test_shipped_campaign() -> None:
    campaign, resolution = load_content(CAMPAIGN)
    assert campaign is not None and campaign.id == "peru-solidarity-2023"
    assert campaign.sender == "ICOR Solidarity <resolutions@example.org>"
    assert campaign.resolution_path == SHIPPED and campaign.template == "resolution"
    assert [p.name for p in campaign.lists] == ["example.csv"]
    assert resolution == load_resolution(SHIPPED)


def test_campaign_may_point_at_plain_text(tmp_path: Path) -> None:
    camp = tmp_path / "c.toml"
    camp.write_text(f'[campaign]\nsubject = "S"\nfrom = "a@example.org"\nresolution = "{SEED}"\n', encoding="utf-8")
    campaign, resolution = load_content(camp)
    assert campaign is not None and campaign.id == "c" and resolution == import_file(SEED)
    (tmp_path / "x.yaml").write_text("title: x", encoding="utf-8")
    with pytest.raises(MailerError, match="unknown kind of file"):
        load_content(tmp_path / "x.yaml")


# --- layout variations ---------------------------------------------------------------------------------

GOOD_BODY = """\
ICOR resolution:

A short title

They demand bread, land and peace.

Signatories (as of today):

- 1. MLPD Marxistisch-Leninistische Partei Deutschlands (Marxist-Leninist Party of Germany)
"""


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


# --- errors name the right line ---------------------------------------------------------------------------


def _body(first_line: str = "www.icor.info 7 February 2023", body: str = GOOD_BODY) -> str:
    return f"\n{first_line}\n\n{body}"  # the first line is line 2


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (_body("www.icor.info"), 2, "expected the source and the date"),
        (_body("www.icor.info 31 February 2023"), 2, "not a valid date"),
        (_body("ICOR 7 February 2023"), 2, "not a web address"),
        (_body("7 February 2023"), 2, "expected the source"),
        (_body("www.icor.info/7 February 2023"), 2, "expected the source and the date"),
        (_body(body=GOOD_BODY.replace("A short title\n\nThey demand bread, land and peace.\n\n", "")), 6,
         "expected a title"),
        (_body(body=GOOD_BODY.replace("A short title", "A title " * 30)), 6, "expected a title"),
        (_body(body=GOOD_BODY.replace("They demand bread, land and peace.\n\n", "")), 8,
         "expected body paragraphs"),
        (_body(body=GOOD_BODY.replace("Signatories (as of today):", "Signed:")), 12, "without a 'Signatories"),
        (_body(body=GOOD_BODY.replace("(as of today):", "(as of today)")), 10, "expected ':'"),
        (_body(body=GOOD_BODY.replace("(Marxist-Leninist Party of Germany)", "(Marxist-Leninist Party")), 12,
         "never closed"),
        (_body(body=GOOD_BODY.replace("(Marxist-Leninist Party of Germany)", "Party)")), 12, "closes no"),
        (_body(body=GOOD_BODY + "\n- 2.\n"), 14, "after the numbering"),
        (_body(body=GOOD_BODY + "MLPD\n"), 13, "expected a name after the abbreviation"),
        (_body(body=GOOD_BODY + "KP Kommunistische Partei ()\n"), 13, "empty parentheses"),
        (_body(body=GOOD_BODY + "Further signatories:\n"), 13, "found a heading"),
        (_body(body=GOOD_BODY.split("- 1.")[0]), 10, "expected signatories"),
        (_body(body=GOOD_BODY.replace("bread, land and peace", "land and bread and peace")), 8,
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


# --- the command ---------------------------------------------------------------------------------------------


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_import(tmp_path: Path, seed: Resolution) -> None:
    out = tmp_path / "peru.toml"
    done = _cli("import", SEED, "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [f"{SEED}: 9 paragraphs, 6 demands, 29 signatories -> {out}"]
    assert load_resolution(out) == seed
    again = _cli("import", SEED, "-o", out)
    assert again.returncode == 2 and again.stderr.startswith(f"error: {out}: output file exists")
    to_stdout = _cli("import", OTHER, "-o", "-")
    assert to_stdout.returncode == 0
    assert tomllib.loads(to_stdout.stdout)["title"].startswith("Equal rights")
    assert "4 demands, 13 signatories" in to_stdout.stderr


def test_cli_import_error_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(_body(body=GOOD_BODY + "X (unclosed\n"), encoding="utf-8")
    done = _cli("import", bad, "-o", tmp_path / "out.toml")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {bad}:13: a '(' is never closed "
                                        "(write '[ABBREVIATION] Name as written [(English name)][, Country]')"]
    assert "Traceback" not in done.stderr and not (tmp_path / "out.toml").exists()
