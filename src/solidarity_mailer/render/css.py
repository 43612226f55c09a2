"""CSS inlining with premailer, once per campaign, and its CSS errors made visible.

premailer parses with cssutils, which only logs a CSS syntax error and drops the rules it could not read: the
mail would go out with part of its layout missing. :func:`inline_css_checked` collects those errors (cssutils'
ERROR records) and :func:`css_error` turns them into one :class:`MailerError` naming the template and line that
hold the broken CSS (found by reading each template's ``<style>`` blocks and ``style`` attributes again).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from premailer import Premailer

from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.render import html_writer as htmlout

_CSS_LOG = logging.getLogger("CSSUTILS")  # cssutils' own logger (cssutils.log writes to it)
_CSS_LOG_LOCK = threading.Lock()  # the logger is global: one inlining at a time collects from it
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _css_errors() -> Iterator[list[str]]:
    """cssutils' errors while the block runs (and nothing of them on stderr)."""
    collect = _Collect()
    with _CSS_LOG_LOCK:
        saved = _CSS_LOG.handlers[:], _CSS_LOG.level, _CSS_LOG.propagate
        _CSS_LOG.handlers, _CSS_LOG.propagate = [collect], False
        _CSS_LOG.setLevel(logging.ERROR)
        try:
            yield collect.messages
        finally:
            _CSS_LOG.handlers, level, _CSS_LOG.propagate = saved
            _CSS_LOG.setLevel(level)


def inline_css_checked(html: str) -> tuple[str, list[str]]:
    """premailer, configured: no network, classes kept (the dark-mode and phone rules need them), no validation
    (``mso-*`` properties are fine); ``<style data-premailer="ignore">`` blocks stay in the head untouched.
    Returns the inlined HTML and the CSS errors met (empty when the CSS was read whole)."""
    premailer = Premailer(allow_network=False, remove_classes=False, strip_important=False, disable_validation=True)
    with _css_errors() as errors:
        tree = premailer.transform(htmlout.parse(html).getroot())
    return htmlout.serialize(tree), errors


def inline_css(html: str) -> str:
    """:func:`inline_css_checked` without the errors."""
    return inline_css_checked(html)[0]


_COMMENT_RE = re.compile(r"\{#.*?#\}|<!--.*?-->", re.S)  # Jinja and HTML comments: premailer reads no CSS there
_CSS_RE = re.compile(r'<style(?![^>]*premailer="ignore")[^>]*>(.*?)</style>|\sstyle="([^"]*)"', re.S | re.I)
_EXPRESSION_RE, _STATEMENT_RE = re.compile(r"\{\{.*?\}\}", re.S), re.compile(r"\{%.*?%\}", re.S)
_POSITION_RE = re.compile(r"\[(\d+):\d+:|, (\d+), \d+\)")  # cssutils' [line:col: …] or (…, line, col)


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group())  # same length and lines: positions stay where they were


def _template_css_errors(path: Path) -> tuple[int, str] | None:
    """The first CSS error in ``path``'s ``<style>`` blocks and ``style`` attributes, read as premailer reads
    them (Jinja expressions taken as a plain value): (line in the template, message); None when there is none."""
    import cssutils

    text = _COMMENT_RE.sub(_blank, path.read_text(encoding="utf-8", errors="replace"))
    for match in _CSS_RE.finditer(text):
        block = match.group(1) is not None
        group = 1 if block else 2
        css = _STATEMENT_RE.sub("", _EXPRESSION_RE.sub("0", match.group(group)))
        parse = cssutils.parseString if block else cssutils.parseStyle
        with _css_errors() as errors:
            parse(css, validate=False)
        if errors:
            line = text.count("\n", 0, match.start(group)) + 1
            found = [int(a or b) for a, b in (_POSITION_RE.findall(" ".join(errors)) if block else [])]
            readable = next((e for e in errors if "production" not in e), errors[0])  # not cssutils' grammar
            return line + (min(found) - 1 if found else 0), readable
    return None


def css_error(templates: Path, messages: list[str]) -> MailerError:
    """One error for the CSS errors premailer met, naming the template (and line) that holds the first."""
    where, message = str(templates), messages[0]
    for path in sorted(templates.glob("*.j2")):
        found = _template_css_errors(path)
        if found is not None:
            where, message = location(path, found[0]), found[1]
            break
    shown = _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(message.split()))
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return MailerError(f"CSS error: {shown}", where=where,
                       hint="fix the CSS there: the rules after the error would be lost from every message")
