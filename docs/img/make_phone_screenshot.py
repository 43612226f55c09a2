"""Regenerate docs/img/phone.png: the shipped campaign as a recipient's phone shows it (375 px wide).

    .venv/bin/python docs/img/make_phone_screenshot.py [--screens 2] [--scale 1]

Builds the sample recipient's message with the project's own code (``compose/sample_mail.py``, what
``solidarity-mailer render`` writes: the campaign rendered once, then personalised), takes the HTML part
out of the .eml as a mail client would, loads it into Debian's headless chromium (``/usr/bin/chromium``,
driven by Playwright, as tests/browser.py does) at 375 px and saves the first screens as a PNG.
Not run by the tests: run it after changing the templates or the shipped campaign, and look at the picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from solidarity_mailer.compose.sample_mail import build_sample

ROOT = Path(__file__).resolve().parents[2]
#: The shipped campaign: in the checkout's project folder, or in the package's starter project.
CAMPAIGNS = [ROOT / "campaigns", ROOT / "src" / "solidarity_mailer" / "starter" / "campaigns"]
CAMPAIGN_FILE = "peru-solidarity-2023.toml"
OUT = ROOT / "docs" / "img" / "phone.png"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WIDTH, SCREEN = 375, 667  # an iPhone SE/8-sized viewport, the width the project's layout tests use


def shipped_campaign() -> Path:
    """The shipped campaign file, wherever this checkout keeps it."""
    for folder in CAMPAIGNS:
        if (folder / CAMPAIGN_FILE).is_file():
            return folder / CAMPAIGN_FILE
    raise SystemExit(f"{CAMPAIGN_FILE} not found in " + ", ".join(str(f) for f in CAMPAIGNS) + "; use --campaign")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=float, default=2.0, help="how many screens tall (default 2)")
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (default 1: smallest file)")
    parser.add_argument("--campaign", type=Path, help="a campaign file (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    sample = build_sample(args.campaign or shipped_campaign())
    part = sample.message.get_body(preferencelist=("html",))  # the HTML part as the recipient's client decodes it
    assert part is not None, "the sample message has no text/html part"
    html = part.get_content()
    height = round(SCREEN * args.screens)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": SCREEN}, device_scale_factor=args.scale,
                                    color_scheme="light")
            page.route("**/*", lambda route: route.abort())  # the mail needs nothing from the network
            page.set_content(html, wait_until="load")
            page.screenshot(path=str(args.out), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
        finally:
            browser.close()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {WIDTH}x{height} CSS px at scale {args.scale})")


if __name__ == "__main__":
    main()
