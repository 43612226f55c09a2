"""The daemon's scheduled runs waiting to be sent, and the one thread that sends them, one after another.

A run is queued once however often it is asked for (at start, at each sync, when a schedule fires). A run
that cannot be sent (a user mistake, an internal error) is paused with a note saying how to resume it; a
run another live process is sending is left to that process. When the ledger's disk is full nothing more can be
recorded: the run is left as it is (a restarted daemon resumes it) and the daemon is told to stop (``full``). When
the database is unreachable the thread waits for it with backoff, then sends the run again (it goes on).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable

from sqlalchemy import Engine, or_, select

from solidarity_mailer.clock import Clock
from solidarity_mailer.config import Settings
from solidarity_mailer.deliver import run_lease
from solidarity_mailer.deliver.dispatcher import RunDependencies, RunOptions, RunSummary
from solidarity_mailer.deliver.senders import TransportFactory
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.full import LedgerFull
from solidarity_mailer.ledger.queries import get_run, set_run_state
from solidarity_mailer.ledger.reachability import (
    MAX_DELAY,
    database_unreachable,
    loggable_url,
    ping,
    reason,
    wait_until_reachable,
)
from solidarity_mailer.ledger.schema import runs

log = logging.getLogger(__name__)

#: How a run is delivered: :func:`~solidarity_mailer.deliver.dispatcher.deliver_run` unless a test says otherwise.
Deliver = Callable[[Engine, int, Settings, RunOptions, RunDependencies], RunSummary]


def scheduled_runs(engine: Engine, states: tuple[str, ...], now: dt.datetime | None = None) -> list[int]:
    """The ids of runs made by schedules (not by ``send``) in ``states``, oldest first; with ``now``, not those
    waiting for a send window that opens later (``runs.resume_at``)."""
    stmt = (select(runs.c.id).where(runs.c.state.in_(states), runs.c.schedule_id.is_not(None))
            .order_by(runs.c.id))
    if now is not None:
        stmt = stmt.where(or_(runs.c.resume_at.is_(None), runs.c.resume_at <= now))
    with engine.connect() as conn:
        return [int(x) for x in conn.execute(stmt).scalars()]


def running_runs(engine: Engine) -> list[int]:
    """The ids of the runs being sent (``running``), scheduled or started by ``send``, oldest first."""
    with engine.connect() as conn:
        return [int(x) for x in conn.execute(select(runs.c.id).where(runs.c.state == "running").order_by(runs.c.id))
                .scalars()]


class RunQueue:
    """Runs to send and the thread that sends them. ``start()``, ``add(run_id)``…, then ``close()``.

    ``stopping`` is the daemon's: once set, no further run starts.
    """

    def __init__(self, engine: Engine, settings: Settings, clock: Clock, stopping: threading.Event, *,
                 deliver: Deliver | None = None, transport_factory: TransportFactory | None = None) -> None:
        if deliver is None:
            from solidarity_mailer.deliver.dispatcher import deliver_run as deliver
        self.engine, self.settings, self.clock, self.stopping = engine, settings, clock, stopping
        self.deliver: Deliver = deliver
        self.transport_factory = transport_factory
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._queued: set[int] = set()
        self._queued_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._current: tuple[int, threading.Event] | None = None  # the run being sent and its stop signal
        self.last_summary: RunSummary | None = None
        self.full: LedgerFull | None = None  # the ledger's disk filled up: ``stopping`` is set, the daemon stops

    def start(self) -> None:
        """Start the sending thread."""
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def add(self, run_id: int) -> None:
        """Queue ``run_id`` unless it is queued (or being sent) already."""
        with self._queued_lock:
            if run_id in self._queued:
                return
            self._queued.add(run_id)
        self._queue.put(run_id)

    def current_run(self) -> int | None:
        """The run being sent, if any."""
        current = self._current
        return current[0] if current is not None else None

    def stop_current(self) -> None:
        """Stop the run being sent between messages (it stays ``pending``, or as another command left it)."""
        current = self._current
        if current is not None:
            current[1].set()

    def close(self, timeout: float) -> None:
        """Stop the run being sent and the thread; wait for it at most ``timeout`` seconds."""
        self.stop_current()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            run_id = self._queue.get()
            if run_id is None or self.stopping.is_set():
                return
            again = False
            try:
                self._send(run_id)
            except Exception as exc:  # this thread must go on, whatever happened to one run
                again = self._after_error(run_id, exc)
            finally:
                with self._queued_lock:
                    self._queued.discard(run_id)
            if again:
                self.add(run_id)

    def _after_error(self, run_id: int, exc: Exception) -> bool:
        """An error from sending ``run_id`` that it could not record; True when the run is to be sent again: the
        database was unreachable (PostgreSQL restarting) and is back."""
        if not database_unreachable(exc):
            log.error("run %d stopped by an error that could not be recorded", run_id, exc_info=exc)
            return False
        log.warning("run %d: the database %s is unreachable (%s); trying again with backoff, up to %.0f s", run_id,
                    loggable_url(self.engine.url.render_as_string(hide_password=False)), reason(exc), MAX_DELAY)
        if not wait_until_reachable(lambda: ping(self.engine), sleep=self.stopping.wait,
                                    stopped=self.stopping.is_set):
            return False
        log.info("run %d: the database is back; the run goes on", run_id)
        return True

    def _send(self, run_id: int) -> None:
        run = get_run(self.engine, run_id)
        if run.state not in ("pending", "running"):
            return
        stop = threading.Event()
        self._current = (run_id, stop)
        if self.stopping.is_set():
            self._current = None
            return
        dependencies = RunDependencies(now=self.clock.now, stop=stop, transport_factory=self.transport_factory)
        try:
            options = RunOptions(only_while_running=run.state == "running")  # (joined, or resumed after a crash)
            summary = self.deliver(self.engine, run_id, self.settings, options, dependencies)
        except LedgerFull as exc:  # nothing more can be recorded, for any run: stop (a restart resumes this one)
            log.error("run %d: %s", run_id, exc.line())
            self.full = exc
            self.stopping.set()
            return
        except MailerError as exc:
            if run_lease.held_by_another(self.engine, run_id, now=self.clock.now()):
                log.warning("run %d: %s; leaving it to that process", run_id, exc.line())
                return
            log.error("run %d cannot be sent: %s", run_id, exc.line())
            set_run_state(self.engine, run_id, "paused", now=self.clock.now(), only_from=("pending", "running"),
                          note=f"cannot be sent: {exc.line()}; fix it, then `solidarity-mailer resume run {run_id}`")
            return
        except Exception as exc:
            if database_unreachable(exc):
                raise  # not the run's fault: it goes on once the database is back (_after_error)
            log.exception("run %d failed", run_id)
            set_run_state(self.engine, run_id, "paused", now=self.clock.now(), only_from=("pending", "running"),
                          note=f"internal error: {exc!r}; `solidarity-mailer resume run {run_id}` to retry")
            return
        finally:
            self._current = None
        self.last_summary = summary
        for earlier in summary.already_received:
            log.info("run %d: %s", run_id, earlier.line())
        log.info("%s", summary.line())
