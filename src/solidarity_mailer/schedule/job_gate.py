"""APScheduler job bodies that never run while the scheduler shuts down.

APScheduler 3's ``shutdown(wait=True)`` holds the scheduler's job-store lock while it waits for the running
jobs; a job that then asks the scheduler for its jobs (the daemon's sync does, to arm and remove firings) waits
for that lock, and neither ends: the daemon hung after SIGTERM. Job bodies run under one lock here, and
:meth:`JobGate.shutdown` holds it around APScheduler's shutdown, so no body is running then and none begins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler


class JobGate:
    """Runs job bodies one at a time, none once ``stopping`` is set or while :meth:`shutdown` runs."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping
        self._running = threading.Lock()

    def run(self, body: Callable[[], None]) -> None:
        """``body()``, unless the daemon is stopping (checked while waiting for the gate, and once inside)."""
        while not self._running.acquire(timeout=0.1):
            if self.stopping.is_set():
                return
        try:
            if not self.stopping.is_set():
                body()
        finally:
            self._running.release()

    def shutdown(self, scheduler: BaseScheduler) -> None:
        """Shut ``scheduler`` down, waiting for its jobs (set ``stopping`` first, or jobs may still begin)."""
        with self._running:
            scheduler.shutdown(wait=True)
