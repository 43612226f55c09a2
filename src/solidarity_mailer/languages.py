"""Language tags (BCP 47): their syntax, which of a campaign's languages a reader gets, and writing direction.

Standard library only: the sender processes choose a recipient's variant with :func:`best_match` (through a
cache in ``compose/message.py``) and load nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A language tag as lists and campaign files accept it: ``de``, ``pt-BR``, ``sr-Latn-RS``, ``es-419``.
TAG_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
#: Languages written right to left (primary subtags).
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ps", "sd", "syr", "ug", "ur", "yi"})


def is_tag(tag: str) -> bool:
    """Whether ``tag`` has the syntax of a language tag (``es``, ``es-PE``), not whether the language exists."""
    return bool(TAG_RE.match(tag))


def primary(tag: str | None) -> str:
    """The primary language subtag, lower-cased: ``es-PE`` → ``es``; ``""`` for None."""
    return (tag or "").split("-", 1)[0].lower()


def best_match(tag: str | None, available: Iterable[str], default: str) -> str:
    """The one of ``available`` a reader of ``tag`` gets: RFC 4647 lookup (``es-PE-x`` → ``es-PE`` → ``es``,
    case-insensitive), else ``default`` (also for an empty or unknown tag)."""
    if not tag:
        return default
    known = {a.lower(): a for a in available}
    parts = tag.lower().split("-")
    while parts:
        found = known.get("-".join(parts))
        if found is not None:
            return found
        parts.pop()
        if parts and len(parts[-1]) == 1:  # a singleton ("x", "u") never ends a shorter tag
            parts.pop()
    return default


def direction(tag: str | None) -> str:
    """``rtl`` for a language written right to left (Arabic, Persian, Hebrew…), else ``ltr``."""
    return "rtl" if primary(tag) in RTL_LANGUAGES else "ltr"
