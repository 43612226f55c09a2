"""Find the sentence that lists the demands ("… they demand A, B, C and D.") and split it into items.

The rules: the first paragraph with the word "demand" (not "demands") followed by a list of at least two
items, up to the end of that sentence (".", "!" or "?" before a capital letter or the paragraph's end).
Items are separated by commas (or by semicolons when there are any) outside parentheses; the last
separator is "and" (", and" too). When the last part holds "and" more than once, the one followed by the
word most other items begin with ("the", "a"…) ends the list; when that does not decide, it is an error
naming the line, with a hint to add a serial comma: never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from solidarity_mailer.content.resolution import Demands
from solidarity_mailer.errors import MailerError, location

_DEMAND = re.compile(r"\bdemand\b:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'“‘(]?[A-Z0-9]|\s*$)")
_AND = re.compile(r"\s+and\s+")


def find_demands(paragraphs: Sequence[tuple[int, str]], where: str) -> Demands | None:
    """The demands of the first paragraph that lists some, or None; paragraphs are (line number, text)."""
    for index, (line, text) in enumerate(paragraphs):
        for match in _DEMAND.finditer(text):
            demands = _demands_at(text, match, index, location(where, line))
            if demands is not None:
                return demands
    return None


def _demands_at(text: str, match: re.Match[str], index: int, where: str) -> Demands | None:
    end = _SENTENCE_END.search(text, match.end())
    stop = end.start() if end else len(text)
    items = split_items(text[match.end() : stop].strip(), where)
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


def split_items(text: str, where: str) -> list[str]:
    """Split "A, B, C and D" into its items (see the module docstring for the rules)."""
    if not text:
        return []
    parts = _split_top_level(text, ";" if ";" in text else ",")
    last = parts.pop()
    if parts and last.startswith("and "):
        return [*parts, last[4:].lstrip()]
    ands = list(_AND.finditer(last))
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
