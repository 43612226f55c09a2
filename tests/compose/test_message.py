"""Messages: the fast path equals Rendition.personalise and a stdlib EmailMessage, in 7 bits, in short lines."""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory, PreparedMessage
from solidarity_mailer.render.rendition import Rendition, personal_values
from tests.compose.message_kit import NOW, RECIPIENTS, display_name, lf, parse


def reference(campaign: Campaign, rendition: Rendition, r: Recipient, built: PreparedMessage,
              url: str, list_header: str, unsubscribe: str) -> EmailMessage:
    """The same message the slow stdlib way."""
    html, text = rendition.personalise(personal_values(r.name, r.email, url))
    ref = EmailMessage(policy=policy.SMTPUTF8 if built.smtputf8 else policy.SMTP)
    ref["From"] = campaign.sender
    if campaign.reply_to:
        ref["Reply-To"] = campaign.reply_to
    if built.smtputf8:  # the stdlib refuses an Address object with a non-ASCII local part
        ref["To"] = f"{r.name} <{built.rcpt}>"
    else:
        ref["To"] = Address(display_name=" ".join(r.name.split()), addr_spec=built.rcpt)
    ref["Subject"] = rendition.subject
    ref["Date"] = format_datetime(NOW)
    ref["Message-ID"] = built.message_id
    ref["List-Id"] = list_header
    ref["List-Unsubscribe"] = unsubscribe
    ref["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    ref["Precedence"] = "bulk"
    ref["Auto-Submitted"] = "auto-generated"
    ref.set_content(text)
    ref.add_alternative(html, subtype="html")
    ref["Content-Language"] = rendition.language  # (set_content clears the Content-* headers)
    return parse(ref.as_bytes())


@pytest.mark.parametrize("recipient", RECIPIENTS, ids=lambda r: r.email)
def test_same_as_personalise_and_stdlib(seed: tuple[Campaign, Rendition], factory: MessageFactory,
                                        recipient: Recipient) -> None:
    campaign, rendition = seed
    built = factory.build(recipient)
    ours = parse(built.data)
    url = factory.unsubscribe_url(recipient)
    rendition = rendition.with_web_url(factory.web_url(rendition.language))  # once per variant, by the factory
    html, text = rendition.personalise(personal_values(recipient.name, recipient.email, url))
    assert url in html and url.replace("&", "&amp;") in html
    assert f'href="https://lists.example.org/v/{campaign.id}/en.html"' in html
    assert lf(ours.get_body(("plain",)).get_content()) == lf(text)  # type: ignore[union-attr]
    assert lf(ours.get_body(("html",)).get_content()) == lf(html)  # type: ignore[union-attr]
    ref = reference(campaign, rendition, recipient, built, url, ours["List-Id"], ours["List-Unsubscribe"])
    assert set(ours.keys()) == set(ref.keys())
    for name in ("From", "Reply-To", "To"):
        assert [a.addr_spec for a in ours[name].addresses] == [a.addr_spec for a in ref[name].addresses], name
    assert display_name(built.data, "To") == " ".join(recipient.name.split())
    assert display_name(built.data, "From") == display_name(ref.as_bytes(), "From")
    for name in ref:
        if name not in ("From", "Reply-To", "To", "Content-Type"):
            assert " ".join(str(ours[name]).split()) == " ".join(str(ref[name]).split()), name
    assert ours.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in ours.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in ours.iter_parts())


@pytest.mark.parametrize("recipient", RECIPIENTS, ids=lambda r: r.email)
def test_seven_bit_and_line_lengths(factory: MessageFactory, recipient: Recipient) -> None:
    built = factory.build(recipient)
    head, body = built.data.split(b"\r\n\r\n", 1)
    assert body.isascii()
    assert head.isascii() is not built.smtputf8
    assert b"\n" not in built.data.replace(b"\r\n", b"")  # no bare LF or CR
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
