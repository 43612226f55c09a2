"""One line of a plain-text signatories list → a :class:`Signatory`.

A line reads ``[numbering] [ABBREVIATION] Name as written [(English name)][, Country]``. The rules:

- numbering: an optional bullet (``-``, ``–``, ``•``, ``*``) and an optional ``12.`` or ``12)``;
- country: the text after the last comma outside parentheses, when it reads as a place name
  (one to five words, each capitalised or a joiner such as "of", "and", "/"); other commas belong to the name;
- abbreviation: a first word with two or more capital letters ("MLPD", "UoC", "БКП", "CPA/ML"), plus a
  one-word parenthesis right after it ("CPSA (ML)", "NCP (Mashal)"), plus the words the name ends with
  when the line repeats them right after ("CPI (ML) Red Star … (Marxist-Leninist) Red Star");
- English name: the last parenthesis at the end of the name when it is a translation: it follows a
  non-Latin name, or follows another parenthesis ("Name (transliteration) (English)"), or has two or more
  words that are not just "Marxist-Leninist"-style qualifiers and the name before it has no English
  "of/the/and". A transliteration stays part of the name, as written.

A line that fits none of this is a :class:`MailerError` naming the line, never a guess.
"""

from __future__ import annotations

import re

from solidarity_mailer.content.resolution import Signatory
from solidarity_mailer.content.scripts import dominant_script, guess_lang, outside_parentheses
from solidarity_mailer.errors import MailerError

_NUMBERING = re.compile(r"^(?:[-–—•*]\s*)?(?:\d{1,3}[.)](?:\s+|$))?")
_GROUP_AFTER_ABBREVIATION = re.compile(r"^\([^()\s]+\)(?:\s+|$)")
_PLACE_JOINERS = {"of", "and", "the", "de", "del", "da", "do", "du", "la", "y", "et", "/", "&", "-"}
_ENGLISH_WORDS = re.compile(r"\b(?:of|the|and)\b", re.IGNORECASE)
_QUALIFIERS = {
    "ml", "m", "l", "mlm", "marxist", "leninist", "maoist", "marxism", "leninism", "maoism", "bolshevik",
    "marxista", "leninista", "maoista", "marxiste", "léniniste", "maoïste", "marksist", "marxistisch",
    "leninistisch", "marxistische", "leninistische",
}
EXPECTED = "'[ABBREVIATION] Name as written [(English name)][, Country]'"


def parse_signatory_line(line: str, where: str) -> Signatory:
    """Parse one non-empty signatory line; ``where`` is its ``file:line`` for errors."""
    text = _NUMBERING.sub("", line.strip(), count=1).strip()
    if not text:
        raise MailerError("expected a signatory after the numbering", where=where, hint=f"write {EXPECTED}")
    if text.endswith(":"):
        raise MailerError(f"expected a signatory, found a heading '{text}'", where=where)
    _check_parentheses(text, where)
    text, country = _split_country(text)
    if not text:
        raise MailerError(f"expected a name before the country '{country}'", where=where)
    abbreviation, rest = _split_abbreviation(text)
    if not rest:
        raise MailerError(f"expected a name after the abbreviation '{abbreviation}'", where=where,
                          hint=f"write {EXPECTED}")
    name, name_en = _split_english(rest, where)
    return Signatory(abbreviation=abbreviation, name=name, name_en=name_en, country=country,
                     lang=guess_lang(name, name_en, country))


def _check_parentheses(text: str, where: str) -> None:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise MailerError("a ')' closes no '('", where=where, hint=f"write {EXPECTED}")
    if depth:
        raise MailerError("a '(' is never closed", where=where, hint=f"write {EXPECTED}")


def _top_level_commas(text: str) -> list[int]:
    found, depth = [], 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            found.append(i)
    return found


def _is_place(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 5 or not words[0][:1].isupper():
        return False
    return all(w[:1].isupper() or w.lower() in _PLACE_JOINERS for w in words) and "(" not in text


def _split_country(text: str) -> tuple[str, str | None]:
    commas = _top_level_commas(text)
    if commas:
        place = text[commas[-1] + 1 :].strip()
        if _is_place(place):
            return text[: commas[-1]].rstrip(), place
    return text, None


def _is_abbreviation(word: str) -> bool:
    return sum(ch.isupper() for ch in word) >= 2


def _split_abbreviation(text: str) -> tuple[str, str]:
    first, _, rest = text.partition(" ")
    rest = rest.lstrip()
    if not _is_abbreviation(first):
        return "", text
    abbreviation = first
    group = _GROUP_AFTER_ABBREVIATION.match(rest)
    if group:
        abbreviation += " " + group.group(0).strip()
        rest = rest[group.end() :]
    words = rest.split()
    for k in range(min(3, (len(words) - 1) // 2), 0, -1):
        repeated = words[:k]
        if repeated == words[-k:] and all(w[:1].isupper() for w in repeated):
            prefix = " ".join(repeated)
            if rest.startswith(prefix + " "):
                return f"{abbreviation} {prefix}", rest[len(prefix) + 1 :].lstrip()
    return abbreviation, rest


def _last_group_start(text: str) -> int | None:
    """Index of the '(' opening the parenthesis that ends ``text``, if it ends with one."""
    if not text.endswith(")"):
        return None
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return None  # unreachable: parentheses were checked


def _is_translation(before: str, inner: str) -> bool:
    inner_words = [w for w in re.split(r"[\s\-]+", outside_parentheses(inner).lower()) if w]
    only_qualifiers = all(w in _QUALIFIERS for w in inner_words)
    if dominant_script(outside_parentheses(before)) not in ("Latn", None):
        return dominant_script(inner) == "Latn" and not only_qualifiers
    if len(inner.split()) < 2 or only_qualifiers:
        return False
    if before.endswith(")"):
        return True
    return not _ENGLISH_WORDS.search(outside_parentheses(before))


def _split_english(text: str, where: str) -> tuple[str, str | None]:
    start = _last_group_start(text)
    if start is None:
        return text, None
    before, inner = text[:start].rstrip(), text[start + 1 : -1].strip()
    if not inner:
        raise MailerError("empty parentheses '()'", where=where, hint=f"write {EXPECTED}")
    if not before:
        raise MailerError(f"expected a name before '({inner})'", where=where, hint=f"write {EXPECTED}")
    if _is_translation(before, inner):
        return before, inner
    return text, None
