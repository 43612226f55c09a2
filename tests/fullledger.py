"""A ledger whose disk fills up in the middle of a run, for real: SQLite's own SQLITE_FULL ("database or disk is
full"), raised by SQLite itself, never by a mock, in two ways (:data:`KINDS`):

- ``tmpfs`` (root only, else skipped): the ledger on a small tmpfs; :meth:`Disk.fill` writes a file that takes
  every free block, :meth:`Disk.free` deletes it.
- ``page-limit`` (always): CLI processes started with :attr:`Disk.env` get a ``sitecustomize`` that caps every
  SQLAlchemy connection at :data:`MAX_PAGES` pages (``PRAGMA max_page_count``: past it SQLite fails writes as on
  a full disk); :meth:`Disk.fill` grows the file past that from another connection, as another process filling
  the disk would, and :meth:`Disk.free` drops that again (the freed pages are reused).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtpserver import RecordingHandler

KINDS = ("page-limit", "tmpfs")
MAX_PAGES = 2000

_SITECUSTOMIZE = f'''"""Test only (tests/fullledger.py): SQLAlchemy connections hold at most {MAX_PAGES} pages."""
from sqlalchemy import Engine, event


@event.listens_for(Engine, "connect")
def _cap(dbapi_connection, _record):
    dbapi_connection.execute("PRAGMA max_page_count = {MAX_PAGES}")
'''


@dataclass
class Disk:
    """The ledger's place (``db``), what a CLI process's environment needs (``env``), and fill/free."""

    kind: str
    db: Path
    env: dict[str, str] = field(default_factory=dict)

    def fill(self) -> None:
        """Fill the disk: the ledger can write nothing new."""
        if self.kind == "tmpfs":
            with (self.db.parent / "ballast").open("wb", buffering=0) as fh:
                for chunk in (1 << 20, 4096):  # to the last block, whatever the ledger writes meanwhile
                    with contextlib.suppress(OSError):
                        while fh.write(b"\0" * chunk):
                            pass
            return
        with closing(sqlite3.connect(self.db, timeout=30, isolation_level=None)) as conn:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute("CREATE TABLE IF NOT EXISTS ballast (b BLOB)")
            conn.execute("INSERT INTO ballast VALUES (zeroblob(?))", (MAX_PAGES * page,))

    def fill_at(self, handler: RecordingHandler, count: int) -> None:
        """Fill the disk while the real SMTP server behind ``handler`` takes its ``count``-th message."""
        def fill_the_disk(server: SMTP, session: Session, envelope: Envelope) -> None:
            if len(handler.received) == count:
                self.fill()

        handler.on_data = fill_the_disk

    def free(self) -> None:
        """Free the space :meth:`fill` took."""
        if self.kind == "tmpfs":
            (self.db.parent / "ballast").unlink()
            return
        with closing(sqlite3.connect(self.db, timeout=30, isolation_level=None)) as conn:
            conn.execute("DROP TABLE IF EXISTS ballast")


@contextmanager
def small_disk(kind: str, directory: Path) -> Iterator[Disk]:
    """A :class:`Disk` of ``kind`` for a ledger under ``directory`` (a tmpfs is unmounted at the end)."""
    if kind == "page-limit":
        hook = directory / "capped-ledger"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
        pythonpath = os.pathsep.join([str(hook), *filter(None, [os.environ.get("PYTHONPATH")])])
        yield Disk(kind, directory / "ledger.db", {"PYTHONPATH": pythonpath})
        return
    mount = directory / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield Disk(kind, mount / "ledger.db")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
