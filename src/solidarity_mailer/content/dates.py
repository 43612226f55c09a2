"""The date at the end of a resolution's first line: ISO 8601, or written out in English or in the resolution's
language ("7 de febrero de 2023", "7. Februar 2023", "7 февраля 2023 г.", "٧ فبراير ٢٠٢٣").

English month names are built in; another language's come from Babel (every width and grammatical form of
its month names), and its digits may be any Unicode decimal digits.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

from solidarity_mailer.errors import MailerError

_ENGLISH = {
    name: number
    for number, names in enumerate(
        ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
         "august aug", "september sep sept", "october oct", "november nov", "december dec"),
        start=1,
    )
    for name in names.split()
}
_ENGLISH_DATES = (
    re.compile(r"(?<!\S)(?P<d>\d{1,2})\.?\s+(?P<m>[A-Za-z]+)\.?\s+(?P<y>\d{4})$"),
    re.compile(r"(?<!\S)(?P<m>[A-Za-z]+)\.?\s+(?P<d>\d{1,2}),?\s+(?P<y>\d{4})$"),
    re.compile(r"(?<!\S)(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$"),
)
_LINK = r"\s+(?:(?:de|del)\s+)?"  # "7 de febrero de 2023"
_YEAR = r"(?P<y>\d{4})(?:\s*(?:г\.?|год[а]?|年))?"  # "2023 г."
_OTHER_DATES = (
    re.compile(rf"(?<!\S)(?P<d>\d{{1,2}})\.?{_LINK}(?P<m>[^\s\d,]+?)\.?,?{_LINK}{_YEAR}$"),
    re.compile(rf"(?<!\S)(?P<m>[^\s\d,]+?)\.?\s+(?P<d>\d{{1,2}}),?\s+{_YEAR}$"),
    re.compile(r"(?<!\S)(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$"),
)
_BIDI_MARKS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold().rstrip(".")


@functools.cache
def month_names(language: str) -> dict[str, int]:
    """Every name of every month in ``language`` (and in English), case-folded, without a final dot."""
    names = dict(_ENGLISH)
    if language.split("-")[0].lower() == "en":
        return names
    from babel.core import Locale, UnknownLocaleError
    from babel.dates import get_month_names

    try:
        locale = Locale.parse(language, sep="-")
    except (UnknownLocaleError, ValueError):
        return names
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            for number, name in get_month_names(width, context, locale).items():
                names[_key(name)] = number
    return names


def _ascii_digits(text: str) -> str:
    """Every decimal digit as its ASCII digit, bidi marks as spaces (so offsets stay those of ``text``)."""
    text = _BIDI_MARKS.sub(" ", text)
    return "".join(str(unicodedata.decimal(c)) if not c.isascii() and c.isdecimal() else c for c in text)


def parse_date(text: str, where: str, language: str = "en") -> tuple[dt.date, int] | None:
    """The date at the end of ``text`` and where it starts, or None if it ends with no date."""
    english = language.split("-")[0].lower() == "en"
    line = text if english else _ascii_digits(text).rstrip()
    months = _ENGLISH if english else month_names(language)
    for pattern in _ENGLISH_DATES if english else _OTHER_DATES:
        match = pattern.search(line)
        if not match:
            continue
        month = match["m"]
        number = int(month) if month.isdigit() else months.get(_key(month))
        if number is None:
            continue
        try:
            return dt.date(int(match["y"]), number, int(match["d"])), match.start()
        except ValueError:
            raise MailerError(f"'{match.group(0)}' is not a valid date", where=where) from None
    return None
