"""End to end (issue 15, "must show"): the seed resolution in English with the tests' Spanish and Arabic
translations, sent through a real SMTP server to readers of mixed ``lang`` (es, es-PE, ar, en, empty, unknown):
each gets their subject, Content-Language, ``<html lang dir>``, footer and one "View in browser" link per
language; the Arabic mail reads right to left at 375 px in chromium without overflow; a real ``serve`` answers
the links with pages holding nothing of a reader; ``archive build`` writes an index, one page per language and an
Atom feed, checked in chromium at 375 and 1,280 px and parsed."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from solidarity_mailer.cli import main
from tests.browser import OVERFLOW_JS, chromium
from tests.sendkit import clean_environment, send
from tests.smtpserver import smtp_server
from tests.translated import READERS, SENT_TO, SUBJECTS, UNSUBSCRIBE, write_translated_project
from tests.web.feed_check import check_feed
from tests.webserver import web_server

pytestmark = pytest.mark.browser
HTML_TAG = re.compile(r'<html lang="([^"]+)" dir="([^"]+)">')
WEB_LINK = re.compile(r'<a class="sm-a" href="([^"]+)"[^>]*>([^<]+)</a>')
TOKEN = re.compile(r"/u/([^>]+)>")
BASE = "https://lists.example.org"
DIRECTION = {"en": "ltr", "es": "ltr", "ar": "rtl"}
VIEW = {"en": "View in browser", "es": "Ver en el navegador", "ar": "العرض في المتصفح"}


def check_mail(message: EmailMessage, email: str, name: str, language: str) -> str:
    """The reader's variant, footer and link; returns the web link."""
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"] == SUBJECTS[language] and message["Content-Language"] == language, email
    assert HTML_TAG.search(html).groups() == (language, DIRECTION[language]), email  # type: ignore[union-attr]
    assert UNSUBSCRIBE[language] in html and SENT_TO[language] in html and SENT_TO[language] in text, email
    link, label = WEB_LINK.search(html).groups()  # type: ignore[union-attr]  # the first link: View in browser
    assert label == VIEW[language] and link == f"{BASE}/v/test/{language}.html", email
    assert link in text and (not name or name not in link) and email not in link
    return link


def private_values(messages: dict[str, EmailMessage]) -> list[str]:
    """What no public page may hold: every reader's address, name and unsubscribe token."""
    values = []
    for email, name, *_ in READERS:
        values += [email, TOKEN.search(messages[email]["List-Unsubscribe"]).group(1)]  # type: ignore[union-attr]
        values += [name] if len(name) > 1 else []
    return values


def check_arabic_mail(browser: Browser, html: str, shots: Path) -> None:
    """The Arabic mail at 375 px: right to left, right-aligned, nothing wider than the phone."""
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.set_content(html, wait_until="load")
    widths = page.evaluate(OVERFLOW_JS)
    assert widths["scrollWidth"] <= widths["vw"] == 375 and widths["right"] <= 375.5, widths
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).direction") == "rtl"
    assert page.evaluate("getComputedStyle(document.querySelector('p.sm-p')).textAlign") in ("right", "start")
    page.screenshot(path=str(shots / "mail-ar-375.png"), full_page=True)
    page.close()


def check_served_pages(database: Path, cwd: Path, private: list[str]) -> dict[str, str]:
    """A real ``serve`` answers each language's link; the pages hold nothing of a reader."""
    served = {}
    with web_server(database, cwd=cwd) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        for language in ("en", "es", "ar"):
            answer = client.get(f"/v/test/{language}.html")
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
            assert "script-src" not in answer.headers["content-security-policy"]
            assert answer.headers["cache-control"] == "public, max-age=300" and "pragma" not in answer.headers
            assert HTML_TAG.search(answer.text).groups() == (language, DIRECTION[language])  # type: ignore[union-attr]
            assert SUBJECTS[language] in answer.text and UNSUBSCRIBE[language] not in answer.text
            leaked = [value for value in private if value in answer.text]
            assert not leaked, (language, leaked)
            served[language] = answer.text
        assert client.get("/v/test/de.html").status_code == 404  # no German variant was delivered
        assert client.get("/v/other/en.html").status_code == 404
    return served


def check_archive_in_chromium(browser: Browser, folder: Path, shots: Path) -> None:
    """Every archive page at 375 and 1,280 px: no horizontal overflow; the Arabic one right to left."""
    for width in (375, 1280):
        page = browser.new_page(viewport={"width": width, "height": 800})
        for name in ("index.html", "v/test/en.html", "v/test/es.html", "v/test/ar.html"):
            page.goto((folder / name).as_uri(), wait_until="load")
            widths = page.evaluate(OVERFLOW_JS)
            assert widths["scrollWidth"] <= widths["vw"] and widths["right"] <= width + 0.5, (name, width, widths)
            if name.endswith("ar.html"):
                assert page.evaluate("getComputedStyle(document.querySelector('h1')).direction") == "rtl"
            if name != "index.html":  # readable: the text column neither squeezed nor as wide as a desktop
                column = page.evaluate("document.querySelector('h1').getBoundingClientRect().width")
                assert 300 <= column <= 600, (name, width, column)
            page.screenshot(path=str(shots / f"archive-{name.replace('/', '-')}-{width}.png"), full_page=True)
        page.close()


def test_translated_campaign_from_send_to_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)
    with smtp_server() as (controller, handler):
        campaign, config = write_translated_project(tmp_path, controller.port)
        assert send(campaign, config) == 0
    messages = {m.rcpt_tos[0]: m.message for m in handler.received}
    assert sorted(messages) == sorted(email for email, *_ in READERS)
    links: dict[str, set[str]] = {}
    for email, name, _, language in READERS:
        links.setdefault(language, set()).add(check_mail(messages[email], email, name, language))
    assert all(len(found) == 1 for found in links.values()), links  # one URL per language, the same for all
    private = private_values(messages)
    served = check_served_pages(tmp_path / "ledger.db", tmp_path, private)

    archive = tmp_path / "public"
    assert main(["archive", "build", str(archive), "--config", str(config)]) == 0
    for language, html in served.items():  # the archive's pages are the served ones
        assert (archive / "v" / "test" / f"{language}.html").read_text(encoding="utf-8") == html
    index = (archive / "index.html").read_text(encoding="utf-8")
    assert all(f'href="v/test/{language}.html"' in index for language in ("en", "es", "ar"))
    assert sorted(m.group(1) for m in re.finditer(r'<section lang="([^"]+)"', index)) == ["ar", "en", "es"]
    check_feed(archive / "feed.xml", BASE, [("test", lang) for lang in ("ar", "en", "es")], SUBJECTS)
    for path in archive.rglob("*"):
        if path.is_file():
            content = path.read_text(encoding="utf-8")
            assert not [value for value in private if value in content], path
    with chromium() as browser:
        arabic = messages["amira@example.org"]
        check_arabic_mail(browser, arabic.get_body(("html",)).get_content(), tmp_path)  # type: ignore[union-attr]
        check_archive_in_chromium(browser, archive, tmp_path)
