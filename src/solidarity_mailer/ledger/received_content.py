"""Who already received a campaign's content, across runs: no run sends anyone the same content twice.

Each run records the digest of what it sends (``runs.content_digest``: sha256 of subject, HTML and text before
personalisation, from :meth:`~solidarity_mailer.render.rendition.Rendition.content_digest`). A row of a run is
*already received* when another run of the same campaign, with the same digest (or none: a run recorded before
digests existed counts as the same content), has that address ``sent`` or ``uncertain`` (maybe delivered: not
sent twice either). Such rows become ``skipped`` with ``already received this content in run N``: in bulk when a
run is enqueued (:func:`skip_already_received`) and, for runs that overlap, at the instant of the claim
(:func:`claim_guard`, :func:`skip_statement`, in ``ledger/writer.py``). A row that another run is handing over
right now (``sending``) is not claimed either, but *waits* (``deferred`` for :data:`WAIT_SECONDS`): if that
attempt fails, this run still sends it; if no live process holds that run (its lease expired: it crashed),
its row counts as maybe delivered, as ``uncertain`` does. On PostgreSQL two claims of one address serialise on
an advisory lock (:data:`PG_CLAIM_LOCK`): under READ COMMITTED a ``NOT EXISTS`` cannot see the other's
uncommitted claim. A run with ``again`` (``send --again``, a schedule made with ``--again``) repeats on purpose
and skips nobody.

A run keeps its content: :func:`record_content` refuses to continue a run whose campaign changed after it began
sending (as listmonk locks a running campaign); the maintainer cancels it and sends the new text as a new run.

Manual runs are one per content: :func:`manual_run_key` gives ``send CAMPAIGN`` the campaign's run for this
digest (``manual:ID`` for the first content, as before digests; ``manual:ID:DIGEST16`` for any other).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import groupby, islice

from sqlalchemy import Engine, and_, func, or_, select, update

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.schema import aware, deliveries, runs

ALREADY_RECEIVED = "already received this content in "  # the start of last_reply of such skipped rows
RECEIVED_STATES = ("sent", "uncertain")  # the content reached the address (or maybe did): never again
IN_FLIGHT = "sending"  # another run is handing it over: wait for its outcome
WAITING = "waiting: another run is handing this content over to the address"
WAIT_SECONDS = 2.0
_BATCH = 500
#: PostgreSQL: a claim of (campaign, digest, address) waits for another transaction's claim of it to commit
PG_CLAIM_LOCK = "SELECT pg_advisory_xact_lock(hashtext(:campaign || ' ' || :digest || ' ' || :addr))"


def _elsewhere(states: tuple[str, ...], what: str = "1", *, or_stale: bool = False) -> str:
    """``SELECT what`` over the rows of the same content's other runs with the claimed row's address in
    ``states`` (``:campaign``, ``:digest``); with ``or_stale``, also rows left ``sending`` by a run that no
    live process holds (the lease of the row's worker, ``run:ID`` or ``run:ID:WORKER`` in ``locks``, expired
    before ``:now``): maybe delivered."""
    listed = ", ".join(f"'{state}'" for state in states)
    run = "'run:' || CAST(earlier.run_id AS VARCHAR(20))"
    held = (f"SELECT 1 FROM locks WHERE (locks.name = {run} OR locks.name = {run} || ':' || earlier.worker)"
            " AND locks.expires_at > :now")
    stale = f" OR (earlier.state = '{IN_FLIGHT}' AND NOT EXISTS ({held}))" if or_stale else ""
    return (f"SELECT {what} FROM deliveries AS earlier JOIN runs AS earlier_run ON earlier_run.id = earlier.run_id"
            " WHERE earlier.address = deliveries.address AND earlier.run_id <> deliveries.run_id"
            f" AND (earlier.state IN ({listed}){stale}) AND earlier_run.campaign_id = :campaign"
            " AND (earlier_run.content_digest = :digest OR earlier_run.content_digest IS NULL)")


#: a claim's condition that no other live worker holds the row (ledger/row_claims.py): ``:now``, ``:worker``
FREE = "(claimed_until IS NULL OR claimed_until <= :now OR worker = :worker)"


def claim_guard() -> str:
    """The claim's extra condition: no other run of this content has the address received or in hand."""
    return f" AND NOT EXISTS ({_elsewhere((*RECEIVED_STATES, IN_FLIGHT))})"


def skip_statement(suppressed: str) -> str:
    """After a guarded claim failed: the row ``skipped`` (suppressed, or already received in run N, or left
    ``sending`` there by a process that is gone) or, while a live run hands it over, ``deferred`` for
    :data:`WAIT_SECONDS` (``:received``, ``:waiting``, ``:retry``)."""
    first = f"({_elsewhere(RECEIVED_STATES, 'CAST(MIN(earlier.run_id) AS VARCHAR(20))', or_stale=True)})"
    return (
        f"UPDATE deliveries SET updated_at = :now, claimed_until = NULL,"
        f" state = CASE WHEN EXISTS ({suppressed}) OR {first} IS NOT NULL THEN 'skipped' ELSE 'deferred' END,"
        f" last_reply = CASE WHEN EXISTS ({suppressed}) THEN 'suppressed'"
        f" WHEN {first} IS NOT NULL THEN :received || {first} ELSE :waiting END,"
        f" next_attempt_at = CASE WHEN EXISTS ({suppressed}) OR {first} IS NOT NULL THEN NULL ELSE :retry END"
        f" WHERE run_id = :run AND address = :addr AND state IN ('pending', 'deferred') AND {FREE}"
    )


class ContentChanged(MailerError):
    """The campaign changed after its run began sending: continuing would mix two contents in one run."""


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
    """Record what run ``run_id`` sends. A run that has not attempted a message yet takes the new content; one
    that has keeps it, and a changed campaign is refused (:class:`ContentChanged`)."""
    attempted = select(deliveries.c.address).where(deliveries.c.run_id == run_id, deliveries.c.attempts > 0)
    with engine.begin() as conn:
        recorded = conn.execute(select(runs.c.content_digest).where(runs.c.id == run_id)).scalar_one()
        if recorded not in (None, digest) and conn.execute(attempted.limit(1)).first() is not None:
            raise ContentChanged(
                f"the campaign changed after run {run_id} began sending (its messages went out with the earlier "
                "text); the run cannot continue with another text",
                hint=f"restore the campaign, or `solidarity-mailer cancel run {run_id}` and send the new text "
                     "(those who had the earlier text get the new one once)")
        conn.execute(update(runs).where(runs.c.id == run_id).values(content_digest=digest))
    return run_content(engine, run_id)


def _same_content(run: RunContent):  # type: ignore[no-untyped-def]
    return and_(runs.c.campaign_id == run.campaign_id, runs.c.id != run.run_id,
                or_(runs.c.content_digest == run.digest, runs.c.content_digest.is_(None)))


def skip_already_received(engine: Engine, run: RunContent, *, now: dt.datetime) -> int:
    """Skip the run's waiting rows whose address already received this content in another run (the reply names
    the first such run); how many. Nothing for a run with ``again``."""
    if run.again:
        return 0
    earlier = deliveries.alias("earlier")
    first = (select(deliveries.c.address, func.min(earlier.c.run_id).label("first"))
             .select_from(deliveries.join(earlier, earlier.c.address == deliveries.c.address)
                          .join(runs, runs.c.id == earlier.c.run_id))
             .where(deliveries.c.run_id == run.run_id, deliveries.c.state.in_(["pending", "deferred"]),
                    earlier.c.state.in_(RECEIVED_STATES), _same_content(run))
             .group_by(deliveries.c.address).order_by(func.min(earlier.c.run_id), deliveries.c.address))
    skipped = 0
    with engine.begin() as conn:
        pairs = conn.execute(first).all()
        for first_run, group in groupby(pairs, key=lambda pair: int(pair[1])):
            reply, addresses = f"{ALREADY_RECEIVED}run {first_run}", iter(group)
            while batch := [address for address, _ in islice(addresses, _BATCH)]:
                stmt = (update(deliveries).where(deliveries.c.run_id == run.run_id, deliveries.c.address.in_(batch),
                                                 deliveries.c.state.in_(["pending", "deferred"]))
                        .values(state="skipped", last_reply=reply, next_attempt_at=None, updated_at=now))
                skipped += conn.execute(stmt).rowcount
    return skipped


def skipped_since(engine: Engine, run_id: int, since: dt.datetime) -> list[EarlierRun]:
    """The run's rows skipped as already received at or after ``since`` (in bulk or at the claim), per earlier
    run, oldest first."""
    stmt = (select(deliveries.c.last_reply, func.count())
            .where(deliveries.c.run_id == run_id, deliveries.c.state == "skipped", deliveries.c.updated_at >= since,
                   deliveries.c.last_reply.startswith(f"{ALREADY_RECEIVED}run ", autoescape=True))
            .group_by(deliveries.c.last_reply))
    found = []
    with engine.connect() as conn:
        for reply, count in conn.execute(stmt).all():
            earlier = int(reply.rsplit(" ", 1)[1])
            when = conn.execute(select(func.coalesce(runs.c.started_at, runs.c.created_at))
                                .where(runs.c.id == earlier)).scalar_one_or_none()
            found.append(EarlierRun(earlier, aware(when), int(count)))
    return sorted(found, key=lambda e: e.run_id)


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


def manual_run_key(engine: Engine, campaign_id: str, digest: str, *, again: bool = False,
                   continuing: bool = False) -> str:
    """The fire key of ``send CAMPAIGN``'s run for this content: ``manual:ID`` while it holds this content (or
    one recorded before digests), else ``manual:ID:DIGEST16``. With ``again``, the unfinished repeat run of this
    content, or a new one (``manual:ID:DIGEST16:again:N``); with ``continuing`` too (``--retry-failed``,
    ``--resend-uncertain``), the latest repeat run even when it finished."""
    base, own = f"manual:{campaign_id}", f"manual:{campaign_id}:{digest[:16]}"
    with engine.connect() as conn:
        if not again:
            legacy = conn.execute(select(runs.c.content_digest).where(runs.c.fire_key == base)).first()
            return base if legacy is None or legacy[0] in (None, digest) else own
        repeats = conn.execute(select(runs.c.fire_key, runs.c.state)
                               .where(runs.c.fire_key.startswith(f"{own}:again:", autoescape=True))
                               .order_by(runs.c.id)).all()
    if repeats and repeats[-1].state != "cancelled" and (continuing or repeats[-1].state != "finished"):
        return str(repeats[-1].fire_key)
    return f"{own}:again:{len(repeats) + 1}"
