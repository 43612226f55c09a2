"""The shipped seed and a second resolution render completely and safely; `solidarity-mailer render` writes them."""

from __future__ import annotations

import email
import subprocess
from email import policy
from pathlib import Path

from lxml import etree

from solidarity_mailer.compose.sample_mail import HTML_WARN_BYTES, build_sample, html_part_size
from solidarity_mailer.content.load import load_content
from solidarity_mailer.content.resolution import Resolution, save_resolution
from solidarity_mailer.render.templates import render_campaign
from tests.processes import cli_command
from tests.resolution_factory import SAMPLE_VALUES, make_resolution
from tests.starter import CAMPAIGN

REPO = Path(__file__).resolve().parents[2]
SEED = CAMPAIGN
OTHER = REPO / "tests" / "data" / "other-resolution.txt"


def _tree(html: str) -> etree._Element:
    return etree.fromstring(html.encode("utf-8"), etree.HTMLParser(encoding="utf-8"))


def _both(path: Path) -> tuple[Resolution, str, str]:
    campaign, resolution = load_content(path)
    html, text = render_campaign(campaign, resolution).personalise(SAMPLE_VALUES)
    return resolution, html, text


def test_seed_has_all_29_signatories_and_6_demands_in_both_parts() -> None:
    resolution, html, text = _both(SEED)
    assert len(resolution.signatories) == 29
    assert resolution.demands is not None and len(resolution.demands.items) == 6
    tree = _tree(html)
    demands = [li.text for li in tree.xpath("//ol/li")]
    assert demands == list(resolution.demands.items)
    sigs = tree.xpath("//ul[contains(@class,'sm-sigs')]/li")
    assert len(sigs) == 29
    for li, sig in zip(sigs, resolution.signatories, strict=True):
        spans = li.xpath("./span[@dir]")
        assert [s.text for s in spans] == [sig.name]  # native name intact, in its own span
        assert (spans[0].get("lang") or None) == sig.lang
        if sig.abbreviation:
            assert li.xpath("./strong/text()") == [sig.abbreviation]
        if sig.name_en:
            assert sig.name_en in "".join(li.xpath("./span[@class='sm-en']/text()"))
    for n, item in enumerate(resolution.demands.items, start=1):
        assert f"\n{n}. {item}\n" in text
    lines = text.splitlines()
    for sig in resolution.signatories:
        assert sum(sig.name in line for line in lines) == 1, sig.name  # one line per signatory
    for native in ("Българска Комунистическа Партия", "Российская маоистская партия",
                   "Türkiye Komünist Partisi Marksist-Leninist", "Parti Communiste Proletarien de Côte d'Ivoire",
                   "Union Prolétarienne Marxiste-Léniniste"):
        assert native in text
        assert native in "".join(tree.xpath("//li/span/text()"))
    assert resolution.source_url in text


def test_seed_html_part_is_well_under_gmail_limits() -> None:
    sample = build_sample(SEED)
    size = html_part_size(sample.eml)
    assert 0 < size < HTML_WARN_BYTES
    styles = _tree(sample.html).xpath("//style")
    assert styles and all(len((s.text or "").encode("utf-8")) < 16 * 1024 for s in styles)


def test_other_resolution_is_escaped_and_directional() -> None:
    resolution, html, text = _both(OTHER)
    tree = _tree(html)
    assert tree.xpath("//script | //alliance | //b") == []
    assert "E&gt;P" in html and "Equality &gt; Profit &lt;Alliance&gt;" in html
    assert "Bread &amp; Roses Collective" in html and "Equal rights, equal pay &amp; no more wars" in html
    assert "border &lt; and beyond &gt; the reach" in html
    assert "Equality > Profit <Alliance>" in text and "B&R: Bread & Roses Collective" in text
    arabic = [s for s in tree.xpath("//li/span[@dir]") if any("\u0600" <= c <= "\u06ff" for c in s.text or "")]
    assert len(arabic) == 2 and all(s.get("dir") == "rtl" for s in arabic)
    for native in ("Ένωση Εργαζόμενων Γυναικών", "नेपाल महिला संघ", "日本女性労働者ユニオン", "中国女工互助会"):
        assert native in text and native in "".join(tree.xpath("//li/span/text()"))
    assert len(tree.xpath("//ol/li")) == len(resolution.demands.items) == 4  # type: ignore[union-attr]


def test_render_command_writes_html_text_and_a_whole_message(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run([*cli_command(), "render", str(SEED), "--out", str(out)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    html = (out / "message.html").read_text(encoding="utf-8")
    text = (out / "message.txt").read_text(encoding="utf-8")
    msg = email.message_from_bytes((out / "message.eml").read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    assert html_part.get_content().replace("\r\n", "\n") == html
    assert text_part.get_content().replace("\r\n", "\n") == text
    assert msg["To"] == "Alex Example <alex@example.org>"
    assert 'href="http://localhost:8080/u/' in html  # the default [web] public_base_url, a signed token
    size = html_part_size((out / "message.eml").read_bytes())
    assert f"HTML part: {size} bytes encoded" in run.stdout


def test_render_command_imports_plain_text_and_warns_when_big(tmp_path: Path) -> None:
    run = subprocess.run([*cli_command(), "render", str(OTHER), "--out", str(tmp_path / "o")], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and "Equal rights" in (tmp_path / "o" / "message.txt").read_text(encoding="utf-8")
    big = make_resolution(paragraphs=tuple(f"Paragraph {i} " + "solidarity " * 120 for i in range(80)), demands=None)
    save_resolution(big, tmp_path / "big.toml")
    run = subprocess.run([*cli_command(), "render", str(tmp_path / "big.toml"), "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert "warning: the HTML part is over 90 KB encoded" in run.stderr


def test_render_command_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("title = 'x'\n", encoding="utf-8")
    run = subprocess.run([*cli_command(), "render", str(bad), "--out", str(tmp_path / "o")], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "missing key 'date'" in run.stderr and "Traceback" not in run.stderr
