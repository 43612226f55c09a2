"""A rendered campaign: inlined HTML and plain text made ONCE, with cheap per-recipient substitution.

The templates are rendered with placeholder tokens in place of the recipient's fields; premailer
inlines the CSS once; each recipient then costs a few string joins. ``render/templates.py`` proves that this
gives the same result as a full render with the real values. A campaign with translations is rendered once per
language: :class:`Renditions`, from which each recipient gets one variant by their language tag.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from solidarity_mailer.languages import best_match

#: The fields a template may use per recipient, as ``recipient.<field>`` (``lang``: the recipient's
#: language tag, else the campaign's). A list's extra CSV column ``org`` is ``recipient.fields.org``,
#: token field ``field_org``.
PERSONAL_FIELDS: tuple[str, ...] = ("name", "email", "unsubscribe_url", "lang")
FIELD_PREFIX = "field_"
#: The values the same for every reader of a language, filled in once per variant when the message is built:
#: ``web_url``, the address of the web version (``mail.web_url``; :func:`web_path`).
VARIANT_FIELDS: tuple[str, ...] = ("web_url",)
#: A CSV column usable in templates: an identifier (lower-cased, as templates see it).
COLUMN_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_TOKEN_RE = re.compile(r"__sm_(" + "|".join(PERSONAL_FIELDS + VARIANT_FIELDS) + r"|" + FIELD_PREFIX
                       + r"[a-z][a-z0-9_]*)__")
#: Anything that looks like a placeholder, in any case (a token mangled by a filter, say).
TOKEN_LIKE_RE = re.compile(r"__sm_", re.IGNORECASE)


def placeholder(field_name: str) -> str:
    """The token standing for ``field_name`` in a rendition (safe in HTML text, attributes and URLs)."""
    if field_name not in PERSONAL_FIELDS + VARIANT_FIELDS and not (
        field_name.startswith(FIELD_PREFIX) and COLUMN_RE.match(field_name[len(FIELD_PREFIX):])
    ):
        raise KeyError(field_name)
    return f"__sm_{field_name}__"


def web_path(campaign_id: str, language: str) -> str:
    """The path of a campaign's web version in ``language``, below ``[web] public_base_url`` (``serve``) or the
    archive's folder (``archive build``): the same for every reader of that variant, nothing personal in it."""
    return f"v/{campaign_id}/{language}.html"


def column_field(column: str) -> str:
    """The token field of a CSV column (``Org`` → ``field_org``); KeyError if it is not an identifier."""
    name = column.strip().lower()
    if not COLUMN_RE.match(name):
        raise KeyError(column)
    return FIELD_PREFIX + name


def split_tokens(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split text at placeholder tokens: literal segments and the field names between them."""
    parts = _TOKEN_RE.split(text)
    return tuple(parts[0::2]), tuple(parts[1::2])


def fill_parts(parts: tuple[tuple[str, ...], tuple[str, ...]], values: Mapping[str, str]) -> str:
    """Text split by :func:`split_tokens`, joined again with each field's value ("" for a column this
    recipient's list lacks, as in a test copy)."""
    literals, names = parts
    out = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        out += (values.get(name, ""), literal)
    return "".join(out)


def stray_token(text: str) -> int | None:
    """The offset of placeholder-like text (``__sm_`` in any case) that is not an exact token, else None."""
    exact = {m.start() for m in _TOKEN_RE.finditer(text)}
    for m in TOKEN_LIKE_RE.finditer(text):
        if m.start() not in exact:
            return m.start()
    return None


@dataclass(frozen=True)
class Rendition:
    """The campaign's subject, HTML (CSS inlined) and text, with placeholders for personal fields."""

    subject: str
    html: str
    text: str
    language: str = "en"
    fallback_name: str = "friend"  # the name of a reader without one ("Dear friend,"), in ``language``
    web_html: str = ""  # the web version: the same template with ``mail.web`` true and no reader's values
    _html_parts: tuple[tuple[str, ...], tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _text_parts: tuple[tuple[str, ...], tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_html_parts", split_tokens(self.html))
        object.__setattr__(self, "_text_parts", split_tokens(self.text))

    def personalise(self, values: Mapping[str, str]) -> tuple[str, str]:
        """The (html, text) bodies for one recipient; values are HTML-escaped in the HTML part."""
        escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
        return fill_parts(self._html_parts, escaped), fill_parts(self._text_parts, values)

    def with_web_url(self, url: str) -> Rendition:
        """This rendition with ``mail.web_url`` filled in (by the message factory, once per variant)."""
        token = placeholder("web_url")
        return replace(self, html=self.html.replace(token, html.escape(url, quote=True)),
                       text=self.text.replace(token, url))

    def content_digest(self) -> str:
        """sha256 (hex) of what every recipient gets before personalisation: subject, HTML, text, language."""
        content = "\0".join((self.subject, self.html, self.text, self.language))
        return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()

    def fields_used(self) -> set[str]:
        """The personal fields this rendition actually contains (``field_<column>`` for list columns)."""
        return set(self._html_parts[1]) | set(self._text_parts[1])


@dataclass(frozen=True)
class Renditions:
    """A campaign rendered once per language: ``variants[0]`` in its default language, then its translations.

    ``notes`` are the translations' check warnings (``file:line: what (hint)``, see ``content/translations.py``).
    """

    variants: tuple[Rendition, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, rendition: Rendition | Renditions) -> Renditions:
        """``rendition`` as a :class:`Renditions` (one variant when it is a single :class:`Rendition`)."""
        return rendition if isinstance(rendition, Renditions) else cls((rendition,))

    @property
    def default(self) -> Rendition:
        """The variant of the campaign's own language: for readers of any language without a translation."""
        return self.variants[0]

    @property
    def subject(self) -> str:
        """The default variant's subject."""
        return self.default.subject

    @property
    def languages(self) -> tuple[str, ...]:
        """The variants' languages, the default first."""
        return tuple(v.language for v in self.variants)

    def choose(self, tag: str | None) -> Rendition:
        """The variant for a reader of ``tag`` (``es-PE`` gets ``es``; unknown or empty: the default)."""
        language = best_match(tag, self.languages, self.default.language)
        return next(v for v in self.variants if v.language == language)

    def content_digest(self) -> str:
        """The run's content: the default variant's digest alone (as before translations), else sha256 over
        every variant's language and digest, the default first, then the others sorted by language."""
        if len(self.variants) == 1:
            return self.default.content_digest()
        others = sorted(self.variants[1:], key=lambda v: v.language)
        lines = [f"default {self.default.language} {self.default.content_digest()}"]
        lines += [f"{v.language} {v.content_digest()}" for v in others]
        return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()

    def with_subject_prefix(self, prefix: str) -> Renditions:
        """Every variant with ``prefix`` before its subject (``[TEST] ``)."""
        return Renditions(tuple(replace(v, subject=prefix + v.subject) for v in self.variants), self.notes)


def personal_values(name: str, email: str, unsubscribe_url: str, *, fallback_name: str = "friend",
                    lang: str = "", fields: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values for :meth:`Rendition.personalise`; an empty name becomes ``fallback_name`` ("Dear friend,").

    ``fields`` are the recipient's extra CSV columns (``Recipient.fields``); identifier columns become
    ``field_<column>`` values."""
    values = {"name": " ".join(name.split()) or fallback_name, "email": email, "unsubscribe_url": unsubscribe_url,
              "lang": lang}
    for column, value in (fields or {}).items():
        try:
            values[column_field(column)] = value
        except KeyError:
            continue
    return values
