"""The wire form a message is built with (dot-stuffed piece by piece, ``compose/mime_parts.py``) is exactly what the
SMTP transport's own scan makes of its bytes (``transports/smtp_wire.wire_body``), for every kind of recipient and
template: non-ASCII and right-to-left names, long lines, dots at the start of lines in the template and in values,
quoted-printable and base64 parts."""

from __future__ import annotations

import random
from dataclasses import replace

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.render.rendition import Rendition, placeholder
from solidarity_mailer.transports.smtp_wire import wire_body
from tests.compose.message_kit import RECIPIENTS, SECRET, SETTINGS

NAME, EMAIL, URL, NOTE = (placeholder(n) for n in ("name", "email", "unsubscribe_url", "field_note"))


def test_the_seed_campaigns_wire_form_is_the_transports(factory: MessageFactory) -> None:
    for recipient in RECIPIENTS:
        for note in ("", ".", ".hidden", "a\n.b", "..\r\n.", "x" * 300):
            built = factory.build(replace(recipient, fields={"note": note}))
            assert built.wire == wire_body(built.data), (recipient.name, note)


def test_random_templates_with_dots_at_line_starts(seed: tuple[Campaign, Rendition]) -> None:
    campaign, _ = seed
    rng = random.Random(20261206)
    alphabet = "ab .\n.\r\n.=é€مש<>&" + "x" * 12
    tokens = [NAME, EMAIL, URL, NOTE]
    names = [".Dot", "..", "عمال العالم، اتحدوا", "שרה לוי", "Zoë = ", "x" * 150, ". .", ""]
    for _ in range(200):
        pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 200))) for _ in range(5)]
        template = "".join(p + rng.choice(tokens) for p in pieces[:-1]) + pieces[-1]
        if rng.random() < 0.2:
            template = "Ж" * 300 + template  # mostly non-ASCII: base64
        f = MessageFactory(campaign, Rendition(".s", template, template), SETTINGS, SECRET, 1)
        for recipient in rng.sample(RECIPIENTS, 3):
            note = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120)))
            built = f.build(replace(recipient, name=rng.choice(names), fields={"note": note}))
            assert built.wire == wire_body(built.data), template
