"""The mail for a sample recipient: what `render` writes and `preview` shows (HTML, text and a whole .eml), in
each of the campaign's languages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import hashlib
from dataclasses import dataclass
from email import policy
from email.message import Message
from pathlib import Path

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.config import load_settings
from solidarity_mailer.content.load import load_content
from solidarity_mailer.content.resolution import Resolution
from solidarity_mailer.paths import templates_dir as default_templates_dir
from solidarity_mailer.render.once import common_columns
from solidarity_mailer.render.rendition import FIELD_PREFIX, Renditions, personal_values
from solidarity_mailer.render.variants import render_variants

SAMPLE_RECIPIENT = Recipient(email="alex@example.org", key="alex@example.org", name="Alex Example",
                             ascii_email="alex@example.org", list_id="sample")
#: Signs the sample's unsubscribe link and Message-ID only; real sends use the configured secret.
SAMPLE_SECRET = b"sample-only-secret: not used for sending"
DEFAULT_SENDER = "Solidarity Mailer <noreply@example.org>"
#: Gmail clips a message whose HTML is larger than about 102 KB; warn well before.
HTML_WARN_BYTES = 90 * 1024


@dataclass(frozen=True)
class SampleMail:
    """The sample recipient's mail in one language."""

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


@dataclass(frozen=True)
class Sample:
    """A rendered campaign and its mail for the sample recipient, per language (the default first)."""

    campaign: Campaign | None
    resolution: Resolution
    rendition: Renditions
    templates: Path
    mails: dict[str, SampleMail]

    @property
    def default(self) -> SampleMail:
        """The mail in the campaign's own language."""
        return self.mails[self.rendition.default.language]

    @property
    def html(self) -> str:
        return self.default.html

    @property
    def text(self) -> str:
        return self.default.text

    @property
    def eml(self) -> bytes:
        return self.default.eml

    @property
    def message(self) -> Message:
        """The default mail's .eml parsed back."""
        return self.default.message

    def html_part_size(self) -> int:
        """Bytes of the default mail's HTML part as it travels."""
        return self.default.html_part_size()


def html_part_size(eml: bytes) -> int:
    """Encoded size of the first text/html part of a message."""
    for part in email.message_from_bytes(eml, policy=policy.default).walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload()
            assert isinstance(payload, str)
            return len(payload.encode("ascii", "surrogateescape"))
    return 0


def sample_messages(
    campaign: Campaign | None, path: Path, renditions: Renditions, now: dt.datetime
) -> dict[str, SampleMail]:
    """The sample recipient's mail in each language, built by :class:`MessageFactory` exactly as a real send
    would (settings from ``./solidarity-mailer.toml`` when present), with a sample-only signing secret."""
    settings = load_settings()
    if campaign is None:  # a bare resolution: a campaign of its own, named after the file
        campaign = Campaign(id="sample", path=path.resolve(), subject=renditions.subject,
                            sender=settings.sender.from_ or DEFAULT_SENDER, resolution_path=path.resolve(), lists=())
    factory = MessageFactory(campaign, renditions, settings, SAMPLE_SECRET, run_id=0, now=lambda: now)
    mails = {}
    for rendition in renditions.variants:
        columns = sorted(f[len(FIELD_PREFIX):] for f in rendition.fields_used() if f.startswith(FIELD_PREFIX))
        recipient = dataclasses.replace(SAMPLE_RECIPIENT, fields={c: f"[{c}]" for c in columns},
                                        lang=rendition.language)
        html, text = rendition.with_web_url(factory.web_url(rendition.language)).personalise(
            personal_values(recipient.name, recipient.email, factory.unsubscribe_url(recipient),
                            lang=rendition.language, fields=recipient.fields)
        )
        mails[rendition.language] = SampleMail(html, text, factory.build(recipient).data)
    return mails


def build_sample(path: Path, *, templates_dir: Path | None = None, now: dt.datetime | None = None) -> Sample:
    """Load FILE (campaign, resolution or plain text), render once per language, build the sample recipient's
    message in each."""
    campaign, resolution = load_content(path)
    templates = templates_dir or (campaign.templates_dir if campaign else None) or default_templates_dir()
    lists = [p for p in campaign.lists if p.is_file()] if campaign else []
    renditions = render_variants(campaign, resolution, templates_dir=templates, columns=common_columns(lists))
    mails = sample_messages(campaign, path, renditions, now or dt.datetime.now(dt.UTC))
    return Sample(campaign, resolution, renditions, templates, mails)


def watched_files(path: Path, campaign: Campaign | None, templates: Path) -> list[Path]:
    """The files whose change should re-render a preview: FILE, its resolution and translations, every template."""
    files = [path]
    if campaign is not None:
        files.append(campaign.resolution_path)
        files.extend(t.resolution_path for t in campaign.translations)
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
