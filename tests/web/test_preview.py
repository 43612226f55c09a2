"""`solidarity-mailer preview`: a real server process on 127.0.0.1, its page in a real chromium, live reload."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from solidarity_mailer.compose.sample_mail import build_sample
from solidarity_mailer.web.preview import force_scheme, view_of_eml
from tests.browser import chromium, luminance, parse_color
from tests.processes import cli_command, served
from tests.smtpserver import free_port
from tests.starter import STARTER

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN = Path("campaigns/peru-solidarity-2023.toml")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's templates and campaigns, free to edit, with an outbox holding one message."""
    root = tmp_path / "project"
    shutil.copytree(STARTER / "templates", root / "templates")
    shutil.copytree(STARTER / "campaigns", root / "campaigns")
    outbox = root / "outbox"
    outbox.mkdir()
    other = build_sample(REPO / "tests" / "data" / "other-resolution.txt")
    (outbox / "0001-ada@example.org.eml").write_bytes(other.eml)
    return root


@contextmanager
def preview_server(project: Path, *extra: str) -> Iterator[str]:
    """Run `solidarity-mailer preview` in PROJECT on a free port until the block ends."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(["preview", str(CAMPAIGN), "--port", str(port), *extra], f"{base}/version", cwd=project):
        yield base


def test_force_scheme_switches_the_dark_block() -> None:
    html = '<meta name="color-scheme" content="light dark"><style>@media (prefers-color-scheme: dark){a{b:c}}</style>'
    assert "@media all{" in force_scheme(html, "dark") and 'content="dark"' in force_scheme(html, "dark")
    assert "@media not all{" in force_scheme(html, "light") and 'content="light"' in force_scheme(html, "light")
    assert force_scheme(html, "") == html


def test_view_of_eml_reads_both_alternatives() -> None:
    sample = build_sample(STARTER / CAMPAIGN)
    view = view_of_eml(sample.eml)
    assert view.html == sample.html and view.text == sample.text
    assert ("Subject", sample.rendition.subject) in view.headers


def test_server_serves_page_parts_and_outbox(project: Path) -> None:
    with preview_server(project) as base:
        page = httpx.get(base + "/")
        assert page.status_code == 200 and 'id="phone"' in page.text and 'id="desktop"' in page.text
        version = httpx.get(base + "/version").json()
        assert version["error"] is None and version["file"] == str(CAMPAIGN)
        html = httpx.get(base + "/preview/html")
        assert "script-src" not in html.headers["content-security-policy"]
        assert "default-src 'none'" in html.headers["content-security-policy"]
        assert "Dear Alex Example," in html.text and "Българска Комунистическа Партия" in html.text
        assert "@media all{" in httpx.get(base + "/preview/html?scheme=dark").text
        text = httpx.get(base + "/preview/text").text
        assert text.startswith("Dear Alex Example,\n") and "6. the immediate release" in text
        headers = dict(httpx.get(base + "/preview/headers").json())
        assert headers["Subject"] == "ICOR resolution: Solidarity with the struggle of the Peruvian people"
        assert "multipart/alternative" in headers["Content-Type"]
        assert "Content-Type: text/html" in httpx.get(base + "/preview/source").text
        listing = httpx.get(base + "/outbox").json()
        assert [row["name"] for row in listing] == ["0001-ada@example.org.eml"]
        assert "Equal rights, equal pay & no more wars" in listing[0]["subject"]
        out_html = httpx.get(base + "/outbox/0001-ada@example.org.eml/html")
        assert out_html.status_code == 200 and "Ένωση Εργαζόμενων Γυναικών" in out_html.text
        assert httpx.get(base + "/outbox/..%2Fcampaigns%2Fx.eml/html").status_code == 404
        assert httpx.get(base + "/outbox/nope.eml/text").status_code == 404
        assert httpx.get(base + "/preview/nope").status_code == 404
        assert httpx.get(base + "/version", headers={"Host": "attacker.example"}).status_code == 400


def test_server_listens_on_loopback_only(project: Path) -> None:
    with preview_server(project) as base:
        port = int(base.rsplit(":", 1)[1])
        listening = {c.laddr.ip for c in psutil.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
    assert listening == {"127.0.0.1"}


def test_preview_reports_a_busy_port_and_a_missing_file(project: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run([*cli_command(), "preview", str(CAMPAIGN), "--port", str(port)], cwd=project,
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and f"port {port}" in run.stderr
    run = subprocess.run([*cli_command(), "preview", "missing.toml"], cwd=project, capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 2 and "missing.toml: file not found" in run.stderr


@pytest.mark.browser
def test_page_shows_both_widths_switches_dark_and_reloads_on_change(project: Path) -> None:
    with preview_server(project) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        page.wait_for_function("document.body.dataset.loaded")
        page.wait_for_function("document.getElementById('text').textContent.startsWith('Dear Alex Example')")
        assert "Subject" in page.inner_text("#headers")
        assert "multipart/alternative" in page.inner_text("#source")

        def wait_frames(needle: str) -> None:
            """Both frames have loaded a URL containing ``needle``."""
            page.wait_for_function(
                """(needle) => ['phone', 'desktop'].every((id) => {
                     const d = document.getElementById(id).contentDocument;
                     return d && d.URL.includes(needle) && d.readyState === 'complete'; })""", arg=needle)

        def frame_body(frame_id: str, expression: str) -> object:
            handle = page.query_selector(f"#{frame_id}")
            assert handle is not None
            frame = handle.content_frame()
            assert frame is not None
            frame.wait_for_load_state()
            return frame.evaluate(expression)

        wait_frames("scheme=light")
        widths = frame_body("phone", "[document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        assert widths == [375, 375]
        assert frame_body("desktop", "document.querySelector('table.sm-card').getBoundingClientRect().width") == 600

        bg = "getComputedStyle(document.querySelector('table.sm-card')).backgroundColor"
        assert luminance(parse_color(str(frame_body("phone", bg)))) > 0.9
        page.click("#theme-dark")
        wait_frames("scheme=dark")
        assert luminance(parse_color(str(frame_body("phone", bg)))) < 0.05
        assert luminance(parse_color(str(frame_body("desktop", bg)))) < 0.05
        page.click("#theme-light")
        wait_frames("scheme=light")
        assert luminance(parse_color(str(frame_body("phone", bg)))) > 0.9

        template = project / "templates" / "resolution.txt.j2"
        template.write_text(template.read_text(encoding="utf-8").replace("Dear ", "Dear comrade ", 1),
                            encoding="utf-8")
        page.wait_for_function("document.getElementById('text').textContent.startsWith('Dear comrade Alex')",
                               timeout=10_000)

        page.click("button[data-name='0001-ada@example.org.eml']")
        page.wait_for_function("document.getElementById('text').textContent.includes('Equal rights, equal pay')")
        assert "outbox: 0001-ada@example.org.eml" in page.inner_text("#showing")
        wait_frames("/outbox/0001-ada")
        assert "Ένωση Εργαζόμενων Γυναικών" in str(frame_body("phone", "document.body.textContent"))
        page.close()
