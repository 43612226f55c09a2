"""The Arabic variant of a translated campaign in a real headless chromium at 375 px: right to left, right-aligned,
nothing wider than the phone on either side; the screenshots are kept beside the test's files."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.render.once import render_once
from solidarity_mailer.render.rendition import personal_values
from tests.browser import OVERFLOW_JS
from tests.translated import write_translated_project

pytestmark = pytest.mark.browser

#: The leftmost edge of any visible element, and where each paragraph's text sits in its box.
RTL_JS = """() => {
  let left = Infinity;
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    left = Math.min(left, r.left);
  }
  const lines = Array.from(document.querySelectorAll("p.sm-p, h1, li.sm-li")).map((el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const text = range.getClientRects()[0], box = el.getBoundingClientRect();
    return {tag: el.tagName, direction: getComputedStyle(el).direction, gapRight: box.right - text.right,
            gapLeft: text.left - box.left,
            marker: el.tagName === "LI" ? getComputedStyle(el.parentElement).paddingRight : ""};
  });
  return {left, lines, html: [document.documentElement.lang, document.documentElement.dir]};
}"""


def test_the_arabic_variant_reads_right_to_left_without_overflow(tmp_path: Path, page: Page) -> None:
    campaign, _ = write_translated_project(tmp_path, 2525)
    arabic = render_once(find_campaign(str(campaign))).choose("ar-EG")
    html, _ = arabic.personalise(personal_values("أميرة", "amira@example.org", "https://lists.example.org/u/x",
                                                 lang="ar"))
    page.set_content(html, wait_until="load")
    widths = page.evaluate(OVERFLOW_JS)
    assert widths["vw"] == 375 and widths["scrollWidth"] <= 375 and widths["right"] <= 375.5, widths
    found = page.evaluate(RTL_JS)
    assert found["html"] == ["ar", "rtl"] and found["left"] >= -0.5, found["left"]
    assert found["lines"] and all(line["direction"] == "rtl" for line in found["lines"])
    short = [line for line in found["lines"] if line["gapLeft"] > 40]  # lines shorter than the column
    assert short and all(line["gapRight"] < 1 for line in short), short  # …sit against its right edge
    assert {line["marker"] for line in found["lines"] if line["tag"] == "LI"} == {"22px"}  # numbers on the right
    for name, full in (("top", False), ("whole", True)):
        page.screenshot(path=str(tmp_path / f"arabic-375-{name}.png"), full_page=full)
    assert (tmp_path / "arabic-375-whole.png").stat().st_size > 10_000
