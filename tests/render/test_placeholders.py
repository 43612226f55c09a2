"""Recipient values in templates: misuse is refused with file:line; lang and CSV columns reach both parts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from solidarity_mailer.errors import MailerError
from solidarity_mailer.render.rendition import personal_values
from solidarity_mailer.render.templates import render_campaign, render_full
from tests.resolution_factory import make_resolution
from tests.sendkit import clean_environment, write_project
from tests.smtpserver import smtp_server
from tests.starter import TEMPLATES

MISUSES = [
    ("html", "{{ recipient.name|upper }}"),  # "Dear __SM_NAME__," to everyone
    ("html", "{% if recipient.name %}{{ recipient.name }}{% endif %}"),  # always true
    ("html", "{% if recipient.name == 'Ada' %}Ada{% endif %}"),
    ("html", "{{ recipient.name|length }}"),
    ("html", "{{ recipient.name|trim }}"),
    ("html", "{{ recipient.name|safe }}"),
    ("html", "{{ recipient.name|urlencode }}"),
    ("html", "{{ recipient.name[0] }}"),
    ("html", "<span style=\"font-family:{{ recipient.name }}\">x</span>"),
    ("html", "<!-- {{ recipient.name }} -->"),
    ("txt", "{{ recipient.name|wrap }}"),
    ("txt", "{{ recipient.name|replace('a', 'b') }}"),
    ("txt", "{{ recipient.name|lower }}"),
]


#: The greeting line of the starter templates (line 10 of the HTML one, line 7 of the text one).
GREETING = "{% trans name=recipient.name %}Dear {{ name }},{% endtrans %}"
HTML_LINE, TEXT_LINE = 10, 3


def _templates(tmp_path: Path, starter: Path, part: str, old: str, new: str) -> tuple[Path, Path]:
    templates = tmp_path / "templates"
    shutil.copytree(starter / "templates", templates)
    page = templates / f"resolution.{part}.j2"
    source = page.read_text(encoding="utf-8")
    assert old in source
    page.write_text(source.replace(old, new, 1), encoding="utf-8")
    return templates, page


@pytest.mark.parametrize(("part", "use"), MISUSES, ids=[u for _, u in MISUSES])
def test_a_recipient_value_not_output_plainly_is_refused_with_its_line(
    tmp_path: Path, starter: Path, part: str, use: str
) -> None:
    templates, page = _templates(tmp_path, starter, part, GREETING, f"Dear {use},")
    with pytest.raises(MailerError) as err:
        render_campaign(None, make_resolution(), templates_dir=templates)
    line = HTML_LINE if part == "html" else TEXT_LINE
    assert err.value.where == f"{page}:{line}", str(err.value)


def test_plain_output_passes_and_a_mention_in_a_comment_is_not_blamed(tmp_path: Path, starter: Path) -> None:
    templates, _ = _templates(tmp_path, starter, "txt", GREETING,
                              "{# recipient.name|upper would be wrong #}Dear {{- recipient.name -}} ,")
    rendition = render_campaign(None, make_resolution(), templates_dir=templates)
    assert "Dear__sm_name__," in rendition.text


def test_lang_and_a_csv_column_reach_both_parts_escaped(tmp_path: Path, starter: Path) -> None:
    templates, _ = _templates(tmp_path, starter, "html", GREETING,
                              "Dear {{ recipient.name }} of {{ recipient.fields.org }} ({{ recipient.lang }}),")
    text = templates / "resolution.txt.j2"
    text.write_text(text.read_text(encoding="utf-8").replace(
        GREETING, "Dear {{ recipient.name }} of {{ recipient.fields.org }},"), encoding="utf-8")
    resolution = make_resolution()
    rendition = render_campaign(None, resolution, templates_dir=templates, columns=["Org", "home town"])
    values = personal_values("Ada", "a@b.c", "https://e.org/u", lang="de", fields={"Org": "Tom & <Jerry>"})
    html, plain = rendition.personalise(values)
    assert "Dear Ada of Tom &amp; &lt;Jerry&gt; (de)," in html
    assert "Dear Ada of Tom & <Jerry>," in plain
    assert (html, plain) == render_full(None, resolution, values, templates_dir=templates)


def test_an_unknown_column_fails_naming_it_and_the_known_ones(tmp_path: Path, starter: Path) -> None:
    templates, page = _templates(tmp_path, starter, "html", GREETING,
                                 "Dear {{ recipient.fields.city }},")
    with pytest.raises(MailerError) as err:
        render_campaign(None, make_resolution(), templates_dir=templates, columns=["org"])
    assert err.value.where == f"{page}:{HTML_LINE}"
    assert "recipient.fields.city" in str(err.value) and "'city'" in str(err.value) and "org" in str(err.value)


def _project_with_org_column(root: Path, port: int, column_in_template: str) -> tuple[Path, Path]:
    campaign, config = write_project(root, port, [])
    (root / "recipients" / "list.csv").write_text(
        "email,name,lang,Org\nada@example.org,Ada,de,Tom & <Jerry>\n", encoding="utf-8")
    templates = root / "templates"
    shutil.copytree(TEMPLATES, templates)
    for part in ("html", "txt"):
        page = templates / f"resolution.{part}.j2"
        page.write_text(page.read_text(encoding="utf-8").replace(
            GREETING,
            f"Dear {{{{ recipient.name }}}} of {{{{ recipient.fields.{column_in_template} }}}} "
            "({{ recipient.lang }}),"), encoding="utf-8")
    campaign.write_text(campaign.read_text(encoding="utf-8").replace(str(TEMPLATES), str(templates)),
                        encoding="utf-8")
    return campaign, config


def test_a_csv_column_and_lang_reach_the_sent_html_and_text_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environment(tmp_path, monkeypatch)
    with smtp_server() as (controller, handler):
        campaign, config = _project_with_org_column(tmp_path, controller.port, "org")
        assert main(["send", str(campaign), "--config", str(config)]) == 0
    message = handler.received[0].message
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Dear Ada of Tom &amp; &lt;Jerry&gt; (de)," in html
    assert "Dear Ada of Tom & <Jerry> (de)," in text


def test_an_unknown_column_fails_the_dry_run_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_environment(tmp_path, monkeypatch)
    campaign, config = _project_with_org_column(tmp_path, 1, "city")
    assert main(["send", str(campaign), "--config", str(config), "--dry-run"]) != 0
    err = capsys.readouterr().err.strip()
    assert (f"resolution.html.j2:{HTML_LINE}: the template uses recipient.fields.city, but not every list has a "
            "column 'city'") in err and "org" in err and "Traceback" not in err and len(err.splitlines()) == 1
