"""Body encodings: base64 for mostly non-ASCII text, exact quoted-printable joins, CRLF-only line breaks."""

from __future__ import annotations

import html
import random
from dataclasses import replace

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.compose.mime_parts import _qp, _qp_value, normalise
from solidarity_mailer.render.rendition import Rendition, personal_values, placeholder
from tests.compose.message_kit import RECIPIENTS, SECRET, SETTINGS, lf, parse


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


def test_the_plain_value_shortcut_is_exactly_the_codec() -> None:
    """Short printable ASCII values skip the quoted-printable codec (``mime_parts._qp_value``): byte for byte the
    same as encoding them, whatever the value (non-ASCII, right-to-left, long, ``=``, dots, spaces, breaks)."""
    rng = random.Random(20261206)
    values = ["", ".", "..", ". ", " .", "a ", " a", "a\t", "=", "a=b", "Reader 7", "r0007@example.org",
              "Zoë", "مريم العربي", "שרה לוי", "x" * 72, "x" * 73, "x" * 71 + " ", "x" * 200, "a\nb", "\r",
              "O'Brien & <Sons> \"Ltd\"", "\x7f", "\x00", "tab\there", "https://example.org/u/1.abc.def"]
    alphabet = "ab .=\t\r\né€مש<>&\"'~" + "x" * 10
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 100))) for _ in range(2000)]
    for value in values:
        for escape in (str, html.escape):
            assert _qp_value(escape(value)) == _qp(normalise(escape(value))), value
