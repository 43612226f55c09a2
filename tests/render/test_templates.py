"""Rendering: the cheap per-recipient path equals a full render, escaping is safe, template errors are clear."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from lxml import etree

from solidarity_mailer.content.load import load_content
from solidarity_mailer.content.resolution import Signatory
from solidarity_mailer.errors import MailerError
from solidarity_mailer.render.css import inline_css_checked
from solidarity_mailer.render.rendition import PERSONAL_FIELDS, personal_values, placeholder
from solidarity_mailer.render.templates import render_campaign, render_full, text_dir
from tests.resolution_factory import make_resolution

TRICKY = [
    personal_values("Ada Lovelace", "ada@example.org", "https://example.org/u/abc"),
    personal_values("O'Brien & <Sons> \"Ltd\"", "o'brien+x@example.org",
                    "https://example.org/unsub?list=a&token=x=y&z=<1>\"'"),
    personal_values("Ελένη Παπαδοπούλου 東京 مريم", "пример@пример.рф", "https://пример.рф/u?t=ä&b=c d"),
    personal_values("", "x@example.org", "mailto:unsub@example.org?subject=unsubscribe&body=x"),
    personal_values("</p><script>alert(1)</script>", "a@b.c", "javascript:alert(1)"),
    personal_values("__sm_email__ {{ 7*7 }}", "a@b.c", "https://e.org/?a=__sm_name__"),
]


@pytest.mark.parametrize("values", TRICKY, ids=range(len(TRICKY)))
def test_personalise_equals_full_render_byte_for_byte(values: dict[str, str]) -> None:
    resolution = make_resolution()
    rendition = render_campaign(None, resolution)
    assert all(placeholder(f) in rendition.html for f in ("name", "email", "unsubscribe_url"))
    html, text = rendition.personalise(values)
    full_html, full_text = render_full(None, resolution, values)
    assert html.encode("utf-8") == full_html.encode("utf-8")
    assert text.encode("utf-8") == full_text.encode("utf-8")


def test_a_filter_on_a_personal_field_is_refused_not_sent_wrong(tmp_path: Path, starter: Path) -> None:
    """A filter on recipient.name would give every recipient the token's rendering: refused, with file:line."""
    templates = tmp_path / "templates"
    shutil.copytree(starter / "templates", templates)
    page = templates / "resolution.html.j2"
    page.write_text(page.read_text(encoding="utf-8").replace("name=recipient.name ", "name=recipient.name|title "),
                    encoding="utf-8")
    with pytest.raises(MailerError) as err:
        render_campaign(None, make_resolution(), templates_dir=templates)
    assert err.value.where == f"{page}:10"


def test_markup_in_content_is_escaped_not_injected() -> None:
    rendition = render_campaign(None, make_resolution())
    html, _ = rendition.personalise(TRICKY[4])
    assert "<script" not in html
    assert "Union &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<strong>A&lt;b&gt;&amp;C</strong>" in html
    tree = etree.fromstring(html.encode("utf-8"), etree.HTMLParser())
    assert tree.xpath("//script") == []
    assert tree.xpath("//b") == []
    assert "Union <script>alert(1)</script> & Co" in "".join(tree.xpath("//li/span/text()"))
    _, text = rendition.personalise(TRICKY[0])
    assert "A<b>&C: Union <script>alert(1)</script> & Co (Union & Co), Nowhere" in text


def test_demands_are_an_ordered_list_in_both_parts() -> None:
    resolution = make_resolution()
    html, text = render_campaign(None, resolution).personalise(TRICKY[0])
    tree = etree.fromstring(html.encode("utf-8"), etree.HTMLParser())
    assert [li.text for li in tree.xpath("//ol/li")] == list(resolution.demands.items)  # type: ignore[union-attr]
    assert "1. the release of prisoners\n2. new elections\n3. a new constitution\n" in text


def test_native_names_carry_lang_and_direction() -> None:
    html, _ = render_campaign(None, make_resolution()).personalise(TRICKY[0])
    assert '<span lang="ar" dir="rtl">الحزب الشيوعي</span>' in html
    assert '<span lang="bg" dir="auto">Българска Комунистическа Партия</span>' in html
    assert text_dir("מפלגה") == "rtl"  # Hebrew script without a language tag
    assert text_dir("Parti", "fa") == "rtl"
    assert text_dir("123 Party") == "auto"


def test_rtl_resolution_sets_dir_on_html() -> None:
    resolution = make_resolution(language="ar", signatories=(Signatory("X", "الحزب", None, None, None),))
    html = render_campaign(None, resolution).html
    assert html.startswith('<!DOCTYPE html>\n<html lang="ar" dir="rtl">')
    assert '<span dir="rtl">الحزب</span>' in html


def test_text_part_is_wrapped_and_keeps_urls_whole() -> None:
    url = "https://example.org/" + "a" * 120
    resolution = make_resolution(source_url=url, paragraphs=("word " * 60, *make_resolution().paragraphs[1:]))
    _, text = render_campaign(None, resolution).personalise(TRICKY[0])
    assert f"Source: {url}\n" in text
    body = text.split("Signatories")[0]
    assert all(len(line) <= 72 for line in body.splitlines())


def test_style_blocks_survive_inlining() -> None:
    html = render_campaign(None, make_resolution()).html
    head = html.split("</head>")[0]
    assert head.count("\n<style>") == 1  # the inlined block is gone, the ignored one stays (attribute removed)
    assert "@media (prefers-color-scheme:dark)" in head
    assert "!important" in head
    assert "<!--[if mso]>" in head and "<!--[if mso]><table" in html
    assert 'class="sm-cell"' in html and "overflow-wrap:anywhere" in html


def _broken_templates(tmp_path: Path, starter: Path, old: str, new: str) -> Path:
    templates = tmp_path / "templates"
    shutil.copytree(starter / "templates", templates)
    page = templates / "resolution.html.j2"
    text = page.read_text(encoding="utf-8")
    assert old in text
    page.write_text(text.replace(old, new, 1), encoding="utf-8")
    return templates


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in t)


@pytest.mark.parametrize(
    ("old", "new", "needle", "said"),
    [
        ("{% endfor %}", "{% endfro %}", "endfro", "syntax"),  # a syntax error
        ("{{ resolution.title }}</h1>", "{{ resolution.titel }}</h1>", "titel", "titel"),  # an undefined name
        ("{{ resolution.title }}</h1>", "{{ resolution.title + 1 }}</h1>", "+ 1", "can only concatenate"),  # fails
    ],
)
def test_template_mistake_names_file_and_line(
    tmp_path: Path, starter: Path, old: str, new: str, needle: str, said: str
) -> None:
    templates = _broken_templates(tmp_path, starter, old, new)
    with pytest.raises(MailerError) as info:
        render_campaign(None, make_resolution(), templates_dir=templates)
    line = _line_of(templates / "resolution.html.j2", needle)
    assert info.value.where == f"{templates / 'resolution.html.j2'}:{line}"
    assert said in info.value.what


def test_unknown_recipient_field_is_an_error(tmp_path: Path, starter: Path) -> None:
    templates = _broken_templates(tmp_path, starter, "{{ recipient.unsubscribe_url }}", "{{ recipient.phone }}")
    with pytest.raises(MailerError, match="phone"):
        render_campaign(None, make_resolution(), templates_dir=templates)


def test_sandbox_blocks_unsafe_attributes(tmp_path: Path, starter: Path) -> None:
    templates = _broken_templates(tmp_path, starter, "{{ resolution.title }}</h1>",
                                  "{{ resolution.__class__.__init__.__globals__ }}</h1>")
    with pytest.raises(MailerError, match="template"):
        render_campaign(None, make_resolution(), templates_dir=templates)


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MailerError, match="not found"):
        render_campaign(None, make_resolution(), templates_dir=tmp_path)


def test_placeholders_stay_out_of_the_subject() -> None:
    rendition = render_campaign(None, make_resolution())
    assert rendition.subject == "Solidarity with the struggle of the people"
    assert all(placeholder(f) not in rendition.subject for f in PERSONAL_FIELDS)


def test_empty_name_gets_a_greeting_fallback() -> None:
    _, text = render_campaign(None, make_resolution()).personalise(personal_values("  ", "a@b.c", "https://e/u"))
    assert text.startswith("Dear friend,\n")


@pytest.mark.parametrize(("subject", "message"), [
    ("{{ resolution.titel }}", "titel"),
    ("Hello {{ recipient.name }}", "recipient"),
    ("{% if %}", "subject template"),
    ("   ", "empty"),
    ("Hi {{ '\\x1b' }}]0;owned{{ '\\x07' }}", "control character U\\+001B"),  # from a value: refused, not sent
])
def test_subject_mistakes_name_the_campaign_file(starter: Path, subject: str, message: str) -> None:
    campaign, resolution = load_content(starter / "campaigns" / "peru-solidarity-2023.toml")
    assert campaign is not None
    with pytest.raises(MailerError, match=message) as info:
        render_campaign(dataclasses.replace(campaign, subject=subject), resolution)
    assert info.value.where == str(campaign.path)


def test_campaign_subject_and_preheader_are_used(starter: Path) -> None:
    campaign, resolution = load_content(starter / "campaigns" / "peru-solidarity-2023.toml")
    assert campaign is not None
    rendition = render_campaign(dataclasses.replace(campaign, subject="{{ resolution.kind }}: {{ resolution.title }}"),
                                resolution)
    assert rendition.subject == "ICOR resolution: Solidarity with the struggle of the Peruvian people"
    assert campaign.preheader.split(":")[0] in rendition.html.split('class="sm-pre"')[1][:300]


def test_the_shipped_templates_have_no_css_error(starter: Path) -> None:
    campaign, resolution = load_content(starter / "campaigns" / "peru-solidarity-2023.toml")
    html = render_full(campaign, resolution, TRICKY[0])[0]
    assert inline_css_checked(html)[1] == []  # render_full inlines without checking: check the result again


@pytest.mark.parametrize(("template", "old", "new"), [
    ("base.html.j2", "body{margin:0;padding:0;", "body{margin:0;padding:0;;}}"),
    ("resolution.html.j2", '<h1 class="sm-h1">', '<h1 class="sm-h1" style="letter-spacing:;}}">'),
])
def test_a_css_error_is_refused_naming_its_template_and_line(tmp_path: Path, starter: Path, template: str, old: str,
                                                             new: str) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(starter / "templates", templates)
    page = templates / template
    text = page.read_text(encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 1
    page.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MailerError, match="CSS error") as err:
        render_campaign(None, make_resolution(), templates_dir=templates)
    assert err.value.where == f"{page}:{line}"
