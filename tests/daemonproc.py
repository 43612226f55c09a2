"""Real daemon processes for tests: ``solidarity-mailer run`` in a subprocess, plus CLI calls and polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from solidarity_mailer.ledger.schema import connect, deliveries, runs
from tests.databases import ledger_url
from tests.ledgerfile import existing_ledger
from tests.starter import CAMPAIGN

_MAIN = "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))"


def write_list(path: Path, count: int) -> list[str]:
    """A CSV list of ``count`` recipients; returns their addresses."""
    addresses = [f"member{i:03d}@example.org" for i in range(count)]
    path.write_text("email,name\n" + "".join(f"{a},Member {i}\n" for i, a in enumerate(addresses)), encoding="utf-8")
    return addresses


@dataclass
class Env:
    """A config (real SMTP server port, the test's ledger: tests/databases.py) and the environment for CLI and
    daemon processes."""

    tmp: Path
    smtp_port: int
    extra: dict[str, str] = field(default_factory=dict)
    concurrency: int = 1
    per_second: float = 0
    database_url: str = ""  # a database of the test's own (else the test's ledger: tests/databases.py)
    delivery: str = ""  # more lines of [delivery] ("lease_seconds = 5\n")
    _engine: Engine | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.config = self.tmp / "solidarity-mailer.toml"
        self.db_path = self.tmp / "ledger.db"
        if self.database_url:
            connect(self.database_url).dispose()
        self.config.write_text(
            f'[smtp]\nhost = "127.0.0.1"\nport = {self.smtp_port}\ntimeout = 10\n\n'
            f'[database]\nurl = "{self.database_url or existing_ledger(self.db_path)}"\n\n'
            f"[delivery]\nconcurrency = {self.concurrency}\nper_second = {self.per_second}\nretry_base_seconds = 1\n"
            f"retry_max_seconds = 2\n{self.delivery}",
            encoding="utf-8",
        )

    @property
    def db_url(self) -> str:
        """The ledger's URL: ``database_url``, the SQLite file ``db_path``, or its PostgreSQL database."""
        return self.database_url or ledger_url(self.db_path.parent, self.db_path.name)

    def environ(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
        env.update({"SOLIDARITY_MAILER_SECRET": "test-secret-0123456789abcdef", "PYTHONUNBUFFERED": "1"})
        env.update(self.extra)
        env.update(more)
        return env

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a CLI command with this config; returns the completed process (text output)."""
        argv = [sys.executable, "-c", _MAIN, *args, "--config", str(self.config)]
        return subprocess.run(argv, capture_output=True, text=True, env=self.environ(**env), timeout=60, check=False)

    def schedule(self, *args: str, **env: str) -> int:
        """``schedule CAMPAIGN ARGS…``; returns the new schedule's id."""
        done = self.cli("schedule", str(CAMPAIGN), *args, **env)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split(":", 1)[0].removeprefix("schedule "))

    def campaigns(self) -> list[dict[str, Any]]:
        done = self.cli("campaigns", "--json")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))

    def engine(self) -> Engine:
        """The ledger's engine: one per Env, kept for its polls (an engine per poll left a connection open
        each until garbage collection; tests/conftest.py disposes it when the test ends)."""
        if self._engine is None:
            self._engine = connect(self.db_url)
        return self._engine


class Daemon:
    """``solidarity-mailer run`` as a child process, its output in a log file."""

    def __init__(self, env: Env, name: str = "daemon", *args: str, **extra_env: str) -> None:
        self.log_path = env.tmp / f"{name}.log"
        argv = [sys.executable, "-c", _MAIN, "run", "--config", str(env.config), *args]
        self._log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env.environ(**extra_env))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_log(self, text: str, timeout: float = 20.0) -> None:
        wait_for(lambda: text in self.log(), timeout, f"{text!r} in the daemon log:\n{self.log()}")

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit on its own; its exit status."""
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, like a crash or a power cut."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the graceful stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every run as a dict (id, fire_key, state, note), oldest first."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(runs.c.id, runs.c.fire_key, runs.c.state, runs.c.note)
                                                       .order_by(runs.c.id))]


def delivery_states(engine: Engine, run_id: int) -> dict[str, str]:
    """address -> state for one run."""
    with engine.connect() as conn:
        stmt = select(deliveries.c.address, deliveries.c.state).where(deliveries.c.run_id == run_id)
        return {r.address: r.state for r in conn.execute(stmt)}


def local_at(seconds_ahead: float) -> tuple[str, float]:
    """A UTC wall-clock time ``seconds_ahead`` from now (whole seconds) for ``--at``, and its epoch."""
    target = int(time.time() + seconds_ahead) + 1
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(target)), float(target)


def start_send(env: Env, name: str, members: Path) -> subprocess.Popen[str]:
    """``send`` of the test campaign to ``members`` as a child process (one more worker), its output in NAME.log."""
    argv = [sys.executable, "-c", _MAIN, "send", str(CAMPAIGN), "--list", str(members), "--config", str(env.config)]
    with (env.tmp / f"{name}.log").open("w", encoding="utf-8") as log:  # the child keeps its own copy
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True, env=env.environ())


def workers_that_sent(engine: Engine) -> int:
    """How many workers have sent at least one message."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(deliveries.c.worker)))
                                .where(deliveries.c.state == "sent")).scalar_one())
