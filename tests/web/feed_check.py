"""Parse an archive's Atom feed (RFC 4287) and check what the RFC requires of it, and its entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from xml.etree import ElementTree as ET

NS = {"a": "http://www.w3.org/2005/Atom"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _one(parent: ET.Element, tag: str) -> ET.Element:
    found = parent.findall(f"a:{tag}", NS)
    assert len(found) == 1, f"{parent.tag} has {len(found)} <{tag}>"
    return found[0]


def _date(element: ET.Element) -> dt.datetime:
    value = dt.datetime.fromisoformat(element.text or "")
    assert value.tzinfo is not None, element.text  # RFC 3339: with its offset
    return value


def check_feed(path: Path, base: str, expected: list[tuple[str, str]], subjects: Mapping[str, str]) -> None:
    """The feed at ``path``: a valid Atom feed whose entries are ``expected`` (campaign, language), any order,
    newest first, each linking to ``{base}/v/{campaign}/{language}.html``, titled ``subjects[language]``."""
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert _one(root, "id").text and _one(root, "title").text
    _date(_one(root, "updated"))
    assert _one(_one(root, "author"), "name").text  # a feed-level author covers every entry
    assert {link.get("rel") for link in root.findall("a:link", NS)} == {"self", "alternate"}
    seen, times = [], []
    for entry in root.findall("a:entry", NS):
        url = _one(entry, "id").text or ""
        assert _one(entry, "title").text == subjects[entry.get(XML_LANG, "")]
        times.append(_date(_one(entry, "updated")))
        link = _one(entry, "link")
        assert link.get("rel") == "alternate" and link.get("href") == url
        assert url.startswith(f"{base}/v/") and url.endswith(".html")
        campaign, language = url.removeprefix(f"{base}/v/").removesuffix(".html").split("/")
        assert language == entry.get(XML_LANG) == link.get("hreflang")
        seen.append((campaign, language))
    assert sorted(seen) == sorted(expected) and len(set(seen)) == len(seen)
    assert times == sorted(times, reverse=True)
