"""What the archive holds: only campaigns, and languages of a campaign, with a delivered message (not a failed
one, not a dry run), newest first by first delivery, in the index, the feed and ``serve``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from solidarity_mailer.ledger.schema import connect
from solidarity_mailer.ledger.web_versions import WebVersion, published
from tests.databases import ledger_url
from tests.sendkit import clean_environment, send
from tests.smtpserver import RecordingHandler, smtp_server
from tests.translated import READERS, SUBJECTS, write_translated_project
from tests.web.feed_check import check_feed

REFUSED = [email for email, _, _, language in READERS if language == "ar"]


def _another_campaign(campaign: Path, campaign_id: str) -> Path:
    other = campaign.with_name(f"{campaign_id}.toml")
    other.write_text(campaign.read_text(encoding="utf-8").replace('id = "test"', f'id = "{campaign_id}"'),
                     encoding="utf-8")
    return other


def test_only_what_was_delivered_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)
    handler = RecordingHandler()
    with smtp_server(handler) as (controller, _):
        campaign, config = write_translated_project(tmp_path, controller.port)
        assert send(_another_campaign(campaign, "first"), config) == 0
        for email in REFUSED:  # every Arabic reader of the next campaign is refused: its Arabic page stays out
            handler.rcpt_replies[email] = ["550 5.1.1 no such user"]
        assert send(campaign, config) == 4  # failed recipients
        assert send(_another_campaign(campaign, "third"), config, "--dry-run") == 0  # nothing sent
    engine = connect(ledger_url(tmp_path))
    try:
        found = [(v.campaign_id, v.language) for v in published(engine)]
    finally:
        engine.dispose()
    assert sorted(found[:2]) == [("test", "en"), ("test", "es")]
    assert sorted(found[2:]) == [("first", "ar"), ("first", "en"), ("first", "es")]

    archive = tmp_path / "public"
    assert main(["archive", "build", str(archive), "--config", str(config), "--base-url", "https://example.net/a/",
                 "--title", "ICOR solidarity"]) == 0
    pages = sorted(str(p.relative_to(archive)) for p in archive.rglob("*.html"))
    assert pages == ["index.html", "v/first/ar.html", "v/first/en.html", "v/first/es.html", "v/test/en.html",
                     "v/test/es.html"]
    index = (archive / "index.html").read_text(encoding="utf-8")
    for language in ("en", "es"):  # per language, newest first
        section = index.split(f'<section lang="{language}"')[1].split("</section>")[0]
        assert re.findall(r'href="v/(\w+)/', section) == ["test", "first"]
    assert "<title>ICOR solidarity</title>" in index
    check_feed(archive / "feed.xml", "https://example.net/a", found, SUBJECTS)


def test_the_index_speaks_the_language_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)
    _, config = write_translated_project(tmp_path, 2525)  # nothing sent: an empty archive
    for lang, title, nothing, feed, direction in (
        ("es-PE", "Archivo", "Todavía no se ha enviado nada.", "Canal Atom", "ltr"),
        ("ar", "الأرشيف", "لم يُرسَل شيء بعد.", "موجز Atom", "rtl"),
        ("ja", "Archive", "Nothing was sent yet.", "Atom feed", "ltr"),  # no catalogue: English
    ):
        archive = tmp_path / f"public-{lang}"
        assert main(["archive", "build", str(archive), "--config", str(config), "--lang", lang]) == 0
        index = (archive / "index.html").read_text(encoding="utf-8")
        assert f"<title>{title}</title>" in index and f"<p>{nothing}</p>" in index and f">{feed}</a>" in index
        assert f'dir="{direction}"' in index.split("<head>")[0]


def test_the_index_keeps_its_own_language_beside_sections_in_others() -> None:
    import datetime as dt

    from solidarity_mailer.web.archive import index_page

    sent = dt.datetime(2023, 2, 7, tzinfo=dt.UTC)
    versions = [WebVersion("test", lang, SUBJECTS[lang], "<html></html>", "ICOR", sent, sent, 1)
                for lang in ("en", "es", "ar")]  # the Arabic section last
    index = index_page(versions, "Archive", "en")
    assert '<html lang="en" dir="ltr">' in index.split("<head>")[0]
    assert '<section lang="ar" dir="rtl">' in index and ">Atom feed</a>" in index
    assert "القائمة البريدية" not in index  # the page's own words are not the last section's
