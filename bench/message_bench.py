"""Benchmark: per-recipient message cost, MessageFactory.build vs an EmailMessage build + as_bytes() per recipient.

Run: ``python bench/message_bench.py [--recipients 2000] [--repeat 3]``

Both paths start from the same Rendition (the shipped seed campaign, rendered once) and produce a complete
multipart/alternative message with the same headers (From, To, Reply-To, Subject, Date, Message-ID,
List-Id, List-Unsubscribe(-Post), Precedence, Auto-Submitted) for the same recipients. The stdlib path is
what a straightforward implementation does per recipient: personalise, build an ``EmailMessage``,
``set_content`` + ``add_alternative``, ``as_bytes()``. Measured for the seed's HTML and for the seed padded
to about 25 KB of HTML, with and without DKIM (dkimpy, RSA-2048; the signature is per recipient because
the body is). Prints microseconds per message and the ratio; best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign, load_campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.compose.unsubscribe_tokens import make_token
from solidarity_mailer.config import DkimSettings, SenderSettings, Settings, WebSettings
from solidarity_mailer.content.load import load_content
from solidarity_mailer.paths import starter_project
from solidarity_mailer.render.rendition import Rendition, personal_values
from solidarity_mailer.render.templates import render_campaign

REPO = Path(__file__).resolve().parents[1]
SECRET = b"bench-secret-0123456789abcdef"
NAMES = ("Ana Quispe", "Jens Müller", "Ayşe Yılmaz", "Ольга Петрова", "Ελένη Παπαδοπούλου", "Alice Smith", "李华")
SETTINGS = Settings(sender=SenderSettings(bounce_address="bounces@example.org"),
                    web=WebSettings("https://lists.example.org", "unsubscribe@example.org"))


def recipients(n: int) -> list[Recipient]:
    return [Recipient(f"user{i}@example.org", f"user{i}@example.org", NAMES[i % len(NAMES)],
                      ascii_email=f"user{i}@example.org", list_id="example") for i in range(n)]


def stdlib_builder(campaign: Campaign, rendition: Rendition) -> Callable[[Recipient], bytes]:
    """The slow reference: a whole EmailMessage per recipient."""
    now = dt.datetime.now(dt.UTC)

    def build(r: Recipient) -> bytes:
        token = make_token(SECRET, r.list_id, r.key)
        url = f"https://lists.example.org/u/{token}"
        html, text = rendition.personalise(personal_values(r.name, r.email, url))
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = campaign.sender
        if campaign.reply_to:
            msg["Reply-To"] = campaign.reply_to
        msg["To"] = Address(display_name=r.name, addr_spec=r.email)
        msg["Subject"] = rendition.subject
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = f"<r1.{token[-16:]}@example.org>"
        msg["List-Id"] = "<example.example.org>"
        msg["List-Unsubscribe"] = f"<{url}>, <mailto:unsubscribe@example.org?subject=unsubscribe-{token}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Precedence"] = "bulk"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg.as_bytes()

    return build


def per_message_us(build: Callable[[Recipient], object], people: list[Recipient], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for r in people:
            build(r)
        best = min(best, time.perf_counter() - start)
    return best / len(people) * 1e6


def padded(rendition: Rendition, target: int) -> Rendition:
    """The seed with its longest paragraph (one without placeholders) repeated until the HTML is ``target`` bytes."""
    html = rendition.html
    paragraphs = [m.group(0) for m in re.finditer(r"<p\b.*?</p>", html, re.S) if "__sm_" not in m.group(0)]
    paragraph = max(paragraphs, key=len)
    end = html.index(paragraph) + len(paragraph)
    extra = paragraph * ((target - len(html.encode())) // len(paragraph.encode()) + 1)
    return Rendition(rendition.subject, html[:end] + extra + html[end:], rendition.text, rendition.language)


def dkim_settings(folder: Path) -> Settings:
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    return replace(SETTINGS, dkim=DkimSettings("bench", "example.org", key, key.read_bytes()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    campaign = load_campaign(starter_project() / "campaigns" / "peru-solidarity-2023.toml")
    _, resolution = load_content(campaign.resolution_path)
    seed = render_campaign(campaign, resolution, templates_dir=campaign.templates_dir)
    people = recipients(args.recipients)
    print(f"{args.recipients} recipients, best of {args.repeat}; python {sys.version.split()[0]}")
    print(f"{'rendition':<22}{'html KB':>8}{'ours µs':>10}{'stdlib µs':>11}{'ratio':>8}{'msg KB':>8}")
    for label, rendition in (("seed", seed), ("seed padded to 25 KB", padded(seed, 25 * 1024))):
        factory = MessageFactory(campaign, rendition, SETTINGS, SECRET, 1)
        ours = per_message_us(factory.build, people, args.repeat)
        slow = per_message_us(stdlib_builder(campaign, rendition), people, args.repeat)
        size = len(factory.build(people[0]).data) / 1024
        print(f"{label:<22}{len(rendition.html.encode()) / 1024:>8.1f}{ours:>10.0f}{slow:>11.0f}"
              f"{slow / ours:>7.1f}x{size:>8.1f}")
    with tempfile.TemporaryDirectory() as folder:
        signing = MessageFactory(campaign, seed, dkim_settings(Path(folder)), SECRET, 1)
        few = people[: max(50, args.recipients // 20)]
        signed = per_message_us(signing.build, few, 1)
    print(f"with DKIM (RSA-2048, dkimpy), seed: {signed:.0f} µs per message ({len(few)} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
