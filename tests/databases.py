"""Where a test's ledger lives: every test that makes a ledger asks :func:`ledger_url`.

``pytest`` (``--database sqlite``, the default): an SQLite file. ``pytest --database postgresql``: a fresh
PostgreSQL database per path (tests/postgres.py), the same one each time the same path is asked for, so helpers
that reopen a test's ledger by its folder (``sendkit.rows(tmp_path)``) find it. Tests about SQLite itself are
marked ``sqlite_only`` and skipped under PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

from tests import postgres

KINDS = ("sqlite", "postgresql")
_kind = ["sqlite"]


def use(kind: str) -> None:
    """Set the database kind for this session (tests/conftest.py, from ``--database``)."""
    if kind not in KINDS:
        raise ValueError(kind)
    _kind[0] = kind


def kind() -> str:
    """``sqlite`` or ``postgresql``."""
    return _kind[0]


def on_postgresql() -> bool:
    return _kind[0] == "postgresql"


def ledger_url(directory: Path, name: str = "ledger.db", *, relative: bool = False) -> str:
    """The URL of the ledger ``name`` in ``directory``: ``sqlite:///DIRECTORY/NAME`` (``sqlite:///NAME`` when
    ``relative``: for a settings file in ``directory``), or that path's own PostgreSQL database."""
    if on_postgresql():
        return postgres.database(str((directory / name).absolute()))
    return f"sqlite:///{name}" if relative else f"sqlite:///{directory / name}"
