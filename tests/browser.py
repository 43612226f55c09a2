"""Debian's chromium driven by Playwright (no browser download), and WCAG contrast arithmetic."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium for the duration of the block."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def parse_color(css: str) -> tuple[float, float, float, float]:
    """``rgb(…)`` / ``rgba(…)`` as computed by the browser → (r, g, b, alpha)."""
    match = re.fullmatch(r"rgba?\(([^)]*)\)", css.strip())
    if not match:
        raise ValueError(f"unexpected colour {css!r}")
    parts = [float(p) for p in re.split(r"[,\s/]+", match.group(1).strip()) if p]
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0


def luminance(rgb: tuple[float, float, float, float]) -> float:
    """WCAG 2.x relative luminance."""

    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two opaque computed colours."""
    a, b = luminance(parse_color(fg)), luminance(parse_color(bg))
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


#: Every visible element's right edge, and the document's scroll width (run in the page).
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  let worst = {right: 0, tag: ""};
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > worst.right) worst = {right: r.right, tag: el.tagName + "." + el.className};
  }
  return {vw, scrollWidth: document.documentElement.scrollWidth, right: worst.right, tag: worst.tag};
}"""

#: Text colour and effective background (first opaque ancestor) of the elements a selector matches.
COLORS_JS = """(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  let bg = "rgba(0, 0, 0, 0)", node = el;
  while (node && node.nodeType === 1) {
    const c = getComputedStyle(node).backgroundColor;
    if (!/rgba\\(.*,\\s*0\\)$/.test(c) && c !== "transparent") { bg = c; break; }
    node = node.parentElement;
  }
  if (bg === "rgba(0, 0, 0, 0)") bg = "rgb(255, 255, 255)";
  return {fg: getComputedStyle(el).color, bg, text: el.textContent.slice(0, 40)};
})"""
