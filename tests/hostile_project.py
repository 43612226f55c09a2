"""A small project for hostile-input tests: files written on demand, a seeded ledger, and a way to run the CLI
(in this process or as a real subprocess) that records exit status, output and any escaped traceback."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from solidarity_mailer.cli import main
from solidarity_mailer.ledger import suppressions
from solidarity_mailer.ledger.schema import connect
from tests.processes import cli_command
from tests.sendkit import write_project
from tests.smtpserver import RecordingHandler

RECIPIENTS = ["reader1@example.org", "reader2@example.org"]
SUPPRESSED = "gone@example.org"  # seeded into the ledger, so a ledger that is replaced or emptied shows it


#: Run the CLI with at most 1024 open files: a command that opens a connection (or process) per configured
#: slot runs out of descriptors early instead of forking thousands of processes on a shared machine.
LOW_FD_LIMIT = ["sh", "-c", 'ulimit -n 1024 && exec "$@"', "sh"]


@dataclass
class SessionCountingHandler(RecordingHandler):
    """A recording handler that also counts SMTP sessions (EHLO or HELO): "untouched" means no session at all."""

    sessions: int = 0

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        with self.lock:
            self.sessions += 1
        return await super().handle_EHLO(server, session, envelope, hostname, responses)

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    def touched(self) -> tuple[int, int]:
        """(sessions, accepted messages) so far."""
        with self.lock:
            return self.sessions, len(self.received)


@dataclass
class Project:
    """``root`` holds campaigns/test.toml, recipients/list.csv, solidarity-mailer.toml and ledger.db (seeded)."""

    root: Path
    campaign: Path
    config: Path
    ledger: Path
    env: dict[str, str] = field(default_factory=dict)  # changes to the environment for this row ("" = unset)
    absent: list[Path] = field(default_factory=list)  # paths the command must not create
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)  # closed after the row ran

    def write(self, name: str, content: str | bytes) -> str:
        """Write ``root/name`` (folders created); its path as a string."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    def campaign_with(self, name: str, old: str, new: str) -> str:
        """A copy of the test campaign as ``campaigns/NAME`` with ``old`` replaced by ``new``."""
        text = self.campaign.read_text(encoding="utf-8")
        assert old in text, old
        return self.write(f"campaigns/{name}", text.replace(old, new))

    def configure(self, old: str, new: str) -> str:
        """Change the settings file in place (``old`` -> ``new``); its path."""
        text = self.config.read_text(encoding="utf-8")
        assert old in text, old
        self.config.write_text(text.replace(old, new), encoding="utf-8")
        return str(self.config)

    def mistype_ledger(self) -> Path:
        """Point ``[database] url`` at a folder that does not exist; the path it names."""
        target = self.root / "no-such-folder" / "ledger.db"
        self.configure('url = "sqlite:///ledger.db"', f'url = "sqlite:///{target}"')
        self.absent += [target, target.parent]
        return target


def make_project(root: Path, port: int) -> Project:
    """Write the project and seed its ledger (schema and one suppression)."""
    campaign, config = write_project(root, port, RECIPIENTS)
    ledger = root / "ledger.db"
    engine = connect(f"sqlite:///{ledger}")
    suppressions.add(engine, SUPPRESSED, "manual", detail="seeded by the test")
    engine.dispose()
    return Project(root, campaign, config, ledger)


def ledger_contents(path: Path) -> dict[str, list[tuple[object, ...]]] | None:
    """Every row of every table of the SQLite file at ``path`` (opened read-only), or None when it is absent."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
    finally:
        conn.close()


@dataclass
class Outcome:
    """What one invocation did: exit status (None: killed after the timeout), stdout, stderr."""

    status: int | None
    out: str
    err: str

    def describe(self) -> str:
        return f"exit {self.status}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def run_in_process(argv: list[str], capfd: pytest.CaptureFixture[str]) -> Outcome:
    """``main(argv)`` here; an exception escaping main() is recorded as the traceback a user would see."""
    capfd.readouterr()
    try:
        status: int | None = main(argv)
    except BaseException:  # exactly what escapes the CLI is what this test looks for
        status = 1
        escaped = traceback.format_exc()
    else:
        escaped = ""
    out, err = capfd.readouterr()
    return Outcome(status, out, err + escaped)


def run_subprocess(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Outcome:
    """The real console script; killed (status None) when it has not ended after ``timeout`` seconds."""
    environ = {k: v for k, v in {**os.environ, **env}.items() if v != ""}
    try:
        done = subprocess.run([*LOW_FD_LIMIT, *cli_command(), *argv], cwd=cwd, env=environ, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        err = (exc.stderr or b"").decode(errors="replace")
        return Outcome(None, out, err + f"\n(still running after {timeout:.0f} s: killed)")
    return Outcome(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


@contextlib.contextmanager
def fifo_writer(path: Path, content: bytes) -> Iterator[None]:
    """A FIFO at ``path`` whose writer hands ``content`` to whoever opens it for reading (and then closes),
    so a reader that wrongly accepts a FIFO gets a list instead of hanging; a reader that refuses it
    never opens it, and the writer just stops at the end of the block."""
    os.mkfifo(path)
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    return
                stop.wait(0.02)
                continue
            try:
                os.set_blocking(fd, True)
                os.write(fd, content)
            except OSError:
                pass
            finally:
                os.close(fd)
            return

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
