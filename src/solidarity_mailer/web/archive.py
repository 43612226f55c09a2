"""The public archive of sent campaigns: the web versions the ledger publishes (``ledger/web_versions.py``).

``serve`` answers each message's "View in browser" link, ``/v/{campaign}/{lang}.html``, from the ledger
(:func:`web_version_routes`); :func:`build_archive` writes the same pages as static files for any web host,
with ``index.html`` (the campaigns per language, newest first by first delivery) and an Atom feed
``feed.xml`` (RFC 4287). Hosted at ``[web] public_base_url``, the static archive answers the mails' links too.
Only campaigns and languages with a delivered message appear; nothing in them is a reader's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape
from pathlib import Path
from xml.etree import ElementTree as ET

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from solidarity_mailer.errors import MailerError
from solidarity_mailer.i18n import catalogue_language, long_date, translations
from solidarity_mailer.languages import direction
from solidarity_mailer.ledger.web_versions import WebVersion, published, web_version
from solidarity_mailer.render.rendition import web_path
from solidarity_mailer.web import pages

ATOM = "http://www.w3.org/2005/Atom"
#: A web version is the mail's own HTML: its inline styles, https images; nothing runs, nothing else loads.
WEB_VERSION_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; "
                   "base-uri 'none'; form-action 'none'")
WEB_VERSION_HEADERS = {"Content-Security-Policy": WEB_VERSION_CSP, "Cache-Control": "public, max-age=300",
                       "X-Robots-Tag": "all"}


def web_version_routes(engine: Engine) -> list[Route]:
    """``GET /v/{campaign}/{lang}.html``: the campaign's web version in ``lang``, or the 404 page."""

    async def show(request: Request) -> Response:
        campaign, lang = request.path_params["campaign"], request.path_params["lang"]
        found = await run_in_threadpool(web_version, engine, campaign, lang)
        if found is None:
            missing = pages.error_page("Page not found", "There is no sent campaign at this address.")
            return HTMLResponse(missing, status_code=404)
        return HTMLResponse(found.html, headers=WEB_VERSION_HEADERS)

    return [Route("/v/{campaign}/{lang}.html", show, methods=["GET", "HEAD"])]


def _language_name(lang: str) -> str:
    """The language's own name (``español``), else its tag."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(lang, sep="-").display_name or lang
    except (ValueError, UnknownLocaleError):
        return lang


def archive_title(lang: str) -> str:
    """The archive's default title, in ``lang``."""
    return translations(catalogue_language(lang)).gettext("Archive")


def index_page(versions: list[WebVersion], title: str, lang: str = "en") -> str:
    """``index.html``: one section per language (the one sent most recently first), its campaigns newest first;
    the page's own words in ``lang``."""
    t = translations(catalogue_language(lang))
    by_language: dict[str, list[WebVersion]] = {}
    for version in versions:  # already newest first
        by_language.setdefault(version.language, []).append(version)
    sections = []
    for section, items in by_language.items():  # not ``lang``: the page's own language stays
        entries = "".join(
            f'<li><a href="{escape(web_path(v.campaign_id, section))}">{escape(v.subject)}</a><br>'
            f'<time class="note" datetime="{v.first_sent.isoformat()}">'
            f"{escape(long_date(v.first_sent.date(), section))}</time></li>" for v in items)
        sections.append(f'<section lang="{escape(section)}" dir="{direction(section)}"><h2>'
                        f'{escape(_language_name(section))}</h2><ul class="archive">{entries}</ul></section>')
    nothing, feed_link = t.gettext("Nothing was sent yet."), t.gettext("Atom feed")  # (not in f-strings: Babel)
    body = "".join(sections) or f"<p>{escape(nothing)}</p>"
    feed = '<link rel="alternate" type="application/atom+xml" href="feed.xml" title="Atom">'
    link = f'<p class="note"><a href="feed.xml">{escape(feed_link)}</a></p>'
    return pages.page(title, body + link, lang=lang, head=feed, robots="all")


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = value
    return element


def atom_feed(versions: list[WebVersion], title: str, base_url: str, now: dt.datetime) -> bytes:
    """``feed.xml``: an Atom feed of the web versions, newest first; absolute links below ``base_url``."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", f"{base_url}/feed.xml")
    _text(feed, "title", title)
    _text(feed, "updated", (versions[0].first_sent if versions else now).isoformat())
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", next((v.sender for v in versions if v.sender), title))
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{base_url}/feed.xml"})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "href": f"{base_url}/index.html"})
    for version in versions:
        url = f"{base_url}/{web_path(version.campaign_id, version.language)}"
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry", {"{http://www.w3.org/XML/1998/namespace}lang":
                                                          version.language})
        _text(entry, "id", url)
        _text(entry, "title", version.subject)
        _text(entry, "published", version.first_sent.isoformat())
        _text(entry, "updated", version.first_sent.isoformat())
        if version.sender:
            _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", version.sender)
        ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": url,
                                                 "hreflang": version.language})
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def build_archive(engine: Engine, folder: Path, *, base_url: str, title: str | None = None, lang: str = "en",
                  now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> list[WebVersion]:
    """Write the archive into ``folder``: each web version, ``index.html`` and ``feed.xml``; returns what it
    wrote, newest first. ``lang``: the index page's own words (``title`` by default: "Archive" in it)."""
    title = title or archive_title(lang)
    versions = published(engine)
    files = {web_path(v.campaign_id, v.language): v.html.encode("utf-8") for v in versions}
    files["index.html"] = index_page(versions, title, lang).encode("utf-8")
    files["feed.xml"] = atom_feed(versions, title, base_url.rstrip("/"), now())
    for name, data in files.items():
        path = folder / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise MailerError(f"cannot write the archive: {exc.strerror}", where=exc.filename or path,
                              hint="choose a folder you may write to") from None
    return versions
