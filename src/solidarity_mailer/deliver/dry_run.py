"""Before a real send: a dry run (render, read the lists, count, build one message) and a test copy (``--to``).

Neither touches the run's ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from solidarity_mailer.audience.addresses import normalise_address
from solidarity_mailer.audience.lists import load_list_meta
from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.config import Settings
from solidarity_mailer.deliver.prepare import audience, lists_for, make_factory
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.received_content import RunContent, manual_run_key, received_elsewhere
from solidarity_mailer.ledger.schema import runs
from solidarity_mailer.render.once import render_once
from solidarity_mailer.transports.base import Outcome, Transport, TransportPaused

if TYPE_CHECKING:
    from solidarity_mailer.audience.stream import AudienceStats

TEST_PREFIX = "[TEST] "


@dataclass
class DryRun:
    """What ``send --dry-run`` found: the audience counts, the manual run's state, one built message, and per
    language the subject and the number of valid recipients who would get it."""

    campaign_id: str
    lists: tuple[Path, ...]
    stats: AudienceStats
    run_counts: dict[str, int] | None
    subject: str
    sample_to: str | None
    sample_bytes: int
    already_received: int = 0  # valid recipients who had this content from another run: a send skips them
    subjects: dict[str, str] = field(default_factory=dict)  # language -> subject, the default first
    languages: dict[str, int] = field(default_factory=dict)  # language -> valid recipients who get it
    notes: tuple[str, ...] = ()  # the translations' check (file:line: what)

    @property
    def new(self) -> int:
        """Recipients a real send would add to the run (valid minus those already in the manual run)."""
        already = sum(self.run_counts.values()) if self.run_counts else 0
        return max(self.stats.valid - already, 0)

    @property
    def exit_status(self) -> int:
        """0, or 1 when a list has invalid rows or a translation differs from the original."""
        return 1 if self.stats.invalid or self.notes else 0


@dataclass(frozen=True)
class TestCopies:
    """What the server said to each address of a test copy (``send --to``)."""

    __test__ = False  # not a pytest test class

    outcomes: dict[str, Outcome]

    @property
    def exit_status(self) -> int:
        """0 when every address accepted the copy, else 1."""
        return 0 if all(o.verdict.value == "sent" for o in self.outcomes.values()) else 1


def dry_run(engine: Engine, campaign: Campaign, settings: Settings, lists: Iterable[str | Path] = (), *,
            again: bool = False) -> DryRun:
    """Render, read every list (counting invalid, duplicate, suppressed rows), build the first message; for the
    run ``send`` (``send --again`` with ``again``) would continue or open."""
    from solidarity_mailer.audience.stream import AudienceStats

    chosen = lists_for(campaign, lists)
    rendition = render_once(campaign, chosen)
    digest = rendition.content_digest()
    key = manual_run_key(engine, campaign.id, digest, again=again)
    with engine.connect() as conn:
        run_id = conn.execute(select(runs.c.id).where(runs.c.fire_key == key)).scalar_one_or_none()
    factory = make_factory(campaign, rendition, settings, run_id or 0)
    stats = AudienceStats()
    sample: Recipient | None = None
    keys = []
    languages: Counter[str] = Counter()
    for recipient in audience(engine, chosen, stats):
        sample = sample or recipient
        keys.append(recipient.key)
        languages[factory.variant_language(recipient.lang)] += 1
    size = len(factory.build(sample).data) if sample is not None else 0
    counts = ledger.counts(engine, run_id) if run_id else None
    received = 0 if again else received_elsewhere(engine, RunContent(run_id or 0, campaign.id, digest, False), keys)
    return DryRun(campaign.id, chosen, stats, counts, rendition.subject, sample.email if sample else None, size,
                  received, {v.language: v.subject for v in rendition.variants},
                  {lang: languages[lang] for lang in rendition.languages}, rendition.notes)


def _recipients(addresses: Sequence[str], list_id: str) -> list[Recipient]:
    found = []
    for raw in addresses:
        try:
            a = normalise_address(raw)
        except ValueError as exc:
            raise MailerError(f"--to: {exc}") from None
        found.append(Recipient(email=a.email, key=a.key, ascii_email=a.ascii_email, list_id=list_id))
    return found


def send_test_copy(
    campaign: Campaign, addresses: Sequence[str], settings: Settings, *,
    transport_factory: Callable[[Settings], Transport] | None = None, lists: Iterable[str | Path] = (),
) -> TestCopies:
    """Send ONE message with ``[TEST]`` in the subject to all ``addresses`` in one transaction.

    Returns an outcome per address (a partial refusal is reported, never lost). The ledger is not touched.
    """
    if not addresses:
        raise MailerError("--to needs at least one address")
    chosen = lists_for(campaign, lists)
    rendition = render_once(campaign, chosen).with_subject_prefix(TEST_PREFIX)
    factory = make_factory(campaign, rendition, settings, 0)
    recipients = _recipients(addresses, load_list_meta(chosen[0]).list_id)
    msg = factory.build(recipients[0])
    rcpts = [msg.rcpt] + [r.ascii_email or r.email for r in recipients[1:]]
    if transport_factory is None:
        from solidarity_mailer.transports import make_transport as transport_factory
    transport = transport_factory(settings)
    try:
        return TestCopies(transport.send(msg.mail_from, rcpts, msg.data,
                                         smtputf8=msg.smtputf8 or any(r.needs_smtputf8 for r in recipients)))
    except TransportPaused as exc:
        raise MailerError(f"the SMTP server refused the sender: {exc.reply}",
                          hint="check [smtp] username, the password variable, and the sender address") from None
    finally:
        transport.close()
