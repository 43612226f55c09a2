"""Language tags: which of a campaign's languages a reader gets, the writing direction, and the campaign file's
``[translations.LANG]`` tables (one line naming file:line for each mistake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from solidarity_mailer.campaign import load_campaign
from solidarity_mailer.errors import MailerError
from solidarity_mailer.languages import best_match, direction, is_tag

AVAILABLE = ("en", "es", "ar", "pt-BR")


@pytest.mark.parametrize(("tag", "expected"), [
    ("es", "es"), ("es-PE", "es"), ("ES-pe", "es"), ("es-419", "es"), ("ar-EG", "ar"), ("pt-BR", "pt-BR"),
    ("pt-br-x-old", "pt-BR"), ("pt", "en"), ("pt-PT", "en"), ("de", "en"), ("", "en"), (None, "en"),
    ("zh-Hant-TW", "en"), ("e", "en"),
])
def test_best_match_is_a_lookup_with_fallback(tag: str | None, expected: str) -> None:
    assert best_match(tag, AVAILABLE, "en") == expected


def test_direction_and_syntax() -> None:
    assert [direction(t) for t in ("ar", "fa-IR", "he", "HE", "ur", "en", "es", None)] == \
        ["rtl"] * 5 + ["ltr"] * 3
    assert all(is_tag(t) for t in ("es", "pt-BR", "sr-Latn-RS", "es-419"))
    assert not any(is_tag(t) for t in ("", "e", "es_PE", "español", "es-", "es PE"))


def _campaign(tmp_path: Path, tables: str, language: str = 'language = "en"\n') -> Path:
    path = tmp_path / "c.toml"
    path.write_text('[campaign]\nsubject = "Hello"\nfrom = "a@example.org"\nresolution = "r.toml"\n'
                    + language + tables, encoding="utf-8")
    return path


def test_translations_are_read_in_file_order(tmp_path: Path) -> None:
    path = _campaign(tmp_path, '[translations.es]\nresolution = "r.es.toml"\nsubject = "Hola"\n'
                               '[translations.ar]\nresolution = "r.ar.toml"\nsubject = "مرحبا"\npreheader = "…"\n')
    campaign = load_campaign(path)
    assert campaign.languages == ("en", "es", "ar")
    assert campaign.translations[1].resolution_path == tmp_path / "r.ar.toml"
    assert campaign.language_for("es-MX") == "es" and campaign.language_for("fr") == "en"
    arabic = campaign.variant("ar")
    assert (arabic.subject, arabic.language, arabic.preheader, arabic.translations) == ("مرحبا", "ar", "…", ())
    assert arabic.resolution_path == tmp_path / "r.ar.toml" and campaign.variant("en") is campaign


@pytest.mark.parametrize(("tables", "line", "what"), [
    ('[translations.es]\nsubject = "Hola"\n', 6, "missing key 'resolution' in [translations.es]"),
    ('[translations.es]\nresolution = "r.es.toml"\n', 6, "missing key 'subject' in [translations.es]"),
    ('[translations.es]\nresolution = "r.es.toml"\nsubject = "a\\nb"\n', 8, "[translations.es] subject: contains a"),
    ('[translations.es_PE]\nresolution = "x"\nsubject = "x"\n', 6, "'es_PE' is not a language tag"),
    ('[translations.EN]\nresolution = "x"\nsubject = "x"\n', 6, "the language 'EN' is already [campaign] language"),
    ('[translations.es]\nresolution = 5\nsubject = "x"\n', 7, "resolution: must be a string"),
    ('[translations]\nes = "x"\n', 6, "[translations.es] must be a table"),
])
def test_a_mistake_in_a_translation_table_is_one_line_with_its_place(tmp_path: Path, tables: str, line: int,
                                                                      what: str) -> None:
    path = _campaign(tmp_path, tables)
    with pytest.raises(MailerError) as err:
        load_campaign(path)
    assert what in err.value.what, err.value.line()
    assert err.value.where in (f"{path}:{line}", str(path)), err.value.line()
    assert "\n" not in err.value.line()


def test_a_bad_default_language_is_refused(tmp_path: Path) -> None:
    path = _campaign(tmp_path, "", 'language = "English"\n')
    with pytest.raises(MailerError, match=r"c\.toml:5: \[campaign\] language: 'English' is not a language tag"):
        load_campaign(path)
