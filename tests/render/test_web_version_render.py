"""The web version is rendered once per language beside the mail: the same template with ``mail.web`` true and
no reader's values; ``mail.web_url`` is filled in once per variant and may only be output, like a reader's value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from solidarity_mailer.errors import MailerError
from solidarity_mailer.render.rendition import personal_values, placeholder
from solidarity_mailer.render.templates import render_campaign
from tests.resolution_factory import make_resolution
from tests.starter import TEMPLATES


def test_the_web_version_has_no_reader_and_no_placeholder() -> None:
    rendition = render_campaign(None, make_resolution(), columns=["org"])
    assert placeholder("web_url") in rendition.html and placeholder("web_url") in rendition.text
    web = rendition.web_html
    assert "__sm_" not in web and "Dear" not in web and "Unsubscribe" not in web and "View in browser" not in web
    assert make_resolution().title in web and '<html lang="en" dir="ltr">' in web
    html, text = rendition.with_web_url("https://l.example/v/c/en.html").personalise(
        personal_values("Ana", "ana@example.org", "https://l.example/u/t"))
    assert 'href="https://l.example/v/c/en.html"' in html and "https://l.example/v/c/en.html" in text


def test_testing_mail_web_url_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    page = templates / "resolution.html.j2"
    page.write_text(page.read_text(encoding="utf-8").replace("{% if not mail.web %}", "{% if mail.web_url %}", 1),
                    encoding="utf-8")
    with pytest.raises(MailerError, match=r"mail\.web_url is tested, compared or measured"):
        render_campaign(None, make_resolution(), templates_dir=templates)
