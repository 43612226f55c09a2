"""Recipient values in templates: placeholder tokens that only survive being output as ``{{ recipient.X }}``.

A campaign is rendered once with tokens (see :mod:`rendition`) and filled in per recipient, so a template
may only *output* a recipient value, never test, compare, measure or transform it: that would give every
recipient the same (wrong) mail. Three guards make a misuse a :class:`MailerError` instead:

- the tokens refuse ``bool``, ``len``, comparisons, indexing and iteration while rendering;
- a second render with awkward probe values must equal the tokens filled with those values (this
  catches filters that keep the token but not the value: ``|trim``, ``|wrap``, ``|urlencode``, ``|safe``);
- after rendering, placeholder-like text (``__sm_`` in any case) that is not an exact token is refused,
  and so is a token in CSS, a script or a comment, where filling in cannot be exact.

``recipient.fields.COLUMN`` gives a list's extra CSV column (an identifier, matched lower-cased).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import markupsafe

from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.render import html_writer as htmlout
from solidarity_mailer.render.rendition import (
    FIELD_PREFIX,
    PERSONAL_FIELDS,
    VARIANT_FIELDS,
    column_field,
    fill_parts,
    placeholder,
    split_tokens,
    stray_token,
)

_FIELD = r"recipient\.(?:name|email|unsubscribe_url|lang|fields\.[A-Za-z]\w*)"
#: Plain outputs: ``{{ recipient.name }}``, and a trans tag's variables ``{% trans name=recipient.name %}``.
_ALLOWED = re.compile(rf"\{{\{{-?\s*{_FIELD}\s*-?\}}\}}|\{{%-?\s*trans\s+(?:\w+\s*=\s*{_FIELD}\s*,?\s*)+-?%\}}")
_MENTION = re.compile(r"\brecipient\b")
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_HINT = ("output recipient values only as {{ recipient.name }} or {% trans name=recipient.name %} (no filters, "
         "conditions or comparisons)")


class FieldMisuse(Exception):
    """Raised while rendering when a template uses a recipient value in a way that cannot be exact."""


class _Token(str):
    """A placeholder in the template context: it may be output, nothing else."""

    label: str

    def _misuse(self, *_args: object, **_kwargs: object) -> Any:
        raise FieldMisuse(f"{self.label} is tested, compared or measured; it is filled in per recipient "
                          "after rendering, so the template cannot look at its value")

    __bool__ = __len__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _misuse
    __contains__ = __getitem__ = __iter__ = _misuse
    __hash__ = str.__hash__


def _token(field: str) -> _Token:
    tok = _Token(placeholder(field))
    tok.label = f"recipient.fields.{field[len(FIELD_PREFIX):]}" if field.startswith(FIELD_PREFIX) else \
        f"mail.{field}" if field in VARIANT_FIELDS else f"recipient.{field}"
    return tok


class Fields:
    """``recipient.fields``: the columns every list has; an unknown column is a clear error."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> str:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]  # type: ignore[no-any-return]
        known = ", ".join(sorted(values)) or "none"
        raise FieldMisuse(f"the template uses recipient.fields.{name}, but not every list has a column "
                          f"'{name}' (columns every list has, usable in templates: {known})")

    __getitem__ = __getattr__


def columns_of(fields: Iterable[str]) -> list[str]:
    """The template names (lower-cased identifiers) of extra CSV columns; other names are left out."""
    out = []
    for column in fields:
        try:
            out.append(column_field(column)[len(FIELD_PREFIX):])
        except KeyError:
            continue
    return out


def recipient_context(values: Mapping[str, str]) -> dict[str, object]:
    """The template's ``recipient`` from flat values (as :func:`personal_values` makes them)."""
    context: dict[str, object] = {f: values[f] for f in PERSONAL_FIELDS}
    context["fields"] = Fields({k[len(FIELD_PREFIX):]: v for k, v in values.items() if k.startswith(FIELD_PREFIX)})
    return context


def token_values(columns: Iterable[str]) -> dict[str, str]:
    """Flat values that are the placeholder tokens themselves (guarded), for the once-only render: the
    recipient's fields and the variant's (``web_url``)."""
    fields = [FIELD_PREFIX + c for c in columns_of(columns)]
    return {f: _token(f) for f in (*PERSONAL_FIELDS, *VARIANT_FIELDS, *fields)}


def probe_values(tokens: Mapping[str, str]) -> dict[str, str]:
    """Awkward, distinct values (case, spaces, markup, length) that any transformation would change."""
    return {f: f"  Pr{i} {f.upper()}  <&> \"q\" 'é' " + "word " * 20 for i, f in enumerate(tokens)}


def fill(text: str, values: Mapping[str, str], *, escape: bool) -> str:
    """``text`` with its tokens replaced by ``values`` (HTML-escaped as Jinja does, when ``escape``)."""
    filled = {k: str(markupsafe.escape(v)) for k, v in values.items()} if escape else values
    return fill_parts(split_tokens(text), filled)


def _suspect(templates: Path, first: Iterable[str]) -> str:
    """``file:line`` of the first use of ``recipient`` that is not a plain output; else the first file."""
    files = [templates / n for n in first]
    files += sorted(p for p in templates.rglob("*.j2") if p not in files) if templates.is_dir() else []
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError:
            continue
        source = _COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)
        for number, line in enumerate(source.splitlines(), 1):
            if _MENTION.search(_ALLOWED.sub("", line)):
                return location(path, number)
    return str(files[0]) if files else str(templates)


def _placed(templates: Path, name: str, pattern: str) -> str:
    """``file:line`` of the first line of the HTML template matching ``pattern``; else the file."""
    path = templates / f"{name}.html.j2"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(path)
    for number, line in enumerate(lines, 1):
        if re.search(pattern, line, re.IGNORECASE):
            return location(path, number)
    return str(path)


def check_rendition(raw_html: str, text: str, probed: tuple[str, str], probes: Mapping[str, str],
                    templates: Path, name: str) -> None:
    """Refuse stray placeholder text and any token whose filling in would not equal a full render."""
    html_t, text_t = f"{name}.html.j2", f"{name}.txt.j2"
    for part, content, order in (("HTML", raw_html, (html_t, text_t)), ("text", text, (text_t, html_t))):
        if stray_token(content) is not None:
            raise MailerError(f"the {part} part has a recipient value changed by a filter", where=_suspect(
                templates, order), hint=_HINT)
    if fill(raw_html, probes, escape=True) != probed[0]:
        raise MailerError("a recipient value in the HTML part is filtered or tested, so it cannot be filled in "
                          "exactly", where=_suspect(templates, (html_t, text_t)), hint=_HINT)
    if fill(text, probes, escape=False) != probed[1]:
        raise MailerError("a recipient value in the text part is filtered or tested, so it cannot be filled in "
                          "exactly", where=_suspect(templates, (text_t, html_t)), hint=_HINT)


def check_inlined(raw_html: str, inlined: str, templates: Path, name: str) -> None:
    """Tokens must survive CSS inlining one for one, and none may sit in CSS, a script or a comment."""
    where = _suspect(templates, (f"{name}.html.j2",))
    if stray_token(inlined) is not None or Counter(split_tokens(inlined)[1]) != Counter(split_tokens(raw_html)[1]):
        raise MailerError("a recipient value was changed by CSS inlining (is it in a <style> block or a style "
                          "attribute?)", where=where, hint=_HINT)
    tree = htmlout.parse(inlined)
    for node in tree.iter():
        if not isinstance(node.tag, str) or node.tag in ("style", "script"):
            if split_tokens(node.text or "")[1]:
                raise MailerError("a recipient value inside a <style> or <script> block or an HTML comment",
                                  where=_placed(templates, name, r"(<!--|<style|<script).*recipient"), hint=_HINT)
        elif split_tokens(node.get("style") or "")[1]:
            raise MailerError("a recipient value inside a style attribute",
                              where=_placed(templates, name, r"style=[^>]*recipient"), hint=_HINT)
