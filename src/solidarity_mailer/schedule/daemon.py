"""The scheduler daemon (``solidarity-mailer run``): APScheduler fires, our tables hold the truth.

- One daemon fires schedules per database: the leader, holding a lease in ``locks`` (``schedule/daemon_lease.py``),
  renewed at every sync. On SQLite a second daemon refuses to start, or with ``wait=True`` idles until the lease
  is free. On PostgreSQL every daemon is a worker: the others deliver the runs being sent (any run ``running``,
  scheduled or started by ``send``) beside the leader, and one of them takes the lease over when it expires.
  Nothing is sent twice: an occurrence has one ``fire_key`` (one run), the ledger hands a row to one sender.
- Every ``sync_seconds`` (2 s) the daemon reads ``schedules``: an active schedule whose next firing is
  past is processed at once (:func:`~solidarity_mailer.schedule.due_runs.process_due`: run within the grace
  period, else recorded as ``missed``); a future one gets an APScheduler date job at that instant
  (``misfire_grace_time`` set to the schedule's grace, ``coalesce=True``); jobs of paused or cancelled
  schedules are removed. So added, paused or cancelled schedules take effect within a sync interval.
- Runs are sent by one thread, one run after another (``schedule/run_queue.py``), with ``deliver_run``.
  On start it resumes scheduled runs left ``running`` (crash, ``kill -9``) or ``pending``; rows left
  ``sending`` become ``uncertain`` there. On SQLite, runs created by ``send`` are continued by ``send`` only.
- SIGTERM / SIGINT stop it gracefully: the current run stops between messages, stays ``pending`` and
  continues at the next start.
- When the ledger's disk is full (while sending, firing or renewing the lease) it logs one line and stops, and
  ``serve()`` raises :class:`LedgerFull`; started again once there is space, it resumes the run where it stopped.
- While the database is unreachable (PostgreSQL restarting) syncs back off (1 s doubling to 30 s) and it goes on
  when the database is back; so does the run being sent (``deliver/database_outage.py``).
- Time comes from a :class:`~solidarity_mailer.clock.Clock` (tests may speed it up); APScheduler waits the
  matching real time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from solidarity_mailer.clock import TEST_CLOCK_ENV, Clock, ScaledClock, SystemClock
from solidarity_mailer.config import Settings
from solidarity_mailer.deliver.dispatcher import RunSummary
from solidarity_mailer.deliver.senders import TransportFactory
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.full import LedgerFull, is_disk_full, location
from solidarity_mailer.ledger.queries import get_run, run_state
from solidarity_mailer.ledger.reachability import OutageLog, database_unreachable, loggable_url, reason
from solidarity_mailer.ledger.schema import connect
from solidarity_mailer.schedule import daemon_lease
from solidarity_mailer.schedule.due_runs import process_due
from solidarity_mailer.schedule.job_gate import JobGate
from solidarity_mailer.schedule.run_queue import Deliver, RunQueue, running_runs, scheduled_runs
from solidarity_mailer.schedule.schedules import Schedule, get_schedule, list_schedules

log = logging.getLogger("solidarity_mailer.schedule.daemon")

NO_LOCK_ENV = "SOLIDARITY_MAILER_TEST_NO_LOCK"  # TEST ONLY: skip the lease to prove the ledger alone is safe


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Daemon:
    """The scheduler of one database and its run queue, which sends the runs. ``start()``, then ``serve()`` or
    ``stop()``."""

    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None,
        deliver: Deliver | None = None, transport_factory: TransportFactory | None = None,
        sync_seconds: float = 2.0, use_lock: bool | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or connect(settings.database_url)
        self.clock: Clock = clock or SystemClock()
        if isinstance(self.clock, ScaledClock):
            log.warning("TEST clock from %s in use", TEST_CLOCK_ENV)
        self.sync_seconds = sync_seconds
        self.use_lock = (os.environ.get(NO_LOCK_ENV) != "1") if use_lock is None else use_lock
        self.holder = daemon_lease.new_holder()
        self.lease_ttl = dt.timedelta(seconds=settings.scheduler.lease_seconds)
        self.stopping = threading.Event()
        self.runs = RunQueue(self.engine, settings, self.clock, self.stopping, deliver=deliver,
                             transport_factory=transport_factory)
        self._fire_lock = threading.Lock()
        self._jobs = JobGate(self.stopping)
        self._scheduler: BackgroundScheduler | None = None
        self.lease_lost = False
        # PostgreSQL: several daemons deliver together, the leader (lease holder) fires the schedules
        self.shared = self.use_lock and self.engine.dialect.name == "postgresql"
        self.leader = False
        self.outage = OutageLog(self.engine, "the daemon", log)  # the database unreachable: syncs back off

    @property
    def last_summary(self) -> RunSummary | None:
        """The summary of the last run this daemon sent."""
        return self.runs.last_summary

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, *, wait: bool = False) -> None:
        """Take the lease (or raise / wait), resume interrupted runs, start APScheduler and the run queue."""
        if self.shared:
            other = daemon_lease.try_acquire(self.engine, self.holder, now=_real_now(), ttl=self.lease_ttl)
            self.leader = other is None
            if other is not None:
                log.info("another daemon (%s) holds the lease: this one delivers the runs being sent beside it, "
                         "waiting idle to fire schedules until it stops", other)
        elif self.use_lock and not self._take_lease(wait):
            return
        log.info("daemon %s started on %s; now %s UTC", self.holder, loggable_url(self.settings.database_url),
                 f"{self.clock.now():%Y-%m-%d %H:%M:%S}")
        if self.leader or not self.shared:
            self._resume_interrupted()
        self.runs.start()
        scheduler = BackgroundScheduler(
            timezone=dt.UTC, job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1}
        )
        scheduler.add_job(self.sync, "interval", seconds=self.sync_seconds, id="sync", next_run_time=_real_now(),
                          misfire_grace_time=None, coalesce=True)
        self._scheduler = scheduler
        scheduler.start()

    def _take_lease(self, wait: bool) -> bool:
        """Take the scheduler lease (a :class:`MailerError` if another daemon holds it), or with ``wait`` idle
        until it is free; False when stopped while waiting."""
        if not wait:
            daemon_lease.acquire(self.engine, self.holder, now=_real_now(), ttl=self.lease_ttl)
            return True
        return daemon_lease.wait_to_acquire(self.engine, self.holder, ttl=self.lease_ttl, stopping=self.stopping,
                                           every=self.sync_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop firing, let the current run stop between messages, release the lease."""
        self.stopping.set()
        self.runs.stop_current()
        if self._scheduler is not None and self._scheduler.running:
            self._jobs.shutdown(self._scheduler)
        self.runs.close(timeout)
        if self.use_lock:
            try:
                daemon_lease.release(self.engine, self.holder)
            except Exception as exc:  # a full disk keeps the lease: a daemon started here later takes it over at once
                if database_unreachable(exc):
                    log.warning("the scheduler lease was not released (database unreachable): it runs out by itself")
                elif not self._stop_if_full(exc):
                    raise
        log.info("daemon stopped")

    def serve(self) -> None:
        """Block until SIGTERM or SIGINT, then stop gracefully."""
        def handler(signum: int, _frame: object) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.stopping.set()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stopping.wait(1.0):
                pass
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            self.stop()
        if self.lease_lost:
            raise MailerError("stopped: another daemon took over the scheduler lease of this database",
                              hint="this daemon could not renew it in time (suspended or overloaded?); run only one")
        if self.runs.full is not None:
            raise self.runs.full

    def _stop_if_full(self, exc: Exception) -> bool:
        """When ``exc`` says the ledger's disk is full: log it (once) and stop; else False."""
        if not is_disk_full(exc):
            return False
        if self.runs.full is None:
            self.runs.full = LedgerFull(location(self.engine), "start the daemon again (`solidarity-mailer run`)")
            log.error("%s", self.runs.full.line())
        self.stopping.set()
        return True

    # -- scheduling ------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Renew the lease, process due schedules, (re)arm APScheduler jobs, pick up pending runs."""
        self._jobs.run(self._sync_logged)

    def _sync_logged(self) -> None:
        if not self.outage.due():
            return
        try:
            self._sync()
        except Exception as exc:  # a database hiccup must not kill the scheduler thread: try again next sync
            if database_unreachable(exc):
                self.outage.failed(exc)  # one line; the next syncs wait for the backoff's delay
            elif not self._stop_if_full(exc):
                log.exception("sync failed; retrying in %.0f s", self.sync_seconds)
            return
        self.outage.succeeded()

    def _resume_interrupted(self) -> None:
        for run_id in scheduled_runs(self.engine, ("running", "pending"), self.clock.now()):
            log.info("resuming run %d (interrupted)", run_id)
            self.runs.add(run_id)

    def _hold_lease(self) -> bool:
        """Renew the lease (a PostgreSQL worker tries to take it); False when this daemon must not fire."""
        now = _real_now()
        if self.shared and not self.leader:
            if daemon_lease.try_acquire(self.engine, self.holder, now=now, ttl=self.lease_ttl) is None:
                log.info("took over the scheduler lease: this daemon fires the schedules now")
                self.leader = True
                self._resume_interrupted()
            return self.leader
        if daemon_lease.renew(self.engine, self.holder, now=now, ttl=self.lease_ttl):
            return True
        if self.shared:
            log.warning("the scheduler lease was taken over by another daemon; this one goes on delivering")
            self.leader = False
            return False
        log.error("the scheduler lease was taken over by another daemon; stopping")
        self.lease_lost = True
        self.stopping.set()
        return False

    def _sync(self) -> None:
        if self.shared:
            for run_id in running_runs(self.engine):
                self.runs.add(run_id)  # every worker delivers what is being sent
        if self.use_lock and not self._hold_lease():
            return
        scheduler = self._scheduler
        now = self.clock.now()
        wanted: set[str] = set()
        for sched in list_schedules(self.engine, states=("active",)):
            if sched.next_fire_at is None:
                continue
            if sched.next_fire_at <= now:
                self._fire(sched.id)
                continue
            wanted.add(f"fire:{sched.id}")
            self._arm_job(sched)
        if scheduler is not None:
            for job in scheduler.get_jobs():
                if job.id.startswith("fire:") and job.id not in wanted:
                    job.remove()
        for run_id in scheduled_runs(self.engine, ("pending",), now):
            self.runs.add(run_id)
        current = self.runs.current_run()
        if current is not None and run_state(self.engine, current) in ("paused", "cancelled"):
            self.runs.stop_current()  # paused or cancelled by a command: stop between messages, not at the batch's end

    def _arm(self, schedule_id: int) -> None:
        """Arm the next occurrence right after a firing, not at the next sync."""
        try:
            sched = get_schedule(self.engine, schedule_id)
        except MailerError:
            return
        if sched.state == "active" and sched.next_fire_at is not None and sched.next_fire_at > self.clock.now():
            self._arm_job(sched)

    def _arm_job(self, sched: Schedule) -> None:
        """An APScheduler date job at the real instant of the schedule's next firing (unless already there)."""
        scheduler, instant = self._scheduler, sched.next_fire_at
        if scheduler is None or instant is None:
            return
        job_id = f"fire:{sched.id}"
        job = scheduler.get_job(job_id)
        if job is None or job.args[1] != instant:
            run_date = _real_now() + dt.timedelta(seconds=self.clock.real_delay(instant))
            scheduler.add_job(self._fire_job, "date", run_date=run_date, id=job_id, replace_existing=True,
                              args=[sched.id, instant], misfire_grace_time=max(sched.grace_seconds, 1),
                              coalesce=True)

    def _fire_job(self, schedule_id: int, instant: dt.datetime) -> None:
        delay = self.clock.real_delay(instant)
        if 0 < delay < 5:  # APScheduler woke a hair early on a test clock
            self.stopping.wait(delay + 0.001)
        self._jobs.run(lambda: self._fire(schedule_id))

    def _fire(self, schedule_id: int) -> None:
        try:
            self._fire_now(schedule_id)
        except Exception as exc:
            if database_unreachable(exc):  # the next sync after it is back fires it (or records it missed)
                log.warning("schedule %d: not fired now, the database is unreachable (%s); it fires once the "
                            "database is back, within its grace period", schedule_id, reason(exc))
            elif not self._stop_if_full(exc):
                log.exception("schedule %d: firing failed; retrying at the next sync", schedule_id)

    def _fire_now(self, schedule_id: int) -> None:
        with self._fire_lock:
            result = process_due(self.engine, schedule_id, self.clock.now())
        for run_id in result.missed:
            note = get_run(self.engine, run_id).note
            log.warning("schedule %d: run %d recorded as missed (%s)", schedule_id, run_id, note)
        for run_id in result.fired:
            log.info("schedule %d fired: run %d", schedule_id, run_id)
            self.runs.add(run_id)
        self._arm(schedule_id)

