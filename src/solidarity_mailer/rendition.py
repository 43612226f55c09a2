"""A rendered campaign: inlined HTML and plain text made ONCE, with cheap per-recipient substitution.

The templates are rendered with placeholder tokens in place of the recipient's fields; premailer
inlines the CSS once; each recipient then costs a few string joins. ``render.py`` proves that this
gives the same result as a full render with the real values.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The fields a template may use per recipient, as ``recipient.<field>``.
PERSONAL_FIELDS: tuple[str, ...] = ("name", "email", "unsubscribe_url")

_TOKEN_RE = re.compile(r"__sm_(" + "|".join(PERSONAL_FIELDS) + r")__")


def placeholder(field_name: str) -> str:
    """The token standing for ``field_name`` in a rendition (safe in HTML text, attributes and URLs)."""
    if field_name not in PERSONAL_FIELDS:
        raise KeyError(field_name)
    return f"__sm_{field_name}__"


def _split(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split text at placeholder tokens: literal segments and the field names between them."""
    parts = _TOKEN_RE.split(template)
    return tuple(parts[0::2]), tuple(parts[1::2])


@dataclass(frozen=True)
class Rendition:
    """The campaign's subject, HTML (CSS inlined) and text, with placeholders for personal fields."""

    subject: str
    html: str
    text: str
    language: str = "en"
    _html_parts: tuple[tuple[str, ...], tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _text_parts: tuple[tuple[str, ...], tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_html_parts", _split(self.html))
        object.__setattr__(self, "_text_parts", _split(self.text))

    @staticmethod
    def _fill(parts: tuple[tuple[str, ...], tuple[str, ...]], values: Mapping[str, str]) -> str:
        literals, names = parts
        out = [literals[0]]
        for name, literal in zip(names, literals[1:], strict=True):
            out.append(values[name])
            out.append(literal)
        return "".join(out)

    def personalise(self, values: Mapping[str, str]) -> tuple[str, str]:
        """The (html, text) bodies for one recipient; values are HTML-escaped in the HTML part."""
        escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
        return self._fill(self._html_parts, escaped), self._fill(self._text_parts, values)

    def fields_used(self) -> set[str]:
        """The personal fields this rendition actually contains."""
        return set(self._html_parts[1]) | set(self._text_parts[1])
