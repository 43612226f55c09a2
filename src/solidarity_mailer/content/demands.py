"""Find the sentence that lists the demands ("… they demand A, B, C and D.") and split it into items.

The rules: the first paragraph with the word "demand" (not "demands") followed by a list of at least two
items, up to the end of that sentence (".", "!" or "?" before a capital letter or the paragraph's end).
Items are separated by commas (or by semicolons when there are any) outside parentheses; the last
separator is "and" (", and" too). When the last part holds "and" more than once, the one followed by the
word most other items begin with ("the", "a"…) ends the list; when that does not decide, it is an error
naming the line, with a hint to add a serial comma: never a guess.

A translation uses its language's words for "demand" and "and" (:data:`VOCABULARY`: Spanish, German, French,
Russian); in another language no demands are found, and the translator splits them in the TOML file (the
check of ``content/translations.py`` reports a count that differs from the original's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from solidarity_mailer.content.resolution import Demands
from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.languages import primary

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_OPENING = "\"'“‘«„(¿¡"


@dataclass(frozen=True)
class _Words:
    """A language's verb that introduces the demands, and its word before the last item."""

    demand: re.Pattern[str]
    and_: re.Pattern[str]
    and_first: re.Pattern[str]


def _words(demand: str, conjunction: str) -> _Words:
    return _Words(re.compile(rf"\b(?:{demand})\b:?", re.IGNORECASE), re.compile(rf"\s+(?:{conjunction})\s+"),
                  re.compile(rf"^(?:{conjunction})\s+"))


#: The words per language (primary subtag).
VOCABULARY = {
    "en": _words("demand", "and"),
    "es": _words("exigen|exige|exigimos|reclaman|reclama|reclamamos", "y|e"),
    "de": _words("fordern|fordert|fordern wir", "und"),
    "fr": _words("exigent|exige|exigeons|réclament|réclame|réclamons", "et"),
    "ru": _words("требуют|требует|требуем", "и"),
}


def find_demands(paragraphs: Sequence[tuple[int, str]], where: str, language: str = "en") -> Demands | None:
    """The demands of the first paragraph that lists some, or None; paragraphs are (line number, text)."""
    words = VOCABULARY.get(primary(language))
    if words is None:
        return None
    for index, (line, text) in enumerate(paragraphs):
        for match in words.demand.finditer(text):
            demands = _demands_at(text, match, index, location(where, line), words)
            if demands is not None:
                return demands
    return None


def _sentence_end(text: str, start: int) -> re.Match[str] | None:
    """The first ".", "!" or "?" after ``start`` that ends a sentence: before a capital letter, a digit or the
    end of the paragraph."""
    for end in _SENTENCE_END.finditer(text, start):
        after = text[end.end():].lstrip().lstrip(_OPENING)
        if not after or after[0].isupper() or after[0].isdigit():
            return end
    return None


def _demands_at(text: str, match: re.Match[str], index: int, where: str, words: _Words) -> Demands | None:
    end = _sentence_end(text, match.end())
    stop = end.start() if end else len(text)
    items = split_items(text[match.end() : stop].strip(), where, words)
    if len(items) < 2:
        return None
    tail = text[stop + 1 :].strip() if end else ""
    return Demands(paragraph=index, lead=text[: match.end()], items=tuple(items), tail=tail)


def _split_top_level(text: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def split_items(text: str, where: str, words: _Words = VOCABULARY["en"]) -> list[str]:
    """Split "A, B, C and D" into its items (see the module docstring for the rules)."""
    if not text:
        return []
    parts = _split_top_level(text, ";" if ";" in text else ",")
    last = parts.pop()
    first_and = words.and_first.match(last)
    if parts and first_and:
        return [*parts, last[first_and.end():].lstrip()]
    ands = list(words.and_.finditer(last))
    if not ands:
        return []  # no final "and": not a list (a comma alone may belong to one demand)
    if len(ands) > 1:
        ands = _ands_followed_by_common_word(last, ands, parts)
        if len(ands) != 1:
            raise MailerError(
                f"cannot tell where the last demand starts in '{last}'",
                where=where,
                hint="put a comma before the final 'and' of the list (A, B, and C)",
            )
    cut = ands[0]
    return [*parts, last[: cut.start()], last[cut.end() :]]


def _ands_followed_by_common_word(last: str, ands: list[re.Match[str]], parts: list[str]) -> list[re.Match[str]]:
    firsts = [p.split(" ", 1)[0].lower() for p in parts if p]
    if not firsts:
        return []
    common = max(set(firsts), key=firsts.count)
    if firsts.count(common) * 2 <= len(firsts):
        return []
    return [m for m in ands if last[m.end() :].split(" ", 1)[0].lower() == common]
