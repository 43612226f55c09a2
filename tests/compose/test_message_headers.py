"""Message headers: envelope, Message-ID, List-Id, List-Unsubscribe, VERP tag; a Unicode sender."""

from __future__ import annotations

import re
from dataclasses import replace
from email.utils import format_datetime

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.compose.unsubscribe_tokens import verify_token
from solidarity_mailer.compose.verp import TagCheck, Tagged, check, day_number, verp_key
from solidarity_mailer.config import Settings
from solidarity_mailer.render.rendition import Rendition
from tests.compose.message_kit import NOW, RECIPIENTS, SECRET, SETTINGS, display_name, parse


def test_envelope_ids_and_unsubscribe(factory: MessageFactory, seed: tuple[Campaign, Rendition]) -> None:
    ana, utf8 = RECIPIENTS[0], RECIPIENTS[6]
    built = factory.build(ana)
    assert re.fullmatch(r"bounces\+[0-9a-f]{14}-ana=example\.org@example\.org", built.mail_from)
    assert built.rcpt == "ana@example.org"
    # what bounce import reads: a tag signed with the secret for this recipient on this day
    tagged = check(verp_key(SECRET), built.mail_from, "bounces@example.org", day_number(NOW))
    assert tagged == Tagged(TagCheck.VALID, "ana@example.org", 0)
    assert check(verp_key(SECRET), built.mail_from, "bounces@example.org", day_number(NOW) + 31).check \
        is TagCheck.EXPIRED
    assert not built.smtputf8 and factory.build(utf8).smtputf8
    assert factory.build(RECIPIENTS[5]).rcpt == "jo@xn--bcher-kva.example"
    assert re.fullmatch(r"<r7\.[0-9a-f]{16}@example\.org>", built.message_id)
    msg = parse(built.data)
    assert msg["Message-ID"] == built.message_id
    assert msg["Date"] == format_datetime(NOW)
    assert msg["List-Id"] == "<example.example.org>"
    assert msg["Precedence"] == "bulk" and msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.fullmatch(r"<(https://[^>]+)>, <(mailto:[^>]+)>", " ".join(msg["List-Unsubscribe"].split())
                                 ).groups()  # type: ignore[union-attr]
    token = https.rsplit("/", 1)[1]
    assert https == f"https://lists.example.org/u/{token}"
    assert mailto == f"mailto:unsubscribe@example.org?subject=unsubscribe-{token}"
    sub = verify_token(SECRET, token)
    assert sub is not None and (sub.list_id, sub.address) == ("example", "ana@example.org")
    # deterministic per (run, recipient), different across runs and recipients
    campaign, rendition = seed
    again = MessageFactory(campaign, rendition, SETTINGS, SECRET, 7, now=lambda: NOW).build(ana)
    other_run = MessageFactory(campaign, rendition, SETTINGS, SECRET, 8, now=lambda: NOW).build(ana)
    assert again.message_id == built.message_id
    assert other_run.message_id != built.message_id
    assert factory.build(RECIPIENTS[1]).message_id != built.message_id
    assert factory.build(RECIPIENTS[3]).data.count(b"List-Id: <peru-solidarity-2023.example.org>") == 1
    dotted = replace(ana, list_id="supporters.lists.example.org")
    assert parse(factory.build(dotted).data)["List-Id"] == "<supporters.lists.example.org>"
    underscored = replace(ana, list_id="news_letter.example.org")  # valid for lists, so valid here (one rule)
    assert parse(factory.build(underscored).data)["List-Id"] == "<news_letter.example.org>"


def test_unicode_sender_domain_and_name(seed: tuple[Campaign, Rendition]) -> None:
    campaign, rendition = seed
    campaign = replace(campaign, sender='"Комитет солидарности, Берлин" <news@пример.рф>', reply_to=None)
    built = MessageFactory(campaign, rendition, Settings(), SECRET, 1).build(RECIPIENTS[0])
    msg = parse(built.data)
    assert msg["From"].addresses[0].addr_spec == "news@xn--e1afmkfd.xn--p1ai"
    assert display_name(built.data, "From") == "Комитет солидарности, Берлин"
    assert built.mail_from == "news@xn--e1afmkfd.xn--p1ai"  # no bounce address: the From address
    assert "Reply-To" not in parse(built.data)
