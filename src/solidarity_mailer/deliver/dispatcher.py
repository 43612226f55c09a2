"""The dispatcher: deliver one campaign run from the ledger, fast, exactly once, through faults.

:func:`deliver_run` is the whole API (the CLI's ``send`` and the scheduler daemon call it). It renders
the campaign once, enqueues the audience (lists minus suppression; rows already in the run are kept as
they are, so what was sent is never sent again), then feeds due rows through the rate limiter into a
bounded queue served by the delivery loop (``deliver/claim_loop.py``), which claims them and hands them to N senders
(``deliver/senders.py``: processes for SMTP), each with its own connection. Deferred rows come
back when due. Each batch it renews its lease and looks at ``runs.state``: a run paused or cancelled by
another process stops within a batch; a ``TransportPaused`` (auth, 4.7.x/5.7.x) pauses the run. When the
relay cannot be reached (connection refused, TLS/greeting failure, dropped before RCPT) the rows are given
back uncounted and the whole run backs off (the retry policy's delays, at most ``OUTAGE_MAX_WAIT``); after
``delivery.unreachable_pause_seconds`` of outage the run is paused with a note saying why. A run cancelled
before it started is never resurrected, and a lost lease (another process took the run over) stops this one.

After it returns, the run is ``finished`` (nothing left to send or retry), ``paused``, ``cancelled``,
or ``pending`` (stopped early by ``limit`` or ``stop``: call again to continue).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from solidarity_mailer.config import Settings
from solidarity_mailer.deliver import run_lock as runlease
from solidarity_mailer.deliver.claim_loop import DeliveryLoop, JobQueue
from solidarity_mailer.deliver.prepare import Prepared, prepare_run
from solidarity_mailer.deliver.progress import Progress
from solidarity_mailer.deliver.rate_limit import HOUR, RateLimiter
from solidarity_mailer.deliver.results import Shared
from solidarity_mailer.deliver.retry import RetryPolicy
from solidarity_mailer.deliver.senders import Courier, start_couriers
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.writer import LedgerWriter
from solidarity_mailer.transports.base import Transport

TransportFactory = Callable[[Settings], Transport]
BATCH = 200  # rows read from the ledger at a time
STATE_EVERY = 50  # look at runs.state (paused/cancelled elsewhere?) at least every so many messages
CHUNK = 8  # rows handed to a sender at once when the rate limit does not hold them back (fewer wake-ups)
WAIT_SLICE = 20.0  # long waits (retry backoff, hourly limit) are cut in slices: renew the lease, watch runs.state
OUTAGE_MAX_WAIT = 300.0  # longest back-off while the relay is unreachable (notice soon that it is back)
STARTABLE = ("pending", "running", "paused", "finished")  # a paused run resumed by `send` is intended
LEASE_LOST = "stopped: this process lost the run's lease (another process took the run over)"


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
    engine: Engine, run_id: int, settings: Settings, *, transport_factory: TransportFactory | None = None,
    now: Callable[[], dt.datetime] = ledger.utcnow, sleep: Callable[[float], None] | None = None,
    stop: threading.Event | None = None, progress: bool = False, limit: int | None = None,
    resend_uncertain: bool = False, retry_failed: bool = False, prepared: Prepared | None = None,
) -> RunSummary:
    """Deliver run ``run_id`` until nothing is left to send, it pauses, is cancelled, or ``limit``/``stop``.

    ``now``/``sleep`` drive all timing (rate limits, backoff) so tests need not wait; by default
    ``sleep`` waits on ``stop``. Raises :class:`MailerError` for a user mistake found before sending
    (campaign, content, template, list, settings) or when another live process is sending this run.
    ``retry_failed`` first gives the run's ``failed`` rows a fresh set of attempts.
    """
    stop = stop or threading.Event()
    sleep = sleep or stop.wait
    started = time.monotonic()
    run = ledger.get_run(engine, run_id)
    summary = RunSummary(run_id, run.campaign_id, run.state)
    if run.state == "cancelled":
        summary.note, summary.counts = "the run was cancelled", ledger.counts(engine, run_id)
        return summary
    prepared = prepared or prepare_run(engine, run, settings)  # renders once; user errors surface here
    holder = runlease.acquire(engine, run_id, now=now())
    try:
        summary.recovered_uncertain = ledger.recover_sending(engine, run_id, now=now())
        if not ledger.set_run_state(engine, run_id, "running", now=now(), note="", only_from=STARTABLE):
            summary.state = ledger.run_state(engine, run_id)  # cancelled (or missed) meanwhile: leave it so
            summary.note, summary.counts = f"the run was {summary.state} meanwhile; nothing sent", ledger.counts(
                engine, run_id)
            return summary
        if resend_uncertain:
            ledger.requeue(engine, run_id, "uncertain", now=now())
        if retry_failed:
            ledger.requeue(engine, run_id, "failed", now=now(), fresh_attempts=True)
        # sender processes start while the audience is enqueued
        couriers = start_couriers(settings, prepared.factory, settings.delivery.concurrency, transport_factory)
        try:
            outcome, shared = _enqueue_and_send(engine, run_id, settings, prepared, couriers, summary, now, sleep,
                                                stop, progress, limit, holder)
        finally:
            for courier in couriers:
                courier.close()
        summary.state, summary.note = _finish(shared, outcome, limit)
    finally:
        runlease.release(engine, run_id, holder)
    summary.this_call = {k: v for k, v in shared.tally.items() if k not in ("taken", "paused", "outage")}
    summary.counts = ledger.counts(engine, run_id)
    summary.seconds = time.monotonic() - started
    return summary


def _enqueue_and_send(
    engine: Engine, run_id: int, settings: Settings, prepared: Prepared, couriers: list[Courier],
    summary: RunSummary, now: Callable[[], dt.datetime], sleep: Callable[[float], None], stop: threading.Event,
    progress: bool, limit: int | None, holder: str,
) -> tuple[str, Shared]:
    """Enqueue the audience, then feed the senders; returns why feeding ended and the shared state."""
    started = time.monotonic()
    summary.enqueued = ledger.enqueue(engine, run_id, prepared.audience(), now=now())
    summary.enqueue_seconds = time.monotonic() - started
    if prepared.stats is not None:
        summary.audience = prepared.stats.summary()
        summary.row_errors = [str(e) for e in prepared.stats.errors[:50]]
    writer = LedgerWriter(engine, run_id).start()
    delivery = settings.delivery
    shared = Shared(engine, run_id, writer, prepared.factory,
                    RetryPolicy(delivery.max_attempts, delivery.retry_base_seconds, delivery.retry_max_seconds),
                    now, prepared.suppress, stop=stop, unreachable_pause_seconds=delivery.unreachable_pause_seconds)
    clock = lambda: now().timestamp()  # noqa: E731
    last_hour = ledger.sent_since(engine, now() - dt.timedelta(seconds=HOUR))
    limiter = RateLimiter(delivery.per_second, delivery.per_hour, clock=clock, sleep=sleep,
                          history=(t.timestamp() for t in last_hour))
    with Progress(progress, ledger.count_due(engine, run_id, now=now()), summary.campaign_id) as bar:
        shared.on_result = bar.advance
        try:
            outcome = _drive(shared, couriers, limiter, sleep, limit, holder)
        finally:
            writer.close()  # every outcome committed
    if shared.error is not None:
        raise shared.error
    return outcome, shared


def _finish(shared: Shared, outcome: str, limit: int | None) -> tuple[str, str]:
    """Settle the run's state after feeding stopped; returns (state, note)."""
    engine, run_id, now = shared.engine, shared.run_id, shared.now()
    if shared.paused is not None:
        return "paused", f"paused by the SMTP server: {shared.paused.reply}"
    if outcome == "lease lost":
        return ledger.run_state(engine, run_id), LEASE_LOST
    if outcome == "outage":
        minutes = (now - (shared.outage_since or now)).total_seconds() / 60
        note = (f"paused: the SMTP server was unreachable for {minutes:.0f} min ({shared.outage_reply}); no "
                "recipient's attempts were used; once the relay is back, `send` again (a scheduled run: "
                f"`solidarity-mailer resume run {run_id}`)")
        ledger.set_run_state(engine, run_id, "paused", now=now, note=note, only_from=["running"])
        return "paused", note
    if outcome in ("paused", "cancelled"):
        return outcome, f"the run was {outcome} by another command"
    if outcome == "done":
        ledger.set_run_state(engine, run_id, "finished", now=now, only_from=["running"])
        return "finished", ""
    note = f"stopped after {limit} messages (--limit); send again to continue" if outcome == "limit" else (
        "interrupted; send again to continue")
    ledger.set_run_state(engine, run_id, "pending", now=now, note=note, only_from=["running"])
    return "pending", note


def _drive(
    shared: Shared, couriers: list[Courier], limiter: RateLimiter, sleep: Callable[[float], None], limit: int | None,
    holder: str,
) -> str:
    """Run the delivery loop and feed it; why feeding ended: done|limit|stopped|paused|cancelled|outage|lease lost."""
    jobs = JobQueue(maxsize=len(couriers) * 2)
    loop = DeliveryLoop(shared, couriers, jobs)
    loop.start()
    try:
        return _feed(shared, jobs, limiter, sleep, limit, holder)
    except BaseException:
        shared.stop.set()  # the loop starts nothing more; what it holds is still recorded
        raise
    finally:
        jobs.put(None)
        loop.join()
        jobs.waker.close()


def _feed(
    shared: Shared, jobs: JobQueue, limiter: RateLimiter, sleep: Callable[[float], None],
    limit: int | None, holder: str,
) -> str:
    engine, run_id, stop = shared.engine, shared.run_id, shared.stop
    fed, cursor = 0, ""

    def halted() -> str | None:
        if stop.is_set():
            return "paused" if shared.paused is not None else "stopped"
        state, holding = runlease.watch(engine, run_id)  # one read: cheap enough for every STATE_EVERY messages
        if state in ("paused", "cancelled"):
            stop.set()
            return state
        if holding != holder:
            return lose()
        return None

    def lose() -> str:  # (every caller returns at once: nothing looks again)
        stop.set()  # our senders stop at once: another process owns the run now
        return "lease lost"

    def wait(seconds: float) -> str | None:
        """Sleep in slices, renewing the lease and watching runs.state; why it was halted, if it was."""
        shared.writer.flush()  # commit queued outcomes before waiting
        slices = max(1, math.ceil(seconds / WAIT_SLICE))
        for _ in range(slices):
            sleep(seconds / slices)
            if why := renew() or halted():
                return why
        return None

    def renew() -> str | None:
        return None if runlease.renew(engine, run_id, holder, now=shared.now()) else lose()

    def back_off() -> str | None:
        """The relay is unreachable: wait (the policy's backoff, capped), or give up and pause the run."""
        jobs.join()  # the senders leave what is queued (it stays pending)
        pause_after = shared.unreachable_pause_seconds
        failing = (shared.now() - (shared.outage_since or shared.now())).total_seconds()
        if failing >= pause_after:
            return "outage"
        delay = min(shared.policy.delay(shared.outage_failures), OUTAGE_MAX_WAIT, pause_after - failing)
        why = wait(max(delay, 0.01))
        shared.outage.clear()
        return why

    while True:
        if why := halted():
            return why
        if shared.outage.is_set():
            if why := back_off():
                return why
            cursor = ""  # rows skipped during the outage are still pending: start over
        if why := renew():
            return why
        batch = ledger.due_batch(engine, run_id, now=shared.now(), after=cursor, limit=BATCH)
        if not batch:
            jobs.join()
            shared.writer.flush()  # everything handed out is recorded: deferred rows may now be due
            if cursor or shared.outage.is_set():
                cursor = ""
                continue
            retry_at = ledger.next_retry_at(engine, run_id)
            if retry_at is None:
                return "done"
            if why := wait(max((retry_at - shared.now()).total_seconds(), 0.01)):
                return why
            continue
        chunk: list[Delivery] = []
        for i, row in enumerate(batch, 1):
            if (limit is not None and fed >= limit) or shared.outage.is_set():
                break
            if i % STATE_EVERY == 0 and (why := halted()):
                jobs.put(chunk)  # hand over what was taken: once stopped, the senders leave it pending
                return why
            waiting = limiter.wait_time()
            if waiting > 0.0 and chunk:
                jobs.put(chunk)  # do not hold rows back while the rate limit makes us wait
                chunk = []
            if waiting > 0.5 and (why := wait(waiting)):
                return why
            if not limiter.acquire(stop.is_set):
                break
            chunk.append(row)
            fed += 1
            if len(chunk) >= CHUNK:
                jobs.put(chunk)
                chunk = []
        if chunk:
            jobs.put(chunk)
        if limit is not None and fed >= limit:
            jobs.join()
            return "limit"
        if not shared.outage.is_set():
            cursor = batch[-1].address
