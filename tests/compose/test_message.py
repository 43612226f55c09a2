"""Messages: the fast path equals Rendition.personalise and a stdlib EmailMessage; no header injection; DKIM."""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import subprocess
from dataclasses import replace
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import dkim
import pytest

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign, load_campaign
from solidarity_mailer.compose.message import MessageFactory, PreparedMessage
from solidarity_mailer.compose.unsubscribe_tokens import verify_token
from solidarity_mailer.compose.verp import TagCheck, Tagged, check, day_number, verp_key
from solidarity_mailer.config import SenderSettings, Settings, WebSettings, load_settings
from solidarity_mailer.content.load import load_content
from solidarity_mailer.errors import MailerError
from solidarity_mailer.render.rendition import Rendition, personal_values, placeholder
from solidarity_mailer.render.templates import render_campaign
from solidarity_mailer.transports.smtp import SmtpTransport
from tests.starter import CAMPAIGN

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = dt.datetime(2026, 3, 8, 9, 30, 15, tzinfo=dt.UTC)
SETTINGS = Settings(
    sender=SenderSettings(bounce_address="bounces@example.org"),
    web=WebSettings("https://lists.example.org", "unsubscribe@example.org"),
)
RECIPIENTS = [
    Recipient("ana@example.org", "ana@example.org", "Ana María Quispe", ascii_email="ana@example.org",
              list_id="example"),
    Recipient("dmitri@example.org", "dmitri@example.org", "Дмитрий Иванов", ascii_email="dmitri@example.org",
              list_id="example"),
    Recipient("ob@example.org", "ob@example.org", 'O"Brien, Jr. (Dublin)', ascii_email="ob@example.org",
              list_id="example"),
    Recipient("long@example.org", "long@example.org", "Αλληλεγγύη " * 9, ascii_email="long@example.org"),
    Recipient("noname@example.org", "noname@example.org", "", ascii_email="noname@example.org", list_id="other"),
    Recipient("jo@bücher.example", "jo@bücher.example", "Jo", ascii_email="jo@xn--bcher-kva.example"),
    Recipient("用户@例子.广告", "用户@例子.广告", "用户", ascii_email=None, list_id="example"),
    Recipient("x@example.org", "x@example.org", "عمال العالم، اتحدوا", ascii_email="x@example.org"),
]


@pytest.fixture(scope="module")
def seed() -> tuple[Campaign, Rendition]:
    campaign = load_campaign(CAMPAIGN)
    _, resolution = load_content(campaign.resolution_path)
    return campaign, render_campaign(campaign, resolution, templates_dir=campaign.templates_dir)


@pytest.fixture
def factory(seed: tuple[Campaign, Rendition]) -> MessageFactory:
    campaign, rendition = seed
    return MessageFactory(campaign, rendition, SETTINGS, SECRET, 7, now=lambda: NOW)


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def display_name(data: bytes, header: str) -> str:
    """The display name as RFC 2047 decodes it (whitespace between adjacent encoded-words dropped).

    Read from the raw header: CPython's address parser keeps that whitespace, splitting words even in
    its own output, so its ``display_name`` is not the reference here.
    """
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8").replace("\n ", " ")
    raw = next(line.split(": ", 1)[1] for line in head.split("\n") if line.startswith(f"{header}: "))
    phrase = raw.rsplit("<", 1)[0].strip() if "<" in raw else ""
    if "=?" in phrase:
        return str(make_header(decode_header(phrase)))
    return message_from_bytes(data, policy=policy.default)[header].addresses[0].display_name  # type: ignore[no-any-return]


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


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
    return parse(ref.as_bytes())


@pytest.mark.parametrize("recipient", RECIPIENTS, ids=lambda r: r.email)
def test_same_as_personalise_and_stdlib(seed: tuple[Campaign, Rendition], factory: MessageFactory,
                                        recipient: Recipient) -> None:
    campaign, rendition = seed
    built = factory.build(recipient)
    ours = parse(built.data)
    url = factory.unsubscribe_url(recipient)
    html, text = rendition.personalise(personal_values(recipient.name, recipient.email, url))
    assert url in html and url.replace("&", "&amp;") in html
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


def test_unicode_sender_domain_and_name(seed: tuple[Campaign, Rendition]) -> None:
    campaign, rendition = seed
    campaign = replace(campaign, sender='"Комитет солидарности, Берлин" <news@пример.рф>', reply_to=None)
    built = MessageFactory(campaign, rendition, Settings(), SECRET, 1).build(RECIPIENTS[0])
    msg = parse(built.data)
    assert msg["From"].addresses[0].addr_spec == "news@xn--e1afmkfd.xn--p1ai"
    assert display_name(built.data, "From") == "Комитет солидарности, Берлин"
    assert built.mail_from == "news@xn--e1afmkfd.xn--p1ai"  # no bounce address: the From address
    assert "Reply-To" not in parse(built.data)


def test_mostly_non_ascii_text_goes_base64_and_round_trips(seed: tuple[Campaign, Rendition]) -> None:
    campaign, _ = seed
    name, url = placeholder("name"), placeholder("unsubscribe_url")
    text = f"Дорогой {name},\n" + "Солидарность с народом Перу! " * 300 + f"\nОтписаться: {url}\n"
    html = f"<p>Дорогой {name},</p><p>" + "Солидарность с народом Перу! " * 300 + f'</p><a href="{url}">x</a>'
    rendition = Rendition("Солидарность", html, text)
    f = MessageFactory(campaign, rendition, SETTINGS, SECRET, 3)
    recipient = replace(RECIPIENTS[1], name="Дмитрий <Иванов> & Co")
    built = f.build(recipient)
    msg = parse(built.data)
    assert {p["Content-Transfer-Encoding"] for p in msg.iter_parts()} == {"base64"}
    h, t = rendition.personalise(personal_values(recipient.name, recipient.email, f.unsubscribe_url(recipient)))
    assert lf(msg.get_body(("plain",)).get_content()) == lf(t)  # type: ignore[union-attr]
    assert lf(msg.get_body(("html",)).get_content()) == lf(h)  # type: ignore[union-attr]
    assert msg["Subject"] == "Солидарность"


def test_quoted_printable_joins_are_exact_for_random_templates(seed: tuple[Campaign, Rendition]) -> None:
    campaign, _ = seed
    rng = random.Random(20230207)
    alphabet = "ab c=\t.é€ \n-_<>&\"'" + "x" * 20
    tokens = [placeholder("name"), placeholder("email"), placeholder("unsubscribe_url")]
    for _ in range(150):
        pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 160))) for _ in range(4)]
        template = "".join(p + rng.choice(tokens) for p in pieces[:-1]) + pieces[-1]
        rendition = Rendition("s", template, template)
        f = MessageFactory(campaign, rendition, SETTINGS, SECRET, 1)
        name = "".join(rng.choice("Zé = ") for _ in range(rng.randrange(0, 90)))
        recipient = replace(RECIPIENTS[0], name=name)
        built = f.build(recipient)
        msg = parse(built.data)
        if msg.get_body(("plain",))["Content-Transfer-Encoding"] != "quoted-printable":  # type: ignore[index]
            continue
        h, t = rendition.personalise(personal_values(name, recipient.email, f.unsubscribe_url(recipient)))
        assert lf(msg.get_body(("plain",)).get_content()) == lf(t.replace("\r", "\n"))  # type: ignore[union-attr]
        assert lf(msg.get_body(("html",)).get_content()) == lf(h.replace("\r", "\n"))  # type: ignore[union-attr]
        body = built.data.split(b"\r\n\r\n", 1)[1]
        assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_line_breaks_in_field_values_leave_only_crlf(seed: tuple[Campaign, Rendition]) -> None:
    """Field values may hold line breaks (a quoted CSV cell); the built message still ends every line CRLF,
    so the SMTP transport may skip its scan for bare CR/LF (``crlf_only``)."""
    campaign, _ = seed
    note = placeholder("field_note")
    for template in (f"Dear friend,\n{note}\n.{note}", f"Ура {note}" + "Ж" * 200):  # quoted-printable, base64
        f = MessageFactory(campaign, Rendition("s", template, template), SETTINGS, SECRET, 1)
        for value in ("a\nb", "a\rb", "a\r\nb", "\n.\n", "\r", ".\n.\r\n."):
            built = f.build(replace(RECIPIENTS[0], fields={"note": value}))
            assert built.data.count(b"\r") == built.data.count(b"\n") == built.data.count(b"\r\n"), value
            decoded = parse(built.data).get_body(("plain",)).get_payload(decode=True)  # type: ignore[union-attr]
            assert decoded.count(b"\r") == decoded.count(b"\n") == decoded.count(b"\r\n"), value  # base64 too
            text = parse(built.data).get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "\n".join(value.splitlines()) in text.replace("\r\n", "\n"), value  # the words kept


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                            capture_output=True).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_dkim_signature_verifies_after_smtp(seed: tuple[Campaign, Rendition], dkim_key: tuple[Path, bytes],
                                            smtpd) -> None:  # type: ignore[no-untyped-def]
    key, record = dkim_key
    config = key.parent / "solidarity-mailer.toml"
    config.write_text(f'[dkim]\nselector = "s2026"\ndomain = "example.org"\nprivate_key_file = "{key.name}"\n')
    settings = load_settings(config, environ={})
    campaign, rendition = seed
    built = MessageFactory(campaign, rendition, settings, SECRET, 1).build(RECIPIENTS[1])
    lookups: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        lookups.append(name)
        return record

    assert built.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(built.data, dnsfunc=dns)
    assert lookups == [b"s2026._domainkey.example.org."]
    controller, handler = smtpd
    transport = SmtpTransport(controller.hostname, controller.port, timeout=5)
    transport.send(built.mail_from, [built.rcpt], built.data)
    transport.close()
    assert dkim.verify(handler.received[0].data, dnsfunc=dns)
    tampered = built.data.replace(b"Subject: ICOR", b"Subject: FAKE")
    assert tampered != built.data and not dkim.verify(tampered, dnsfunc=dns)
