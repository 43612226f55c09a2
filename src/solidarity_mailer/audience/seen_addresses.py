"""A set of strings that moves to a temporary on-disk SQLite table once it grows large, so memory stays flat.

Audience de-duplication keeps one key per distinct recipient. A Python set costs about 100 bytes a key
(~100 MB per million); past :data:`SPILL_AT` keys this set moves its keys into a private temporary
SQLite database (``sqlite3.connect("")``: on disk, deleted when closed) whose page cache is capped at
:data:`CACHE_KIB`. Exact (no hashing), and a lookup there costs a few microseconds, small beside the
address validation every row already needs.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

SPILL_AT = 20_000
CACHE_KIB = 4096


class SeenAddresses:
    """``key in keys`` and ``keys.add(key)``; use as a context manager (or call ``close``) to drop the file."""

    def __init__(self, spill_at: int | None = None) -> None:
        self._memory: set[str] | None = set()
        self._db: sqlite3.Connection | None = None
        self._spill_at = spill_at or SPILL_AT
        self.count = 0

    def __contains__(self, key: str) -> bool:
        if self._memory is not None:
            return key in self._memory
        assert self._db is not None
        return self._db.execute("SELECT 1 FROM k WHERE key = ?", (key,)).fetchone() is not None

    def add(self, key: str) -> None:
        """Add ``key`` (which must not be in the set yet)."""
        self.count += 1
        if self._memory is not None:
            self._memory.add(key)
            if len(self._memory) >= self._spill_at:
                self._spill()
            return
        assert self._db is not None
        self._db.execute("INSERT INTO k (key) VALUES (?)", (key,))

    @property
    def on_disk(self) -> bool:
        """True once the keys have moved to the temporary database."""
        return self._db is not None

    def _spill(self) -> None:
        db = sqlite3.connect("", isolation_level=None)
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("CREATE TABLE k (key TEXT PRIMARY KEY) WITHOUT ROWID")
        db.execute("BEGIN")
        db.executemany("INSERT INTO k (key) VALUES (?)", ((k,) for k in sorted(self._memory or ())))
        self._db, self._memory = db, None

    def close(self) -> None:
        """Free the memory or delete the temporary database."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._memory = set()
        self.count = 0

    def __enter__(self) -> SeenAddresses:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
