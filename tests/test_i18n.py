"""The catalogues of fixed words: the template of them is what Babel extracts today, every shipped language
translates every message (each plural form, the same placeholders), and dates and fallbacks are right."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from solidarity_mailer.i18n import (
    catalogue_file,
    catalogue_language,
    catalogue_languages,
    gettext,
    locale_folder,
    long_date,
    translations,
)
from tests.sendkit import REPO

SHIPPED = ("ar", "de", "en", "es", "fr", "hi", "ru", "tr")  # at least these (issue 15)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with catalogue_file(language).open("rb") as fh:
        return read_po(fh, locale=language)


def _template():  # type: ignore[no-untyped-def]
    with (locale_folder() / "messages.pot").open("rb") as fh:
        return read_po(fh)


def _ids(catalog) -> set[object]:  # type: ignore[no-untyped-def]
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def test_the_template_holds_exactly_what_babel_extracts_from_templates_and_pages() -> None:
    with (REPO / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    extracted = {msgid if isinstance(msgid, str) else tuple(msgid)
                 for _, _, msgid, *_ in extract_from_dir(str(REPO), method_map, options_map)}
    assert extracted == _ids(_template()), "run `pybabel extract` and `pybabel update` (docs/translations.md)"


def test_the_shipped_languages() -> None:
    assert set(SHIPPED) <= set(catalogue_languages())


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_translated_in_every_form_with_its_placeholders(language: str) -> None:
    catalog, template = _catalog(language), _template()
    missing = _ids(template) - _ids(catalog)
    assert not missing, f"{catalogue_file(language)} misses the message ids {sorted(map(str, missing))}"
    for message in catalog:
        if not message.id:
            continue
        assert "fuzzy" not in message.flags, (language, message.id)
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        forms = [message.string] if isinstance(message.string, str) else list(message.string)
        assert len(forms) == (1 if isinstance(message.id, str) else catalog.num_plurals), (language, message.id)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for form in forms:
            assert form.strip(), f"{language}: no translation of {message.id!r}"
            found = set(PLACEHOLDER.findall(form))
            if isinstance(message.id, str) or expected - {"count"} != set():
                assert found == expected, (language, message.id, form)
            else:  # a plural form may leave the number out ("one organisation")
                assert found <= expected, (language, message.id, form)


@pytest.mark.parametrize("language", SHIPPED)
def test_plural_forms_follow_the_language(language: str) -> None:
    assert _signed(language, 1) != _signed(language, 29) or language == "tr"  # Turkish: a singular noun after 29


def _signed(language: str, n: int) -> str:
    return translations(language).ngettext("Signed by %(count)s organisation.", "Signed by %(count)s organisations.",
                                           n)


def test_russian_and_arabic_have_their_own_plural_forms() -> None:
    assert _signed("ru", 1) == _signed("ru", 21) != _signed("ru", 3) != _signed("ru", 5)
    assert len({_signed("ar", n) for n in (0, 1, 2, 3, 11, 100)}) == 6


def test_a_region_falls_back_to_its_language_and_an_unknown_one_to_english() -> None:
    assert catalogue_language("es-PE") == "es"
    assert catalogue_language("pt-BR") == "en" and catalogue_language(None) == "en"
    assert gettext("de-AT", "Unsubscribe") == "Abbestellen"
    assert gettext("ja", "Unsubscribe") == "Unsubscribe"


@pytest.mark.parametrize(("language", "written"), [
    (None, "7 February 2023"), ("en", "7 February 2023"), ("en-US", "February 7, 2023"),
    ("es", "7 de febrero de 2023"), ("es-PE", "7 de febrero de 2023"), ("de", "7. Februar 2023"),
    ("fr", "7 février 2023"), ("tr", "7 Şubat 2023"), ("ru", "7 февраля 2023\u202fг."), ("ar", "7 فبراير 2023"),
    ("hi", "7 फ़रवरी 2023"), ("x-unknown", "February 7, 2023"),
])
def test_long_dates_in_the_language(language: str | None, written: str) -> None:
    assert long_date(dt.date(2023, 2, 7), language) == written
