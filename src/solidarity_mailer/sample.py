"""The mail for a sample recipient: what `render` writes and `preview` shows (HTML, text and a whole .eml)."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid
from pathlib import Path

from .campaign import Campaign
from .content import load_content
from .paths import templates_dir as default_templates_dir
from .render import personal_values, render_campaign
from .rendition import Rendition
from .resolution import Resolution

SAMPLE_VALUES = personal_values(
    "Alex Example", "alex@example.org", "https://example.org/unsubscribe?list=sample&token=SAMPLE-TOKEN"
)
DEFAULT_SENDER = "Solidarity Mailer <noreply@example.org>"
#: Gmail clips a message whose HTML is larger than about 102 KB; warn well before.
HTML_WARN_BYTES = 90 * 1024


@dataclass(frozen=True)
class Sample:
    """A rendered campaign and its mail for the sample recipient."""

    campaign: Campaign | None
    resolution: Resolution
    rendition: Rendition
    templates: Path
    html: str
    text: str
    eml: bytes

    @property
    def message(self) -> Message:
        """The .eml parsed back (headers and parts as a mail client sees them)."""
        return email.message_from_bytes(self.eml, policy=policy.default)

    def html_part_size(self) -> int:
        """Bytes of the HTML part's body as it travels (after its Content-Transfer-Encoding)."""
        return html_part_size(self.eml)


def html_part_size(eml: bytes) -> int:
    """Encoded size of the first text/html part of a message."""
    for part in email.message_from_bytes(eml, policy=policy.default).walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload()
            assert isinstance(payload, str)
            return len(payload.encode("ascii", "surrogateescape"))
    return 0


def build_eml(campaign: Campaign | None, rendition: Rendition, html: str, text: str, now: dt.datetime) -> bytes:
    """A complete multipart/alternative message for the sample recipient."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = campaign.sender if campaign else DEFAULT_SENDER
    msg["To"] = f"{SAMPLE_VALUES['name']} <{SAMPLE_VALUES['email']}>"
    if campaign and campaign.reply_to:
        msg["Reply-To"] = campaign.reply_to
    msg["Subject"] = rendition.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring="sample", domain="example.org")
    msg["List-Unsubscribe"] = f"<{SAMPLE_VALUES['unsubscribe_url']}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def build_sample(path: Path, *, templates_dir: Path | None = None, now: dt.datetime | None = None) -> Sample:
    """Load FILE (campaign, resolution or plain text), render once, personalise for the sample recipient."""
    campaign, resolution = load_content(path)
    templates = templates_dir or (campaign.templates_dir if campaign else None) or default_templates_dir()
    rendition = render_campaign(campaign, resolution, templates_dir=templates)
    html, text = rendition.personalise(SAMPLE_VALUES)
    eml = build_eml(campaign, rendition, html, text, now or dt.datetime.now(dt.UTC))
    return Sample(campaign, resolution, rendition, templates, html, text, eml)


def watched_files(path: Path, campaign: Campaign | None, templates: Path) -> list[Path]:
    """The files whose change should re-render a preview: FILE, its resolution, and every template."""
    files = [path]
    if campaign is not None:
        files.append(campaign.resolution_path)
    if templates.is_dir():
        files.extend(sorted(p for p in templates.rglob("*") if p.is_file()))
    return files


def fingerprint(files: list[Path]) -> str:
    """A short hash of the files' names, sizes and modification times (missing files count too)."""
    digest = hashlib.sha256()
    for file in files:
        try:
            st = file.stat()
            digest.update(f"{file}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{file}\0missing\n".encode())
    return digest.hexdigest()[:16]
