"""A little disk space held back beside an SQLite ledger, given up when the disk fills so that what is already
in flight can still be recorded.

When the disk under the ledger fills in the middle of a run, the rows that the senders hold (sent, or claimed
and never handed over) would all be left ``sending``, that is ``uncertain``, and a resumed run would not send
the ones that never left. So the writer keeps a file of :data:`RESERVE_BYTES` beside the ledger (``<ledger>-reserve``)
and, on the first "disk full", deletes it and records the outcomes it has in hand in the room that made, before
the run stops (CockroachDB's "emergency ballast" works the same way). The next run makes the file again once
there is space. Hand-written: no library keeps such a reserve.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import Engine

RESERVE_BYTES = 1 << 20  # a commit of a few hundred outcomes in WAL pages, several times over


class DiskReserve:
    """The reserve file of one SQLite ledger file; ``path`` is None for other databases (nothing to hold)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def beside(cls, engine: Engine) -> DiskReserve:
        """The reserve beside ``engine``'s SQLite file (none for an in-memory or other database)."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return cls(None)
        return cls(Path(f"{url.database}-reserve"))

    def hold(self) -> None:
        """Make sure the reserve exists, if there is room for it (else there is simply none this time)."""
        if self.path is None or self.path.exists():
            return
        try:
            with self.path.open("wb") as fh:
                os.posix_fallocate(fh.fileno(), 0, RESERVE_BYTES)
        except OSError:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def give_up(self) -> bool:
        """Delete the reserve; True when that freed space."""
        if self.path is None:
            return False
        try:
            self.path.unlink()
        except OSError:
            return False
        return True
