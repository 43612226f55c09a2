"""Render a resolution into a :class:`Rendition`: Jinja2 once, premailer once, placeholders for the recipient.

Two sandboxed Jinja environments over the templates folder: one autoescaping for ``*.html.j2``, one plain
for ``*.txt.j2`` and the subject; both with ``StrictUndefined`` and Jinja's i18n extension holding the
catalogue of the language rendered (``i18n.py``: ``_()``, ``{% trans %}``, plural forms; ``longdate`` in that
language). :func:`render_campaign` renders with
placeholder tokens for the personal fields (``render/rendition.py``, guarded by ``render/placeholders.py``),
inlines the CSS with premailer once (``render/css.py``: a CSS error is refused, naming its template) and
serialises with ``render/html_writer.py``; :func:`render_full` is the slow reference path with real values,
used to prove that :meth:`Rendition.personalise` gives the same bytes. Template mistakes are
:class:`MailerError` naming the template file and line.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.content.resolution import Resolution
from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.i18n import long_date, translations
from solidarity_mailer.languages import direction
from solidarity_mailer.paths import templates_dir as default_templates_dir
from solidarity_mailer.render.css import css_error, inline_css, inline_css_checked
from solidarity_mailer.render.placeholders import (
    FieldMisuse,
    check_inlined,
    check_rendition,
    probe_values,
    recipient_context,
    token_values,
)
from solidarity_mailer.render.rendition import PERSONAL_FIELDS, TOKEN_LIKE_RE, Rendition

TEXT_WIDTH = 72
#: What a template's expression can raise besides Jinja's own errors ({{ title + 1 }}, {{ items[99] }}, …).
_TEMPLATE_MISTAKES = (TypeError, ValueError, AttributeError, LookupError, ArithmeticError)
_SUBJECT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 but tab and line breaks, DEL, C1


def text_dir(text: str, lang: str | None = None) -> str:
    """The ``dir`` of a native-script name: ``rtl`` if its language or first strong character is RTL, else ``auto``."""
    if direction(lang) == "rtl":
        return "rtl"
    for char in text:
        bidi = unicodedata.bidirectional(char)
        if bidi in ("R", "AL"):
            return "rtl"
        if bidi == "L":
            return "auto"
    return "auto"


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", subsequent: str = "") -> str:
    """Wrap text for the plain-text part; long words (URLs) are never broken."""
    return textwrap.fill(" ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=subsequent,
                         break_long_words=False, break_on_hyphens=False) or indent.rstrip()


def preview_text(resolution: Resolution, limit: int = 110) -> str:
    """The default preheader: the start of the first paragraph, cut at a word boundary."""
    text = " ".join(resolution.paragraphs[0].split()) if resolution.paragraphs else resolution.title
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def environments(templates: Path, language: str = "en") -> tuple[SandboxedEnvironment, SandboxedEnvironment]:
    """The (html, text) environments: sandboxed, StrictUndefined, trim_blocks, the fixed words and dates in
    ``language``; autoescape only for HTML."""
    envs = []
    for autoescape in (True, False):
        env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates)),
            autoescape=autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            extensions=["jinja2.ext.i18n"],
        )
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]

        def longdate(value: dt.date, _language: str = language) -> str:
            return long_date(value, _language)

        env.filters.update(longdate=longdate, textdir=text_dir, wrap=wrap)
        envs.append(env)
    return envs[0], envs[1]


def _template_location(exc: BaseException, templates: Path) -> str | None:
    """``file:line`` of the innermost template frame in an exception's traceback (Jinja rewrites them)."""
    found = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename == "<template>":
            found = location(filename, tb.tb_lineno)
        tb = tb.tb_next
    return found or str(templates)


def _template_error(exc: Exception, templates: Path, name: str) -> MailerError:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return MailerError(f"template syntax error: {exc.message}",
                           where=location(exc.filename or exc.name or name, exc.lineno))
    if isinstance(exc, jinja2.TemplateNotFound):
        return MailerError(f"template '{exc.name}' not found", where=templates,
                           hint="check 'template' in the campaign file and the templates folder")
    if isinstance(exc, jinja2.UndefinedError):
        return MailerError(f"template error: {exc.message}", where=_template_location(exc, templates),
                           hint="the template uses a value the context does not have")
    return MailerError(f"template error: {exc}", where=_template_location(exc, templates))


@dataclass(frozen=True)
class _Job:
    """What to render: templates, names, and the shared (non-personal) context."""

    html_env: SandboxedEnvironment
    text_env: SandboxedEnvironment
    templates: Path
    template: str
    subject_source: str
    subject_where: str
    context: dict[str, Any]


def _job(campaign: Campaign | None, resolution: Resolution, templates_dir: Path | None) -> _Job:
    templates = templates_dir or (campaign.templates_dir if campaign else None) or default_templates_dir()
    lang = campaign.language if campaign and campaign.language != "en" else resolution.language
    html_env, text_env = environments(templates, lang)
    preheader = (campaign.preheader if campaign else "") or preview_text(resolution)
    mail = {"lang": lang, "dir": direction(lang), "preheader": preheader, "subject": "", "web_url": "", "web": False}
    return _Job(html_env, text_env, templates, campaign.template if campaign else "resolution",
                campaign.subject if campaign else "{{ resolution.title }}",
                str(campaign.path) if campaign else "subject", {"resolution": resolution, "mail": mail})


def _render(job: _Job, recipient: Mapping[str, str], *, web: bool = False) -> tuple[str, str, str]:
    """(subject, html before inlining, text) with the given flat recipient values (tokens or real); ``web``: the
    web version (``mail.web``)."""
    name = job.template
    try:
        subject = job.text_env.from_string(job.subject_source).render(**job.context)
    except (jinja2.TemplateError, *_TEMPLATE_MISTAKES) as exc:
        raise MailerError(f"subject template: {exc}", where=job.subject_where) from None
    bad = _SUBJECT_CONTROL_RE.search(subject)
    if bad:  # white space from the template is folded below; anything else would reach the header as it is
        raise MailerError(f"the subject contains the control character U+{ord(bad.group()):04X}",
                          where=job.subject_where, hint="remove it from the subject or the value it shows")
    subject = " ".join(subject.split())
    if not subject:
        raise MailerError("the subject is empty", where=job.subject_where)
    mail = {**job.context["mail"], "subject": subject, "web_url": recipient.get("web_url", ""), "web": web}
    context = {**job.context, "mail": mail, "recipient": recipient_context(recipient)}
    try:
        html = job.html_env.get_template(f"{name}.html.j2").render(context)
        text = job.text_env.get_template(f"{name}.txt.j2").render(context)
    except FieldMisuse as exc:
        raise MailerError(str(exc), where=_template_location(exc, job.templates),
                          hint="recipient values are filled in after rendering: output them as they are") from None
    except (jinja2.TemplateError, *_TEMPLATE_MISTAKES) as exc:
        raise _template_error(exc, job.templates, name) from None
    return subject, html, text


def render_campaign(
    campaign: Campaign | None, resolution: Resolution, *, templates_dir: Path | None = None,
    columns: Iterable[str] = (),
) -> Rendition:
    """Render once with placeholder tokens, inline once: the campaign's :class:`Rendition`.

    ``columns`` are the extra CSV columns every list of the run has (``recipient.fields.<column>``).
    A recipient value used in any way but plain output is a :class:`MailerError` (see ``render/placeholders.py``).
    """
    job = _job(campaign, resolution, templates_dir)
    tokens = token_values(columns)
    subject, html, text = _render(job, tokens)
    if TOKEN_LIKE_RE.search(subject):
        raise MailerError("the subject may not use recipient fields", where=job.subject_where)
    probes = probe_values(tokens)
    _, probe_html, probe_text = _render(job, probes)
    check_rendition(html, text, (probe_html, probe_text), probes, job.templates, job.template)
    inlined, css_errors = inline_css_checked(html)
    if css_errors:
        raise css_error(job.templates, css_errors)
    check_inlined(html, inlined, job.templates, job.template)
    lang = job.context["mail"]["lang"]
    # TRANSLATORS: the name of a reader whose list row gives none, as in "Dear friend,"
    fallback = translations(lang).gettext("friend")
    return Rendition(subject=subject, html=inlined, text=text, language=lang, fallback_name=fallback,
                     web_html=_web_version(job, tokens, fallback))


def _web_version(job: _Job, tokens: Mapping[str, str], fallback: str) -> str:
    """The web version's HTML, inlined: ``mail.web`` true, no reader's values (the name is ``fallback``, the
    address, unsubscribe link, web link and list columns empty), so it may be public."""
    values = {field: "" for field in tokens}
    values.update(name=fallback, lang=job.context["mail"]["lang"])
    _, html, _ = _render(job, values, web=True)
    return inline_css(html)


def render_full(campaign: Campaign | None, resolution: Resolution, values: Mapping[str, str], *,
                templates_dir: Path | None = None) -> tuple[str, str]:
    """The slow reference path: render and inline with the recipient's real values; returns (html, text)."""
    missing = set(PERSONAL_FIELDS) - set(values)
    if missing:
        raise KeyError(", ".join(sorted(missing)))
    job = _job(campaign, resolution, templates_dir)
    _, html, text = _render(job, values)
    return inline_css(html), text
