"""Stopping the daemon while one of its APScheduler jobs is running: it must stop, not hang.

APScheduler 3's ``shutdown(wait=True)`` holds the scheduler's job-store lock while it waits for running jobs;
a job that then asks the scheduler for its jobs (the sync does) waits for that lock: neither ends. Seen as a
daemon that never exited after SIGTERM (tests/schedule/test_daemon.py, on a loaded machine).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from solidarity_mailer.schedule import daemon as daemon_module
from solidarity_mailer.schedule.daemon import Daemon
from tests.sendkit import settings_for, write_project


def test_stop_while_a_sync_is_reading_the_schedules_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, config = write_project(tmp_path, 2525, ["a@example.org"])
    daemon = Daemon(settings_for(config), sync_seconds=60)
    in_sync = threading.Event()
    real_list = daemon_module.list_schedules

    def list_while_stopping(*args: object, **kwargs: object) -> object:
        in_sync.set()  # the sync job is running: stop() now begins, and shuts APScheduler down meanwhile
        daemon.stopping.wait(10)
        threading.Event().wait(0.3)  # let shutdown take its locks before the job asks for its jobs
        return real_list(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(daemon_module, "list_schedules", list_while_stopping)
    daemon.start()
    assert in_sync.wait(10), "the first sync never ran"
    stopper = threading.Thread(target=daemon.stop, daemon=True)
    stopper.start()
    stopper.join(15)
    assert not stopper.is_alive(), "stop() hung: the sync job and APScheduler's shutdown wait for each other"
    daemon.engine.dispose()
