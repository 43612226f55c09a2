"""The fixed words of mails and pages in the reader's language: gettext catalogues and dates, through Babel.

The catalogues are ``locale/LANG/LC_MESSAGES/messages.po`` in the package (package data; the template of
them all is ``locale/messages.pot``, extracted with Babel from the templates and ``web/pages.py``, see
docs/translations.md). They are compiled in memory when first used, so no ``.mo`` file can be stale or
missing from a wheel. A reader of ``es-PE`` gets the ``es`` catalogue; a language without one gets English.
Dates use Babel's long format of the language (the bare ``en``: ``7 February 2023``).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as stdlib_gettext
from importlib.resources import files
from importlib.resources.abc import Traversable
from io import BytesIO

from solidarity_mailer.errors import MailerError
from solidarity_mailer.languages import best_match

DOMAIN = "messages"
SOURCE_LANGUAGE = "en"  # the language of the message ids
_ENGLISH_DATE = "d MMMM y"  # 7 February 2023, as before catalogues (Babel's "en" long format is US: February 7)


def locale_folder() -> Traversable:
    """The catalogues' folder in the package."""
    return files("solidarity_mailer") / "locale"


def catalogue_file(language: str) -> Traversable:
    """The ``.po`` file of ``language`` (a folder name under :func:`locale_folder`)."""
    return locale_folder() / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def catalogue_languages() -> tuple[str, ...]:
    """The languages with a shipped catalogue, sorted (``ar``, ``de``, ``en``…)."""
    return tuple(sorted(entry.name for entry in locale_folder().iterdir()
                        if entry.is_dir() and catalogue_file(entry.name).is_file()))


def catalogue_language(tag: str | None) -> str:
    """The catalogue a reader of ``tag`` gets: ``es-PE`` → ``es``; English when there is none."""
    return best_match(tag, catalogue_languages(), SOURCE_LANGUAGE)


@functools.cache
def _compiled(language: str) -> stdlib_gettext.NullTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import PoFileError, read_po
    from babel.support import Translations

    source = catalogue_file(language)
    try:
        with source.open("rb") as fh:
            catalog = read_po(fh, locale=language.replace("-", "_"), abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        raise MailerError(f"broken catalogue: {exc}", where=str(source), hint="check it with `msgfmt -c`") from None
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def translations(tag: str | None) -> stdlib_gettext.NullTranslations:
    """The gettext translations (``gettext``, ``ngettext``…) for a reader of ``tag``."""
    return _compiled(catalogue_language(tag))


def gettext(tag: str | None, message: str) -> str:
    """``message`` in the language of ``tag`` (the message itself where the catalogue has no translation)."""
    return translations(tag).gettext(message)


@functools.cache
def _babel_locale(tag: str) -> object:
    from babel.core import Locale, UnknownLocaleError

    for candidate in (tag, tag.split("-", 1)[0], SOURCE_LANGUAGE):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("Babel knows English")  # pragma: no cover


def long_date(value: dt.date, tag: str | None = None) -> str:
    """``value`` written out in the language of ``tag`` (``7 de febrero de 2023``); ``7 February 2023`` for
    ``en`` and for no language."""
    from babel.dates import format_date

    if not tag or tag.lower() == SOURCE_LANGUAGE:
        return format_date(value, _ENGLISH_DATE, locale=SOURCE_LANGUAGE)
    return format_date(value, "long", locale=_babel_locale(tag))  # type: ignore[arg-type]
