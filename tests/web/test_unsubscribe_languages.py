"""The unsubscribe pages of a real `serve` process speak the language of the token's recipient (their ``lang`` in
the ledger, after a real send of a translated campaign): Spanish, Arabic right to left, German even though the
campaign had no German translation, English for a reader without a language."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from solidarity_mailer.compose.unsubscribe_tokens import make_token
from solidarity_mailer.ledger.schema import deliveries
from tests.databases import ledger_url
from tests.sendkit import clean_environment, send
from tests.smtpserver import smtp_server
from tests.translated import write_translated_project
from tests.webserver import web_server

PAGES = {  # address: (lang, dir, the confirmation page's title, the page after the button)
    "ana@example.org": ("es", "ltr", "¿Cancelar la suscripción?", "Has cancelado la suscripción"),
    "pedro@example.org": ("es", "ltr", "¿Cancelar la suscripción?", "Has cancelado la suscripción"),
    "amira@example.org": ("ar", "rtl", "إلغاء الاشتراك؟", "تم إلغاء اشتراكك"),
    "jens@example.org": ("de", "ltr", "Abbestellen?", "Sie sind abgemeldet"),
    "nolang@example.org": ("en", "ltr", "Unsubscribe?", "You are unsubscribed"),
}


def test_the_pages_speak_the_recipients_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)
    with smtp_server() as (controller, _):
        campaign, config = write_translated_project(tmp_path, controller.port)
        assert send(campaign, config) == 0
    engine = create_engine(ledger_url(tmp_path))
    with engine.connect() as conn:
        list_ids = dict(conn.execute(select(deliveries.c.address, deliveries.c.list_id)).all())
    engine.dispose()
    with web_server(tmp_path / "ledger.db", cwd=tmp_path) as server, \
            httpx.Client(base_url=server.base_url, timeout=10) as client:
        for address, (lang, direction, title, done) in PAGES.items():
            token = make_token(server.secret, list_ids[address], address)
            page = client.get(f"/u/{token}")
            assert page.status_code == 200
            assert f'<html lang="{lang}" dir="{direction}">' in page.text, address
            assert f"<h1>{title}</h1>" in page.text, address
            action = re.search(r'<form method="post" action="([^"]+)"', page.text)
            assert action is not None
            confirmed = client.post(f"/u/{action.group(1)}", data={"List-Unsubscribe": "One-Click"})
            assert confirmed.status_code == 200 and f"<h1>{done}</h1>" in confirmed.text, address
            assert f'lang="{lang}"' in client.get(f"/u/{token}").text  # already unsubscribed: still theirs
