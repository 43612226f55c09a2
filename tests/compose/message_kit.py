"""What the message tests share: the secret, the clock, the settings, recipients in many scripts, and
readers for a built message.
"""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.config import SenderSettings, Settings, WebSettings

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
