"""Who already received a campaign's content, across runs: no run sends anyone the same content twice.

Each run records the digest of what it sends (``runs.content_digest``: sha256 of subject, HTML and text before
personalisation, from :meth:`~solidarity_mailer.render.rendition.Rendition.content_digest`). A row of a run is
*already received* when another run of the same campaign, with the same digest (or none: a run recorded before
digests existed counts as the same content), has that address ``sent``, ``sending`` or ``uncertain`` (maybe
delivered: not sent twice either). Such rows become ``skipped`` with ``already received this content in run N``:
in bulk when a run is enqueued (:func:`skip_already_received`) and, for runs that overlap, at the instant of the
claim (:data:`CLAIM_GUARD`, in ``ledger/writer.py``). A run with ``again`` (``send --again``, a schedule made
with ``--again``) repeats on purpose and skips nobody.

Manual runs are one per content: :func:`manual_run_key` gives ``send CAMPAIGN`` the campaign's run for this
digest (``manual:ID`` for the first content, as before digests; ``manual:ID:DIGEST16`` for any other).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import groupby, islice

from sqlalchemy import Engine, and_, func, or_, select, update

from solidarity_mailer.ledger.schema import aware, deliveries, runs

ALREADY_RECEIVED = "already received this content in "  # the start of last_reply of such skipped rows
RECEIVED_STATES = ("sent", "sending", "uncertain")
_BATCH = 500

#: The claim's extra condition (``:campaign``, ``:digest``): no other run of this content has the address in hand.
CLAIM_GUARD = (
    " AND NOT EXISTS (SELECT 1 FROM deliveries AS earlier JOIN runs AS earlier_run ON earlier_run.id = earlier.run_id"
    " WHERE earlier.address = deliveries.address AND earlier.run_id <> deliveries.run_id"
    " AND earlier.state IN ('sent', 'sending', 'uncertain') AND earlier_run.campaign_id = :campaign"
    " AND (earlier_run.content_digest = :digest OR earlier_run.content_digest IS NULL))"
)
CLAIM_SKIPPED = ALREADY_RECEIVED + "another run, while this one was sending"


@dataclass(frozen=True)
class RunContent:
    """What a run sends, as far as the rule is concerned."""

    run_id: int
    campaign_id: str
    digest: str | None
    again: bool


@dataclass(frozen=True)
class EarlierRun:
    """An earlier run of the same content, and how many of this run's rows it had already reached."""

    run_id: int
    at: dt.datetime | None  # when it started (or was recorded)
    skipped: int

    def line(self) -> str:
        """``1,980 already received this content in run 12 on 2026-12-01 09:00 UTC: skipped``."""
        when = f" on {self.at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if self.at else ""
        return f"{self.skipped:,} {ALREADY_RECEIVED}run {self.run_id}{when}: skipped"


def run_content(engine: Engine, run_id: int) -> RunContent:
    """The campaign, digest and ``again`` of run ``run_id``."""
    with engine.connect() as conn:
        row = conn.execute(select(runs.c.campaign_id, runs.c.content_digest, runs.c.again)
                           .where(runs.c.id == run_id)).one()
    return RunContent(run_id, row.campaign_id, row.content_digest, bool(row.again))


def record_content(engine: Engine, run_id: int, digest: str) -> RunContent:
    """Record what run ``run_id`` sends, unless it has a digest already (a run keeps the content it began with)."""
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id, runs.c.content_digest.is_(None))
                     .values(content_digest=digest))
    return run_content(engine, run_id)


def _same_content(run: RunContent):  # type: ignore[no-untyped-def]
    return and_(runs.c.campaign_id == run.campaign_id, runs.c.id != run.run_id,
                or_(runs.c.content_digest == run.digest, runs.c.content_digest.is_(None)))


def skip_already_received(engine: Engine, run: RunContent, *, now: dt.datetime) -> list[EarlierRun]:
    """Skip the run's waiting rows whose address already received this content in another run; per earlier run
    (the first that reached each address), how many. Nothing for a run with ``again``."""
    if run.again:
        return []
    earlier = deliveries.alias("earlier")
    first = (select(deliveries.c.address, func.min(earlier.c.run_id).label("first"))
             .select_from(deliveries.join(earlier, earlier.c.address == deliveries.c.address)
                          .join(runs, runs.c.id == earlier.c.run_id))
             .where(deliveries.c.run_id == run.run_id, deliveries.c.state.in_(["pending", "deferred"]),
                    earlier.c.state.in_(RECEIVED_STATES), _same_content(run))
             .group_by(deliveries.c.address).order_by(func.min(earlier.c.run_id), deliveries.c.address))
    found: list[EarlierRun] = []
    with engine.begin() as conn:
        pairs = conn.execute(first).all()
        for first_run, group in groupby(pairs, key=lambda pair: int(pair[1])):
            reply, skipped, addresses = f"{ALREADY_RECEIVED}run {first_run}", 0, iter(group)
            while batch := [address for address, _ in islice(addresses, _BATCH)]:
                stmt = (update(deliveries).where(deliveries.c.run_id == run.run_id, deliveries.c.address.in_(batch),
                                                 deliveries.c.state.in_(["pending", "deferred"]))
                        .values(state="skipped", last_reply=reply, next_attempt_at=None, updated_at=now))
                skipped += conn.execute(stmt).rowcount
            when = conn.execute(select(func.coalesce(runs.c.started_at, runs.c.created_at))
                                .where(runs.c.id == first_run)).scalar_one()
            found.append(EarlierRun(first_run, aware(when), skipped))
    return found


def received_elsewhere(engine: Engine, run: RunContent, addresses: list[str]) -> int:
    """How many of ``addresses`` (normalised) already received this content in a run other than ``run``."""
    earlier = deliveries.alias("earlier")
    found = 0
    with engine.connect() as conn:
        for start in range(0, len(addresses), _BATCH):
            stmt = (select(func.count(func.distinct(earlier.c.address)))
                    .select_from(earlier.join(runs, runs.c.id == earlier.c.run_id))
                    .where(earlier.c.address.in_(addresses[start:start + _BATCH]),
                           earlier.c.state.in_(RECEIVED_STATES), _same_content(run)))
            found += int(conn.execute(stmt).scalar_one())
    return found


def already_received_count(engine: Engine, run_id: int) -> int:
    """How many of the run's rows were skipped because they already received the content."""
    stmt = select(func.count()).where(deliveries.c.run_id == run_id, deliveries.c.state == "skipped",
                                      deliveries.c.last_reply.startswith(ALREADY_RECEIVED, autoescape=True))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def manual_run_key(engine: Engine, campaign_id: str, digest: str, *, again: bool = False) -> str:
    """The fire key of ``send CAMPAIGN``'s run for this content: ``manual:ID`` while it holds this content (or
    one recorded before digests), else ``manual:ID:DIGEST16``. With ``again``, the unfinished repeat run of this
    content, or a new one (``manual:ID:DIGEST16:again:N``)."""
    base, own = f"manual:{campaign_id}", f"manual:{campaign_id}:{digest[:16]}"
    with engine.connect() as conn:
        if not again:
            legacy = conn.execute(select(runs.c.content_digest).where(runs.c.fire_key == base)).first()
            return base if legacy is None or legacy[0] in (None, digest) else own
        repeats = conn.execute(select(runs.c.fire_key, runs.c.state)
                               .where(runs.c.fire_key.startswith(f"{own}:again:", autoescape=True))
                               .order_by(runs.c.id)).all()
    if repeats and repeats[-1].state not in ("finished", "cancelled"):
        return str(repeats[-1].fire_key)
    return f"{own}:again:{len(repeats) + 1}"
