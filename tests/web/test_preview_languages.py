"""`solidarity-mailer preview` of a campaign with translations: the language switch, over HTTP and in chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.browser import chromium
from tests.processes import served
from tests.smtpserver import free_port
from tests.starter import STARTER
from tests.translated import SUBJECTS, translations_table

CAMPAIGN = Path("campaigns/peru-solidarity-2023.toml")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The starter campaign with the tests' Spanish and Arabic translations of its resolution."""
    root = tmp_path / "project"
    shutil.copytree(STARTER / "templates", root / "templates")
    shutil.copytree(STARTER / "campaigns", root / "campaigns")
    path = root / CAMPAIGN
    path.write_text(path.read_text(encoding="utf-8") + translations_table(), encoding="utf-8")
    return root


@pytest.mark.browser
def test_each_language_is_served_and_the_page_switches_between_them(project: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(["preview", str(CAMPAIGN), "--port", str(port)], f"{base}/version", cwd=project):
        assert httpx.get(base + "/version").json()["languages"] == ["en", "es", "ar"]
        assert '<html lang="ar" dir="rtl">' in httpx.get(base + "/preview/html?lang=ar").text
        assert dict(httpx.get(base + "/preview/headers?lang=es").json())["Subject"] == SUBJECTS["es"]
        assert httpx.get(base + "/preview/text?lang=xx").text.startswith("Dear Alex Example,")  # the default
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            page.wait_for_function("document.body.dataset.loaded")
            shown = page.eval_on_selector_all("#languages button", "bs => bs.map((b) => b.textContent)")
            assert shown == ["en", "es", "ar"]
            page.click("#languages button[data-lang=ar]")
            page.wait_for_function("document.getElementById('text').textContent.startsWith('مرحبًا Alex Example')")
            page.wait_for_function("""() => { const d = document.getElementById('phone').contentDocument;
                return d && d.URL.includes('lang=ar') && d.readyState === 'complete'; }""")
            phone = page.frame_locator("#phone")
            assert phone.locator("html").get_attribute("dir") == "rtl"
            assert page.get_attribute("#languages button[data-lang=ar]", "aria-pressed") == "true"
            assert SUBJECTS["ar"] in page.inner_text("#headers")
