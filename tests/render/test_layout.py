"""The rendered mail in a real headless chromium: fits a 375 px phone, a 600 px column, readable light and dark."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from solidarity_mailer.content.load import load_content
from solidarity_mailer.content.resolution import Demands, Resolution, Signatory
from solidarity_mailer.render.templates import render_campaign
from tests.browser import COLORS_JS, OVERFLOW_JS, contrast, luminance, parse_color
from tests.resolution_factory import SAMPLE_VALUES, make_resolution
from tests.starter import CAMPAIGN

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
LONG_URL = "https://www.example.org/declarations/2024/" + "very-long-path-segment-without-any-break-" * 8 + "end.html"
LONG_WORD = "Arbeiterinnenbildungsvereinigungsgemeinschaftsverbandsvorsitzendenstellvertreterinnen"


def seed() -> Resolution:
    return load_content(CAMPAIGN)[1]


def other() -> Resolution:
    return load_content(REPO / "tests" / "data" / "other-resolution.txt")[1]


def stress() -> Resolution:
    """Everything that widens a layout: a long URL as source and in the text, long unbroken names and words."""
    base = make_resolution()
    return make_resolution(
        source=LONG_URL,
        source_url=LONG_URL,
        title=f"Solidarity {LONG_WORD}",
        paragraphs=(f"Read it at {LONG_URL} today.", base.paragraphs[1], LONG_WORD * 2),
        demands=Demands(1, base.demands.lead, (LONG_WORD, LONG_URL, "你好" * 60), "")  # type: ignore[union-attr]
        if base.demands else None,
        slogans=(LONG_WORD + "!",),
        signatories=(
            *base.signatories,
            Signatory(LONG_WORD.upper(), LONG_WORD * 2, LONG_WORD, LONG_WORD, "de"),
            Signatory("ΕΕΓ", "Ένωση" + "Εργαζόμενων" * 8, None, "Greece", "el"),
            Signatory("IWU", "اتحادیه" * 12, None, "Iran", "fa"),
        ),
    )


def mail_html(resolution: Resolution) -> str:
    return render_campaign(None, resolution).personalise(SAMPLE_VALUES)[0]


def overflow(page: Page, html: str) -> dict[str, object]:
    page.set_content(html, wait_until="load")
    return page.evaluate(OVERFLOW_JS)


@pytest.mark.parametrize("make", [seed, other, stress], ids=["seed", "other", "stress"])
def test_nothing_wider_than_a_375px_phone(page: Page, make) -> None:  # type: ignore[no-untyped-def]
    result = overflow(page, mail_html(make()))
    assert result["vw"] == 375
    assert result["scrollWidth"] <= 375, result
    assert result["right"] <= 375.5, result


def test_the_overflow_check_catches_a_layout_without_wrapping(page: Page) -> None:
    """Without overflow-wrap/word-break on the content cells the long URL widens the page: the check sees it."""
    html = mail_html(stress())
    broken = html.replace("overflow-wrap:anywhere", "overflow-wrap:normal").replace("word-break:break-word", "")
    assert broken != html
    result = overflow(page, broken)
    assert result["scrollWidth"] > 375 or result["right"] > 375.5


@pytest.mark.parametrize("width", [640, 1024])
def test_content_column_is_at_most_600px(browser: Browser, width: int) -> None:
    p = browser.new_page(viewport={"width": width, "height": 800})
    try:
        p.set_content(mail_html(seed()), wait_until="load")
        card = p.eval_on_selector("table.sm-card", "el => el.getBoundingClientRect().width")
        column = p.eval_on_selector(".sm-column", "el => el.getBoundingClientRect().width")
        assert 560 <= card <= 600
        assert column <= 600
        assert p.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        p.close()


READABLE = {
    "body text": ".sm-cell p.sm-p",
    "list items": ".sm-cell li",
    "headings": ".sm-h1, .sm-h2",
    "kind label": ".sm-kind",
    "links": "a.sm-a",
    "secondary text": ".sm-meta, .sm-en, .sm-foot p",
    "slogans": ".sm-slogan",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_in_light_and_dark(page: Page, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.set_content(mail_html(seed()), wait_until="load")
    card = parse_color(page.eval_on_selector("table.sm-card", "el => getComputedStyle(el).backgroundColor"))
    assert (luminance(card) < 0.05) == (scheme == "dark"), "the dark-mode styles did not apply"
    for what, selector in READABLE.items():
        samples = page.evaluate(COLORS_JS, selector)
        assert samples, f"no {what} ({selector})"
        for sample in samples:
            ratio = contrast(sample["fg"], sample["bg"])
            assert ratio >= 4.5, f"{scheme} {what} {sample}: contrast {ratio:.2f} < 4.5"


def test_arabic_names_read_right_to_left(page: Page) -> None:
    page.set_content(mail_html(other()), wait_until="load")
    rtl = page.evaluate("""() => Array.from(document.querySelectorAll('li.sm-sig span[dir]'))
        .filter((s) => /[\\u0600-\\u06FF]/.test(s.textContent))
        .map((s) => [s.getAttribute('dir'), getComputedStyle(s).direction])""")
    assert len(rtl) >= 2
    assert all(pair == ["rtl", "rtl"] for pair in rtl)

