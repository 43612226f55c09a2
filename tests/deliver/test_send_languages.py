"""A campaign in English with a Spanish and an Arabic translation, sent through a real SMTP server to a list of
mixed ``lang`` values: each reader gets their variant (subject, Content-Language, lang and dir, the footer's
words), with the fallbacks (``es-PE`` → ``es``, unknown or empty → English); rendering happens once per language;
``status`` counts per language; a new or changed translation is a new content."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from solidarity_mailer.render import variants
from tests.sendkit import send, status
from tests.translated import READERS, SENT_TO, SUBJECTS, UNSUBSCRIBE, write_translated_project

pytestmark = pytest.mark.usefixtures("environment")  # tests/deliver/conftest.py
HTML_TAG = re.compile(r'<html lang="([^"]+)" dir="([^"]+)">')


def test_each_reader_gets_their_language(tmp_path: Path, server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    renders: list[str] = []
    real = variants.render_campaign
    monkeypatch.setattr(variants, "render_campaign",
                        lambda campaign, *a, **k: renders.append(campaign.language) or real(campaign, *a, **k))
    campaign, config = write_translated_project(tmp_path, controller.port)
    assert send(campaign, config) == 0
    assert sorted(renders) == ["ar", "en", "es"]  # once per language, never per reader (10 readers)

    got = {m.rcpt_tos[0]: m.message for m in handler.received}
    assert sorted(got) == sorted(email for email, *_ in READERS)
    for email, name, _, language in READERS:
        message = got[email]
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert message["Subject"] == SUBJECTS[language], email
        assert message["Content-Language"] == language, email
        assert HTML_TAG.search(html).groups() == (language, "rtl" if language == "ar" else "ltr"), email
        assert UNSUBSCRIBE[language] in html and SENT_TO[language] in html and SENT_TO[language] in text, email
        assert email in text and email in html
        if name:
            assert name in text and name in html
    assert "Estimada/o Ana Quispe:" in got["ana@example.org"].get_body(("plain",)).get_content()
    assert "مرحبًا صديقنا العزيز،" in got["noname.ar@example.org"].get_body(("plain",)).get_content()
    assert "7 de febrero de 2023" in got["pedro@example.org"].get_body(("html",)).get_content()
    assert "Signed by 29 organisations." in got["jens@example.org"].get_body(("html",)).get_content()
    assert "Firmado por 29 organizaciones." in got["ana@example.org"].get_body(("html",)).get_content()
    assert "Parti Communiste Proletarien de Côte d'Ivoire" in got["omar@example.org"].get_body(("plain",)).get_content()

    run = status(capsys, config)["runs"][0]
    assert run["languages"] == {"ar": {"sent": 3}, "en": {"sent": 4}, "es": {"sent": 3}}
    capsys.readouterr()
    assert send(campaign, config) == 0 and len(handler.received) == len(READERS)  # exactly once, as before


def test_status_prints_the_languages(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    from solidarity_mailer.cli import main

    controller, _ = server
    campaign, config = write_translated_project(tmp_path, controller.port)
    assert send(campaign, config) == 0
    capsys.readouterr()
    assert main(["status", "test", "--config", str(config)]) == 0
    assert "  languages: ar 3 (sent 3), en 4 (sent 4), es 3 (sent 3)" in capsys.readouterr().out.splitlines()


def test_status_counts_each_run_in_the_languages_it_was_sent(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, _ = server
    campaign, config = write_translated_project(tmp_path, controller.port)
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text[: text.index("\n[translations.es]")], encoding="utf-8")
    assert send(campaign, config) == 0  # in English to all
    campaign.write_text(text, encoding="utf-8")  # the translations added later: they do not rewrite run 1
    assert send(campaign, config) == 0
    first, second = status(capsys, config)["runs"]
    assert first["languages"] == {"en": {"sent": len(READERS)}}
    assert second["languages"] == {"ar": {"sent": 3}, "en": {"sent": 4}, "es": {"sent": 3}}


def test_a_new_or_changed_translation_is_a_new_content(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    campaign, config = write_translated_project(tmp_path, controller.port)
    text = campaign.read_text(encoding="utf-8")
    english_only = text[: text.index("\n[translations.es]")]
    campaign.write_text(english_only, encoding="utf-8")
    assert send(campaign, config) == 0
    assert {m.message["Content-Language"] for m in handler.received} == {"en"}

    campaign.write_text(text, encoding="utf-8")  # the translations added: another content
    assert send(campaign, config) == 0
    assert len(handler.received) == 2 * len(READERS)
    changed = tmp_path / "es.toml"
    changed.write_text(Path(text.split('resolution = "')[2].split('"')[0]).read_text(encoding="utf-8")
                       .replace("Saludamos", "Saludamos de corazón"), encoding="utf-8")
    campaign.write_text(text.replace(text.split('resolution = "')[2].split('"')[0], str(changed)), encoding="utf-8")
    assert send(campaign, config) == 0  # one translation changed: the run's content changed
    assert len(handler.received) == 3 * len(READERS)
    assert send(campaign, config) == 0 and len(handler.received) == 3 * len(READERS)
    runs = status(capsys, config)["runs"]
    assert len(runs) == 3


def test_dry_run_shows_each_language_and_the_check(tmp_path: Path, server, capsys) -> None:  # type: ignore[no-untyped-def]
    controller, handler = server
    short = tmp_path / "short.es.toml"
    source = (Path(__file__).parents[1] / "data" / "translations" / "peru.es.resolution.toml").read_text("utf-8")
    short.write_text(source.replace('    "El Congreso está bajo el control mayoritario de la derecha, el fascismo y el '
                                    'fujimorismo.",\n', ""), encoding="utf-8")
    campaign, config = write_translated_project(tmp_path, controller.port, es=short)
    assert send(campaign, config, "--dry-run") == 1  # something to look at
    out, err = capsys.readouterr()
    line = next(n for n, text in enumerate(short.read_text("utf-8").splitlines(), 1) if text.startswith("paragraphs"))
    assert f"warning: {short}:{line}: the translation has 8 paragraphs, the original 9" in err
    assert f"  es: 3 recipients, subject {SUBJECTS['es']!r}" in out
    assert f"  ar: 3 recipients, subject {SUBJECTS['ar']!r}" in out and "  en: 4 recipients" in out
    assert handler.received == []
