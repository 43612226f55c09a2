"""Translations of a resolution: imported from plain text in their language (``import --lang``), read with the
original's signatories, and checked against the original (notes naming file:line)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from babel.dates import format_date

from solidarity_mailer.cli import main
from solidarity_mailer.content.dates import parse_date
from solidarity_mailer.content.load import load_content
from solidarity_mailer.content.plaintext_import import import_file, parse_resolution_text
from solidarity_mailer.content.resolution import load_resolution
from solidarity_mailer.content.translations import load_translation
from solidarity_mailer.errors import MailerError
from tests.sendkit import REPO
from tests.starter import RESOLUTION
from tests.translated import AR, ES, ES_TEXT

SEED = load_content(RESOLUTION)[1]


def test_import_lang_reads_the_spanish_layout_like_the_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "peru.es.resolution.toml"
    assert main(["import", str(ES_TEXT), "--lang", "es", "-o", str(out)]) == 0
    assert "9 paragraphs, 6 demands, 0 signatories" in capsys.readouterr().out
    imported, expected = load_resolution(out), load_resolution(ES)
    assert imported.language == "es" and imported.date == dt.date(2023, 2, 7)
    for name in ("kind", "title", "paragraphs", "demands", "slogans", "signatories_heading", "source_url"):
        assert getattr(imported, name) == getattr(expected, name), name
    assert imported.signatories == () and "signatories" not in out.read_text(encoding="utf-8").split("[demands]")[0]
    assert "# A translation:" in out.read_text(encoding="utf-8")
    translated, notes = load_translation(SEED, RESOLUTION, out, "es")
    assert notes == [] and translated.signatories == SEED.signatories


def test_an_english_heading_in_a_translation_becomes_the_catalogues_word() -> None:
    text = ES_TEXT.read_text(encoding="utf-8").replace(
        "Firmantes (al 7 de febrero de 2023; son posibles más firmas):", "Signatories (as of 7 February 2023):")
    resolution = parse_resolution_text(text, "es.txt", "es")
    assert resolution.signatories_heading == "" and resolution.language == "es"


def test_an_arabic_heading_and_date_with_arabic_digits() -> None:
    text = ("www.icor.info ٧ فبراير ٢٠٢٣\n\nقرار:\n\nالتضامن مع نضال الشعب البيروفي\n\nفقرة أولى.\n\n"
            "الموقعون (حتى 7 فبراير 2023):\nICOR: منظمة\n")
    resolution = parse_resolution_text(text, "ar.txt", "ar")
    assert resolution.date == dt.date(2023, 2, 7) and resolution.kind == "قرار"
    assert resolution.signatories_heading == "الموقعون (حتى 7 فبراير 2023)"
    assert resolution.demands is None  # no words for Arabic: the translator splits them in the TOML file


@pytest.mark.parametrize("language", ["en", "es", "de", "fr", "tr", "ru", "ar", "hi", "pt-BR"])
def test_a_date_written_in_the_language_is_read(language: str) -> None:
    date = dt.date(2024, 11, 30)
    for form in ("long", "medium"):
        written = format_date(date, form, locale=language.replace("-", "_"))
        if any(c.isalpha() for c in written):  # a month name (all-digit forms such as 30.11.2024 are not read)
            found = parse_date(f"www.icor.info {written}", "f:1", language)
            assert found is not None and found[0] == date, (language, written)
    assert parse_date("www.icor.info 2024-11-30", "f:1", language) == (date, 14)


def test_an_unreadable_spanish_date_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "es.txt"
    path.write_text(ES_TEXT.read_text(encoding="utf-8").replace("7 de febrero de 2023", "el martes pasado", 1),
                    encoding="utf-8")
    with pytest.raises(MailerError) as err:
        import_file(path, "es")
    assert err.value.where == f"{path}:1" and "expected the source and the date" in err.value.what


def test_import_refuses_a_bad_language_tag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(ES_TEXT), "--lang", "español", "-o", "-"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--lang: 'español' is not a language tag" in err and len(err.splitlines()) == 1


def _edited(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    path = tmp_path / source.name
    text = source.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(start))


def test_the_check_names_file_and_line_of_a_missing_paragraph_and_demand(tmp_path: Path) -> None:
    path = _edited(tmp_path, ES, '    "60 muertos y más de 700 heridos reflejan una crisis política nacional y una '
                                 'profunda crisis social.",\n', "")
    path = _edited(tmp_path, path, '    "la renuncia de Dina Boularte",\n', "")
    translated, notes = load_translation(SEED, RESOLUTION, path, "es")
    assert notes == [
        f"{path}:{_line(path, 'paragraphs')}: the translation has 8 paragraphs, the original 9 "
        f"({RESOLUTION.name}) (translate every paragraph of the original, one for one)",
        f"{path}:{_line(path, 'items')}: the translation has 5 demands, the original 6 ({RESOLUTION.name}) "
        "(translate every demand of the original, one item each, in its order)",
    ]
    assert len(translated.paragraphs) == 8  # sent as it is: the check warns


def test_a_translation_without_demands_is_named_by_the_line_of_its_paragraphs(tmp_path: Path) -> None:
    text = ES.read_text(encoding="utf-8")
    path = tmp_path / "es.toml"
    path.write_text(text[: text.index("[demands]")], encoding="utf-8")  # imported with 0 demands, not split by hand
    _, notes = load_translation(SEED, RESOLUTION, path, "es")
    assert notes == [f"{path}:{_line(path, 'paragraphs')}: the translation has 0 demands, the original 6 "
                     f"({RESOLUTION.name}) (split them by hand in a [demands] table, as the original's paragraph 6)"]


def test_the_check_names_changed_signatories_a_moved_demand_and_another_language(tmp_path: Path) -> None:
    path = _edited(tmp_path, AR, "paragraph = 6", "paragraph = 5")
    path = _edited(tmp_path, path, 'language = "ar"', 'language = "fa"')
    with path.open("a", encoding="utf-8") as fh:
        fh.write('\n[[signatories]]\nabbreviation = "X"\nname = "Another organisation"\n')
    translated, notes = load_translation(SEED, RESOLUTION, path, "ar")
    assert [note.split(": ", 1)[0] for note in notes] == [
        f"{path}:{_line(path, 'paragraph = ')}", f"{path}:{_line(path, 'language')}",
        f"{path}:{_line(path, '[[signatories]]')}"]
    assert "the demands stand in paragraph 5, in the original in 6" in notes[0]
    assert "the file says language 'fa', the campaign sends it as 'ar'" in notes[1]
    assert "the signatories differ from the original's" in notes[2]
    assert translated.signatories == SEED.signatories and translated.language == "ar"


def test_repeating_the_signatories_unchanged_is_fine(tmp_path: Path) -> None:
    seed_text = RESOLUTION.read_text(encoding="utf-8")
    path = tmp_path / "es.toml"
    path.write_text(ES.read_text(encoding="utf-8") + "\n" + seed_text[seed_text.index("\n[[signatories]]"):],
                    encoding="utf-8")
    assert load_translation(SEED, RESOLUTION, path, "es")[1] == []


def test_a_plain_text_translation_repeating_the_signatories_imports_without_a_note(tmp_path: Path) -> None:
    seed = (REPO / "tests" / "data" / "icor-2023-02-07-peru.txt").read_text(encoding="utf-8")
    signatories = seed.split("further signatories possible):\n", 1)[1]
    text = tmp_path / "peru.es.txt"
    text.write_text(ES_TEXT.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + signatories, encoding="utf-8")
    out = tmp_path / "peru.es.resolution.toml"
    assert main(["import", str(text), "--lang", "es", "-o", str(out)]) == 0
    # the importer cannot know a language the original's maintainer added by hand (lang = "de" of a Swiss
    # name): the list is still the original's, unchanged
    assert [(s.lang, guess.lang) for s, guess in zip(SEED.signatories, load_resolution(out).signatories, strict=True)
            if s != guess] == [("de", None), ("de", None)]
    assert load_translation(SEED, RESOLUTION, out, "es")[1] == []
    changed = _edited(tmp_path, out, 'name = "Kommunistische Organisation Luxemburg"', 'name = "KO Luxemburg"')
    assert "the signatories differ" in load_translation(SEED, RESOLUTION, changed, "es")[1][0]


def test_a_missing_translation_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MailerError) as err:
        load_translation(SEED, RESOLUTION, tmp_path / "nowhere.es.toml", "es")
    assert err.value.line().startswith(f"{tmp_path / 'nowhere.es.toml'}: translation not found")
