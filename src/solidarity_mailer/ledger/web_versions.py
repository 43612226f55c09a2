"""The web versions of sent campaigns: recorded per run and language when a run is prepared, published once a
message of that variant was delivered.

A run records each variant's subject and web HTML (``Rendition.web_html``: the template with ``mail.web`` true,
no reader's values) in ``web_versions``. :func:`published` gives every campaign and language with at least one
``sent`` delivery, newest first by its first delivery, each with the web version of its latest run that
delivered it: what ``serve`` answers at ``/v/{campaign}/{lang}.html`` and ``archive build`` writes. A reader's
language is the variant the campaign's rule chose for their ``lang`` (``es-PE`` → ``es``), computed from the
run's recorded languages, so the ledger alone reproduces the pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from solidarity_mailer.ledger.languages import lang_column, language_sent
from solidarity_mailer.ledger.schema import aware, deliveries, runs, web_versions
from solidarity_mailer.render.rendition import Rendition


@dataclass(frozen=True)
class WebVersion:
    """One campaign in one language as published: its subject, web HTML and first delivery."""

    campaign_id: str
    language: str
    subject: str
    html: str
    sender: str
    first_sent: dt.datetime
    last_sent: dt.datetime
    run_id: int


def record_web_versions(engine: Engine, run_id: int, variants: Iterable[Rendition], sender: str) -> None:
    """Keep the run's web version of each variant (the default first) and the From name (else address) of
    ``sender``; a run prepared again keeps its first."""
    name, address = parseaddr(sender)
    now = dt.datetime.now(dt.UTC)
    rows = [{"run_id": run_id, "language": v.language, "position": i, "subject": v.subject, "html": v.web_html,
             "sender": name or address, "created_at": now} for i, v in enumerate(variants)]
    try:
        with engine.begin() as conn:
            if _recorded(conn, run_id):
                return
            conn.execute(insert(web_versions), rows)  # one transaction: all of the variants or none
    except IntegrityError:  # another process prepared the run at the same instant (two daemons, two workers)
        with engine.connect() as conn:
            if not _recorded(conn, run_id):
                raise
        # its record stands, whole


def _recorded(conn: Connection, run_id: int) -> bool:
    found = conn.execute(select(web_versions.c.run_id).where(web_versions.c.run_id == run_id).limit(1)).first()
    return found is not None


def _run_languages(engine: Engine, campaign_id: str | None) -> dict[int, tuple[str, tuple[str, ...]]]:
    """run id → (campaign id, its recorded languages, the default first), for runs with web versions."""
    stmt = (select(web_versions.c.run_id, runs.c.campaign_id, web_versions.c.language)
            .join(runs, runs.c.id == web_versions.c.run_id).order_by(web_versions.c.run_id, web_versions.c.position))
    if campaign_id is not None:
        stmt = stmt.where(runs.c.campaign_id == campaign_id)
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    with engine.connect() as conn:
        for run_id, campaign, language in conn.execute(stmt).all():
            _, languages = found.get(run_id, (campaign, ()))
            found[run_id] = (campaign, (*languages, language))
    return found


def _delivered(engine: Engine, run_languages: dict[int, tuple[str, tuple[str, ...]]]
               ) -> dict[tuple[str, str], tuple[dt.datetime, dt.datetime, int]]:
    """(campaign, language) → (first and last delivery, latest run that delivered it), over ``sent`` rows."""
    if not run_languages:
        return {}
    tag = lang_column(engine).label("lang")
    stmt = (select(deliveries.c.run_id, tag, func.min(deliveries.c.sent_at), func.max(deliveries.c.sent_at))
            .where(deliveries.c.state == "sent", deliveries.c.run_id.in_(list(run_languages)))
            .group_by(deliveries.c.run_id, tag))
    found: dict[tuple[str, str], tuple[dt.datetime, dt.datetime, int]] = {}
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    for run_id, lang, first, last in rows:
        campaign, languages = run_languages[run_id]
        key = (campaign, language_sent(languages, lang))
        first, last = aware(first) or dt.datetime.min.replace(tzinfo=dt.UTC), aware(last) or first
        if key in found:
            was_first, was_last, was_run = found[key]
            first, last, run_id = min(first, was_first), max(last, was_last), max(run_id, was_run)
        found[key] = (first, last, run_id)
    return found


def published(engine: Engine, campaign_id: str | None = None) -> list[WebVersion]:
    """Every campaign (or ``campaign_id``'s) language with a delivered message, newest first by first delivery
    (then by campaign and language), in its latest delivered run's web version."""
    delivered = _delivered(engine, _run_languages(engine, campaign_id))
    out = []
    with engine.connect() as conn:
        for (campaign, language), (first, last, run_id) in delivered.items():
            row = conn.execute(select(web_versions.c.subject, web_versions.c.html, web_versions.c.sender).where(
                web_versions.c.run_id == run_id, web_versions.c.language == language)).one()
            out.append(WebVersion(campaign, language, row.subject, row.html, row.sender, first, last, run_id))
    out.sort(key=lambda v: (v.campaign_id, v.language))
    out.sort(key=lambda v: v.first_sent, reverse=True)
    return out


def web_version(engine: Engine, campaign_id: str, language: str) -> WebVersion | None:
    """The published web version of ``campaign_id`` in ``language`` (None when no such message was delivered)."""
    return next((v for v in published(engine, campaign_id) if v.language == language), None)
