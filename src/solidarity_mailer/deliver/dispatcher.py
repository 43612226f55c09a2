"""The dispatcher: deliver one campaign run from the ledger, fast, exactly once, through faults.

:func:`deliver_run` is the whole API (the CLI's ``send`` and the scheduler daemon call it). It renders the
campaign once, enqueues the audience (lists minus suppression; rows already in the run are kept as they are, so
what was sent is never sent again), then its feeder (``deliver/feeder.py``) puts due rows through the rate
limiter (shared by every worker of the ledger: ``deliver/rate_limit.py``) on a bounded queue served by the claim
loop (``deliver/claim_loop.py``), which claims them and submits them to the senders of each SMTP relay
(``deliver/senders.py``: processes for SMTP), each with its own connection, the relays in rotation by weight
(``deliver/relays.py``). Deferred rows come back when due. Each
batch the feeder renews the lease and looks at ``runs.state``: a run paused or cancelled by another process stops
within a batch; a ``TransportPaused`` (auth, 4.7.x/5.7.x) pauses the run. When a relay cannot be reached
(connection refused, TLS/greeting failure, dropped before RCPT) its rows are given back uncounted and it is out of
rotation for a while (the retry policy's delays, at most ``OUTAGE_MAX_WAIT``): the others take the rows. With
every relay out the whole run backs off; after ``delivery.unreachable_pause_seconds`` of outage it is paused
with a note saying why. A run cancelled
before it started is never resurrected, and a lost lease (another process took the run over) stops this one.

After it returns, the run is ``finished`` (nothing left to send or retry), ``paused``, ``cancelled``,
or ``pending`` (stopped early by ``limit`` or ``stop``: call again to continue; or waiting for a send window,
``runs.resume_at``: ``deliver/send_windows.py``). How it is called is
:class:`RunOptions` (what to do) and :class:`RunDependencies` (clock, sleep, stop signal, transport).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from solidarity_mailer.clock import duration
from solidarity_mailer.config import Settings
from solidarity_mailer.deliver import run_lease
from solidarity_mailer.deliver.claim_loop import ClaimLoop, RowQueue
from solidarity_mailer.deliver.feeder import Feeder
from solidarity_mailer.deliver.live_run import LiveRun
from solidarity_mailer.deliver.prepare import Prepared, prepare_run
from solidarity_mailer.deliver.progress import Progress
from solidarity_mailer.deliver.rate_limit import RateLimiter, shared_limiter
from solidarity_mailer.deliver.relays import Rotation, run_relays
from solidarity_mailer.deliver.retry import RetryPolicy
from solidarity_mailer.deliver.send_windows import window_gate
from solidarity_mailer.deliver.senders import Sender, TransportFactory, start_senders
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger import row_claims
from solidarity_mailer.ledger.full import LedgerFull, is_disk_full, location
from solidarity_mailer.ledger.received_content import (
    EarlierRun,
    record_content,
    skip_already_received,
    skipped_since,
)
from solidarity_mailer.ledger.writer import LedgerWriter
from solidarity_mailer.render.rendition import Renditions

STARTABLE = ("pending", "running", "paused", "finished")  # a paused run resumed by `send` is intended
SERVER_PAUSED = "paused by the SMTP server: "  # the note of a run the relay refused (auth, 4.7.x/5.7.x)
DELIVERY_LIMIT = "delivery"  # the key of ``[delivery] per_second`` / ``per_hour`` in the ledger: every run's
LEASE_LOST = "stopped: this process lost the run's lease (another process took the run over)"


@dataclass(frozen=True)
class RunOptions:
    """What one :func:`deliver_run` call should do besides sending what is due."""

    limit: int | None = None  # stop after this many messages (``--limit``); the run stays ``pending``
    limit_used: int = 0  # of ``limit``, what earlier calls of the same ``send`` took (it waited for a send window)
    resend_uncertain: bool = False  # first requeue the rows whose delivery is uncertain
    retry_failed: bool = False  # first give the ``failed`` rows a fresh set of attempts
    progress: bool = False  # show a progress bar (on a terminal only)
    only_while_running: bool = False  # a worker joining a run being sent: never resume one paused meanwhile


@dataclass(frozen=True)
class RunDependencies:
    """What drives a :func:`deliver_run` call from outside; tests pass fakes so that they never wait.

    ``sleep`` defaults to waiting on ``stop``; ``transport_factory`` to the configured transport (and, for
    SMTP, sender processes).
    """

    now: Callable[[], dt.datetime] = ledger.utcnow
    sleep: Callable[[float], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    transport_factory: TransportFactory | None = None
    rendition: Renditions | None = None  # the campaign rendered already by the caller (``send``): not again

    def waits(self) -> Callable[[float], None]:
        """``sleep``, or else waiting on ``stop`` (set, it ends the wait at once)."""
        return self.sleep or self.stop.wait


@dataclass
class RunSummary:
    """What one :func:`deliver_run` call did (``this_call``) and where the run stands (``counts``)."""

    run_id: int
    campaign_id: str
    state: str
    note: str = ""
    enqueued: int = 0
    recovered_uncertain: int = 0
    this_call: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    enqueue_seconds: float = 0.0  # of ``seconds``: reading, validating and enqueuing the lists
    audience: str = ""  # "N valid, M invalid, D duplicates, S suppressed" for the lists read this time
    row_errors: list[str] = field(default_factory=list)  # invalid rows (file:line: what), at most 50
    # rows skipped this call as already received (when enqueued or at their claim), per earlier run
    already_received: list[EarlierRun] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        """True when the run is paused (the CLI then exits non-zero)."""
        return self.state == "paused"

    def line(self) -> str:
        """A one-line summary for people."""
        c = self.counts
        done = ", ".join(f"{k} {v}" for k, v in c.items() if v)
        rate = self.this_call.get("sent", 0) / self.seconds if self.seconds else 0.0
        text = f"run {self.run_id} ({self.campaign_id}): {self.state}; {done or 'no recipients'}"
        text += f"; this time sent {self.this_call.get('sent', 0)} in {self.seconds:.1f}s ({rate:.0f}/s)"
        return f"{text}. {self.note}" if self.note else text


def deliver_run(
    engine: Engine, run_id: int, settings: Settings, options: RunOptions = RunOptions(),
    dependencies: RunDependencies | None = None,
) -> RunSummary:
    """Deliver run ``run_id`` until nothing is left to send, it pauses, is cancelled, or ``limit``/``stop``.

    ``dependencies`` drive all timing (rate limits, backoff) and stopping. Raises :class:`MailerError` for a
    user mistake found before sending (campaign, content, template, list, settings) or when another live
    process is sending this run, and :class:`LedgerFull` when the ledger's disk fills up: what was committed
    stays, the run is left as a crash leaves it (its messages in flight become ``uncertain``) and continues
    where it stopped once there is space.
    """
    try:
        return _deliver_run(engine, run_id, settings, options, dependencies or RunDependencies())
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        run = ledger.get_run(engine, run_id)  # (reading needs no space)
        resume = (f"`solidarity-mailer send {run.campaign_id}` continues the run" if run.schedule_id is None else
                  f"start the daemon again (`solidarity-mailer run`): it resumes run {run_id}")
        raise LedgerFull(location(engine), resume) from exc


def _deliver_run(engine: Engine, run_id: int, settings: Settings, options: RunOptions,
                 deps: RunDependencies) -> RunSummary:
    now = deps.now
    started = time.monotonic()
    run = ledger.get_run(engine, run_id)
    summary = RunSummary(run_id, run.campaign_id, run.state)
    if run.state == "cancelled":
        summary.note, summary.counts = "the run was cancelled", ledger.counts(engine, run_id)
        return summary
    prepared = prepare_run(engine, run, settings, deps.rendition)  # renders once; user errors surface here
    began = now()  # (the first clock reading: after rendering)
    ttl = dt.timedelta(seconds=settings.delivery.lease_seconds)
    holder = run_lease.acquire(engine, run_id, now=now(), ttl=ttl)
    try:
        summary.recovered_uncertain = row_claims.recover_dead_workers(engine, run_id, now=now(), worker=holder)
        startable = ("running",) if options.only_while_running else STARTABLE
        if not ledger.set_run_state(engine, run_id, "running", now=now(), note="", only_from=startable):
            summary.state = ledger.run_state(engine, run_id)  # cancelled (or missed) meanwhile: leave it so
            summary.note, summary.counts = f"the run was {summary.state} meanwhile; nothing sent", ledger.counts(
                engine, run_id)
            return summary
        if options.resend_uncertain:
            ledger.requeue(engine, run_id, "uncertain", now=now())
        if options.retry_failed:
            ledger.requeue(engine, run_id, "failed", now=now(), fresh_attempts=True)
        content = record_content(engine, run_id, prepared.rendition.content_digest())
        _enqueue(engine, prepared, summary, deps.now)  # first: never more connections than rows to send
        skip_already_received(engine, content, now=began)
        relays = run_relays(engine, run_id, settings, now)
        senders = start_senders(settings, prepared.factory, relays, deps.transport_factory)
        try:
            outcome, live = _send(engine, settings, prepared, Rotation(relays, _policy(settings).delay), senders,
                                  summary, options, deps, holder)
        finally:
            for sender in senders:
                sender.close()
        summary.state, summary.note = _final_state(live, outcome, options.limit)
    finally:
        row_claims.release_claims(engine, run_id, holder)
        run_lease.release(engine, run_id, holder)
    summary.this_call = {k: v for k, v in live.tally.items() if k not in ("taken", "paused", "outage", "waiting")}
    summary.already_received = skipped_since(engine, run_id, began)
    summary.counts = ledger.counts(engine, run_id)
    summary.seconds = time.monotonic() - started
    return summary


def _enqueue(engine: Engine, prepared: Prepared, summary: RunSummary, now: Callable[[], dt.datetime]) -> None:
    """Put the audience's new rows into the run (rows already there are kept as they are)."""
    started = time.monotonic()
    summary.enqueued = ledger.enqueue(engine, summary.run_id, prepared.audience(), now=now(),
                                      message_id=prepared.factory.message_id_for)
    summary.enqueue_seconds = time.monotonic() - started
    if prepared.stats is not None:
        summary.audience = prepared.stats.summary()
        summary.row_errors = [str(e) for e in prepared.stats.errors[:50]]


def _policy(settings: Settings) -> RetryPolicy:
    delivery = settings.delivery
    return RetryPolicy(delivery.max_attempts, delivery.retry_base_seconds, delivery.retry_max_seconds)


def _send(
    engine: Engine, settings: Settings, prepared: Prepared, rotation: Rotation, senders: list[Sender],
    summary: RunSummary, options: RunOptions, deps: RunDependencies, holder: str,
) -> tuple[str, LiveRun]:
    """Feed the senders; returns why feeding ended and the run's live state."""
    run_id, now = summary.run_id, deps.now
    writer = LedgerWriter(engine, run_id, worker=holder).start()
    delivery = settings.delivery
    live = LiveRun(engine, run_id, writer, prepared.factory, _policy(settings), now, prepared.suppress, deps.waits(),
                   holder, stop=deps.stop, unreachable_pause_seconds=delivery.unreachable_pause_seconds,
                   rotation=rotation, lease_ttl=dt.timedelta(seconds=delivery.lease_seconds),
                   window=window_gate(engine, run_id, prepared.campaign, settings))
    limiter = shared_limiter(engine, DELIVERY_LIMIT, delivery.per_second, delivery.per_hour,
                             clock=lambda: now().timestamp(), sleep=live.sleep)
    with Progress(options.progress, ledger.count_due(engine, run_id, now=now()), summary.campaign_id) as bar:
        live.on_result = bar.advance
        try:
            limit = None if options.limit is None else options.limit - options.limit_used
            outcome = _send_due_rows(live, senders, limiter, limit)
        finally:
            writer.close()  # every outcome committed
    if live.error is not None:
        raise live.error
    return outcome, live


def _final_state(live: LiveRun, outcome: str, limit: int | None) -> tuple[str, str]:
    """The run's state once feeding stopped (written to the ledger); returns (state, note)."""
    engine, run_id, now = live.engine, live.run_id, live.now()
    if live.paused is not None:
        return "paused", f"{SERVER_PAUSED}{live.paused.reply}"
    if outcome == "lease lost":
        return ledger.run_state(engine, run_id), LEASE_LOST
    if outcome == "outage":
        outage = duration((now - (live.outage_since or now)).total_seconds())
        which = "the SMTP server was" if len(live.rotation.relays) == 1 else "every SMTP relay was"
        note = (f"paused: {which} unreachable for {outage} ({live.rotation.replies()}); no "
                "recipient's attempts were used; once the relay is back, `send` again (a scheduled run: "
                f"`solidarity-mailer resume run {run_id}`)")
        ledger.set_run_state(engine, run_id, "paused", now=now, note=note, only_from=["running"])
        return "paused", note
    if outcome == "window" and live.window is not None:
        return live.window.wait(now)
    if outcome in ("paused", "cancelled"):
        return outcome, f"the run was {outcome} by another command"
    if outcome == "done":
        ledger.set_run_state(engine, run_id, "finished", now=now, only_from=["running"])
        return "finished", ""
    note = f"stopped after {limit} messages (--limit); send again to continue" if outcome == "limit" else (
        "interrupted; send again to continue")
    if row_claims.other_workers(engine, run_id, live.lease_holder, now=now):
        return ledger.run_state(engine, run_id), "this worker stopped; the run's other workers go on"
    ledger.set_run_state(engine, run_id, "pending", now=now, note=note, only_from=["running"])
    return "pending", note


def _send_due_rows(live: LiveRun, senders: list[Sender], limiter: RateLimiter, limit: int | None) -> str:
    """Run the claim loop and feed it; why feeding ended: done|limit|stopped|paused|cancelled|outage|lease lost."""
    row_queue = RowQueue(maxsize=len(senders) * 2)
    loop = ClaimLoop(live, senders, row_queue, rate_limited=not limiter.unlimited or live.rotation.limited)
    loop.start()
    try:
        return Feeder(live, row_queue, limiter, limit).feed()
    except BaseException:
        live.stop.set()  # the loop starts nothing more; what it holds is still recorded
        raise
    finally:
        row_queue.put(None)
        loop.join()
        row_queue.waker.close()
