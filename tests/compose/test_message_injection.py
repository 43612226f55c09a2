"""No header injection: from a recipient's name, list id or address, or from the campaign's own headers."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.errors import MailerError
from solidarity_mailer.render.rendition import Rendition
from tests.compose.message_kit import RECIPIENTS, SECRET, SETTINGS, display_name, parse

INJECTIONS = ["Eve\r\nBcc: victim@example.net", "Eve\nBcc: victim@example.net", "Eve\rBcc: x", "Eve\0",
              "Eve\u2028Bcc: x", "Eve\x85Bcc: x", "=?utf-8?q?Eve=0D=0ABcc:_victim@example.net?=",
              "Eve <evil@example.net>, Bcc: victim@example.net", '"\\"\r\n'.strip()]


@pytest.mark.parametrize("name", INJECTIONS)
def test_name_never_adds_a_header(factory: MessageFactory, name: str) -> None:
    expected = set(parse(factory.build(RECIPIENTS[0]).data).keys())
    recipient = replace(RECIPIENTS[0], name=name)
    try:
        built = factory.build(recipient)
    except MailerError as exc:
        assert re.search(r"[\r\n\0]", name) and "line break or NUL" in exc.line()
        return
    msg = parse(built.data)
    assert set(msg.keys()) == expected and msg.defects == []
    assert [a.addr_spec for a in msg["To"].addresses] == ["ana@example.org"]
    assert display_name(built.data, "To") == " ".join(name.split())


def test_list_id_and_address_injection_fail_the_recipient(factory: MessageFactory) -> None:
    with pytest.raises(MailerError, match="list id"):
        factory.build(replace(RECIPIENTS[0], list_id="example\r\nBcc: x@example.net"))
    with pytest.raises(MailerError, match="recipient address"):
        factory.build(replace(RECIPIENTS[0], email="a@example.org\nBcc: x", ascii_email=None))
    with pytest.raises(MailerError, match="not a usable address"):
        factory.build(replace(RECIPIENTS[0], email="a b@example.org", ascii_email="a b@example.org"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subject": "Peru\r\nBcc: victim@example.net"}, "Subject must not contain a line break"),
        ({"sender": "News <news@example.org>\r\nBcc: victim@example.net"}, "From must not contain a line break"),
        ({"reply_to": "a@example.org\nBcc: x"}, "Reply-To must not contain a line break"),
        ({"sender": "Committee, Berlin <news@example.org>"}, "From must be one address"),
        ({"sender": "Ко <почта@example.org>"}, "must have an ASCII local part"),
    ],
)
def test_campaign_header_injection_refused_before_sending(seed: tuple[Campaign, Rendition],
                                                          change: dict[str, str], message: str) -> None:
    campaign, rendition = seed
    if "subject" in change:
        rendition = Rendition(change["subject"], rendition.html, rendition.text)
    else:
        campaign = replace(campaign, **change)
    with pytest.raises(MailerError, match=re.escape(message)) as info:
        MessageFactory(campaign, rendition, SETTINGS, SECRET, 1)
    assert info.value.where == str(campaign.path)
