"""Everything a run needs before its first message: campaign, content rendered ONCE (in a child process, see
``render/once.py``), message factory, audience.

Every user mistake (campaign, resolution, template, list, secret) surfaces here as a :class:`MailerError`,
before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.campaign import Campaign, load_campaign
from solidarity_mailer.config import Settings
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.held_rows import schedule_zone
from solidarity_mailer.ledger.queries import Run, campaign_path
from solidarity_mailer.paths import project_root
from solidarity_mailer.render.once import render_apart
from solidarity_mailer.render.rendition import Renditions

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # imported when used: preparing a run loads no more than it needs
    from solidarity_mailer.audience.stream import AudienceStats
    from solidarity_mailer.compose.message import MessageFactory


def find_campaign(name: str, *, root: Path | None = None) -> Campaign:
    """A campaign by id (``campaigns/ID.toml`` of the project) or by the path of its file."""
    if not name.strip():
        raise MailerError("the campaign name is empty", hint="give a campaign id or the path of a campaign file")
    path = Path(name)
    if name.endswith(".toml") or path.exists():
        return load_campaign(path)
    candidate = project_root(root) / "campaigns" / f"{name}.toml"
    if not candidate.exists():
        raise MailerError(f"no campaign '{name}'", where=candidate.parent,
                          hint=f"create {candidate.name} there, or give the path of a campaign file")
    return load_campaign(candidate)


def campaign_id_for(name: str) -> str:
    """The id of campaign ``name``: the name itself, or the id inside the campaign file ``name`` (``*.toml``);
    an empty name or a folder is refused as :func:`find_campaign` refuses it."""
    is_file_or_bad = name.endswith(".toml") or not name.strip() or Path(name).is_dir()
    return find_campaign(name).id if is_file_or_bad else name


def audience(engine: Engine | None, lists: Iterable[Path], stats: AudienceStats) -> Iterator[Recipient]:
    """Valid, de-duplicated recipients of ``lists`` minus the suppression list; bad rows land in ``stats``."""
    from solidarity_mailer.audience.stream import iter_audience
    from solidarity_mailer.ledger.suppressions import lookup

    return iter_audience(list(lists), lookup(engine), stats=stats)


def suppress_bounced(engine: Engine, address: str, detail: str) -> object:
    """Put an address refused with 5.1.1 on the suppression list."""
    from solidarity_mailer.ledger.suppressions import add

    return add(engine, address, "bounced", detail=detail)


def make_factory(campaign: Campaign, rendition: Renditions, settings: Settings, run_id: int) -> MessageFactory:
    """The per-recipient message builder for this run (secret from the environment)."""
    from solidarity_mailer.compose.message import MessageFactory
    from solidarity_mailer.compose.unsubscribe_tokens import load_secret

    return MessageFactory(campaign, rendition, settings, load_secret(), run_id)


@dataclass
class Prepared:
    """A run ready to go: the renditions (made once per language), the message factory, the audience and the
    bounce hook.

    ``audience()`` streams the recipients; ``stats`` counts invalid, duplicate and
    suppressed rows as it goes, with the invalid rows' errors (``file:line: message``).
    """

    campaign: Campaign
    rendition: Renditions
    factory: MessageFactory
    lists: tuple[Path, ...]
    audience: Callable[[], Iterable[Recipient]]
    stats: AudienceStats | None = None
    suppress: Callable[[Engine, str, str], object] = suppress_bounced


def lists_for(campaign: Campaign, override: Iterable[str | Path] = ()) -> tuple[Path, ...]:
    """The run's lists: ``override`` (``--list``) when given, else the campaign's; each must exist."""
    chosen = tuple(Path(p).resolve() for p in override) or campaign.lists
    if not chosen:
        raise MailerError("the campaign names no lists", where=campaign.path,
                          hint='add lists = ["example"] to [campaign], or pass --list FILE')
    from solidarity_mailer.audience.lists import check_list_file

    for path in chosen:
        check_list_file(path)
    return chosen


class NoValidRecipient(MailerError):
    """The lists hold no valid row at all; ``rows`` are the first invalid ones (``file:line: what``)."""

    def __init__(self, lists: tuple[Path, ...], invalid: int, rows: list[str]) -> None:
        names = ", ".join(p.name for p in lists)
        super().__init__(f"no valid recipient in {names} ({invalid} invalid rows); nothing was sent",
                         hint="fix the rows named above; `solidarity-mailer lists check` shows them all")
        self.rows = rows


def require_a_recipient(lists: tuple[Path, ...], shown: int = 50) -> None:
    """Read ``lists`` up to their first valid row (suppression aside); :class:`NoValidRecipient` when there is
    none, naming the first ``shown`` invalid rows."""
    from solidarity_mailer.audience.stream import AudienceStats, iter_audience

    rows: list[str] = []
    stats = AudienceStats()
    for _ in iter_audience(list(lists), None, stats=stats,
                           on_error=lambda e: rows.append(str(e)) if len(rows) < shown else None):
        return
    raise NoValidRecipient(lists, stats.invalid, rows)


def prepare_run(engine: Engine, run: Run, settings: Settings, rendition: Renditions | None = None) -> Prepared:
    """Prepare ``run`` of a campaign recorded with :func:`~solidarity_mailer.ledger.queries.ensure_campaign`
    (with ``rendition`` when the caller rendered the campaign already). A batch of a ``--recipient-time``
    schedule (``run.zone``) sends to the recipients of its zone only (those without one: the schedule's zone)."""
    campaign = load_campaign(Path(campaign_path(engine, run.campaign_id)))
    lists = lists_for(campaign, run.lists)
    if rendition is None:  # (else the caller rendered it, and said its notes)
        rendition = render_apart(campaign, lists)  # the rendering stack never loads in the sending process
        for note in rendition.notes:
            log.warning("run %s: warning: %s", run.id, note)
    factory = make_factory(campaign, rendition, settings, run.id)
    from solidarity_mailer.audience.stream import AudienceStats
    from solidarity_mailer.ledger.web_versions import record_web_versions

    record_web_versions(engine, run.id, rendition.variants, campaign.sender or settings.sender.from_)

    stats = AudienceStats()
    if run.zone is None:
        return Prepared(campaign, rendition, factory, lists, lambda: audience(engine, lists, stats), stats)
    zone, fallback = run.zone, schedule_zone(engine, run.schedule_id)
    return Prepared(campaign, rendition, factory, lists, lambda: (
        r for r in audience(engine, lists, stats) if (r.tz or fallback) == zone), stats)
