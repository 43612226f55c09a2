"""The suppression list: addresses that must not be mailed, for every list (scope ``"*"``) or one List-Id.

Rows live in the ``suppressions`` table of ledger/schema.py, keyed by (address key, scope). The address key
is :func:`~solidarity_mailer.audience.addresses.address_key` (local part lower-cased, IDNA ASCII domain), the same key
the audience de-duplicates on, so ``Alice@Example.org`` and ``alice@example.org`` are one entry. Reasons:
``unsubscribed`` (the web endpoint), ``bounced`` (bounce import), ``complained`` (feedback loops) and
``manual`` (maintainers). Every send consults it twice: :func:`lookup` (:func:`suppressed_keys`) when the lists
are read, and the claim in ledger/writer.py right before each message.

CSV form (export and import): ``address,scope,reason,detail,created_at`` with an ISO 8601 UTC time;
on import only ``address`` (or ``email``) is required: scope defaults to ``*``, reason to ``manual``.
Cells that a spreadsheet would run as a formula are written with a quote in front, which import takes
off again (:mod:`~solidarity_mailer.csv_cells`).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from solidarity_mailer.audience.addresses import address_key, normalise_address
from solidarity_mailer.audience.csv_rows import CsvRows
from solidarity_mailer.audience.lists import check_list_id
from solidarity_mailer.csv_cells import neutralise, restore
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.schema import aware, suppressions

if TYPE_CHECKING:
    from solidarity_mailer.compose.unsubscribe_tokens import Subscription

REASONS = ("unsubscribed", "bounced", "complained", "manual")
EVERY_LIST = "*"
CSV_COLUMNS = ("address", "scope", "reason", "detail", "created_at")


@dataclass(frozen=True)
class Suppression:
    """One suppression row."""

    address: str
    scope: str
    reason: str
    detail: str
    created_at: datetime


@dataclass
class ImportCounts:
    """What :func:`import_csv` did: rows added, rows updated, and the errors (``file:line: message``)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    blank: int = 0
    errors: list[str] = field(default_factory=list)


def _lookup_key(address: str) -> str:
    """The key for a lookup: normalised when the address is valid, else stripped and lower-cased."""
    try:
        return address_key(address)
    except ValueError:
        return address.strip().lower()


def _check(reason: str, scope: str) -> None:
    if reason not in REASONS:
        raise MailerError(f"unknown reason {reason!r}", hint=f"use one of {', '.join(REASONS)}")
    if scope != EVERY_LIST:
        check_list_id(scope, "scope")


def _utc(value: datetime) -> datetime:
    """``value`` in UTC for storing; naive counts as UTC (the one rule: :func:`~.schema.aware`)."""
    return aware(value).astimezone(UTC)  # type: ignore[union-attr]


def add(
    engine: Engine,
    address: str,
    reason: str,
    *,
    scope: str = EVERY_LIST,
    detail: str = "",
    now: datetime | None = None,
) -> bool:
    """Suppress ``address`` for ``scope``; idempotent. Returns True when the row is new.

    An existing row keeps its ``created_at`` and takes the new reason and detail. Raises
    :class:`MailerError` for an invalid address, reason or scope.
    """
    _check(reason, scope)
    try:
        key = address_key(address)
    except ValueError as exc:
        raise MailerError(str(exc)) from None
    created = _utc(now or datetime.now(UTC))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(suppressions).values(address=key, scope=scope, reason=reason, detail=detail, created_at=created)
            )
        return True
    except IntegrityError:
        with engine.begin() as conn:
            conn.execute(
                update(suppressions)
                .where(suppressions.c.address == key, suppressions.c.scope == scope)
                .values(reason=reason, detail=detail)
            )
        return False


def unsubscribe(engine: Engine, subscription: Subscription, *, detail: str,
                now: datetime | None = None) -> tuple[str, bool]:
    """Suppress what an unsubscribe token names (web page, one-click, mailto request): its list, or every
    list when the token has no list id or one that is no longer valid (say, the list file was edited),
    because an invalid id must not keep anyone subscribed. Returns (scope used, row is new); raises
    :class:`MailerError` only when the address itself cannot be stored."""
    scope = subscription.list_id or EVERY_LIST
    try:
        return scope, add(engine, subscription.address, "unsubscribed", scope=scope, detail=detail, now=now)
    except MailerError:
        if scope == EVERY_LIST:
            raise
    return EVERY_LIST, add(engine, subscription.address, "unsubscribed", scope=EVERY_LIST, detail=detail, now=now)


def remove(engine: Engine, address: str, scope: str = EVERY_LIST) -> bool:
    """Lift the suppression of ``address`` for ``scope``; True when there was one."""
    with engine.begin() as conn:
        result = conn.execute(
            delete(suppressions).where(suppressions.c.address == _lookup_key(address), suppressions.c.scope == scope)
        )
    return bool(result.rowcount)


def is_suppressed(engine: Engine, address: str, list_id: str = "") -> bool:
    """True when ``address`` is suppressed for every list or for ``list_id``."""
    scopes = [EVERY_LIST, list_id] if list_id else [EVERY_LIST]
    query = (
        select(suppressions.c.address)
        .where(suppressions.c.address == _lookup_key(address), suppressions.c.scope.in_(scopes))
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def lookup(engine: Engine | None) -> Callable[[str], set[str]] | None:
    """``suppressed_keys`` bound to ``engine``, as the audience stream takes it (None without a database)."""
    return None if engine is None else functools.partial(suppressed_keys, engine)


def suppressed_keys(engine: Engine, list_id: str = "") -> set[str]:
    """The keys of every address suppressed for all lists, plus those suppressed for ``list_id``."""
    condition = suppressions.c.scope == EVERY_LIST
    if list_id:
        condition = or_(condition, suppressions.c.scope == list_id)
    with engine.connect() as conn:
        return set(conn.execute(select(suppressions.c.address).where(condition)).scalars())


def iter_suppressions(engine: Engine, *, scope: str | None = None, reason: str | None = None) -> Iterator[Suppression]:
    """All rows (optionally one scope or reason), ordered by address and scope."""
    conditions = []
    if scope is not None:
        conditions.append(suppressions.c.scope == scope)
    if reason is not None:
        conditions.append(suppressions.c.reason == reason)
    query = select(suppressions).where(*conditions).order_by(suppressions.c.address, suppressions.c.scope)
    with engine.connect() as conn:
        for row in conn.execute(query):
            yield Suppression(row.address, row.scope, row.reason, row.detail, aware(row.created_at))


def export_csv(engine: Engine, fp: TextIO) -> int:
    """Write every suppression as CSV (``address,scope,reason,detail,created_at``), no cell a formula;
    return the row count."""
    writer = csv.writer(fp, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for s in iter_suppressions(engine):
        cells = (s.address, s.scope, s.reason, s.detail, s.created_at.isoformat())
        writer.writerow([neutralise(cell) for cell in cells])
        count += 1
    return count


def import_csv(engine: Engine, path: Path, *, now: datetime | None = None) -> ImportCounts:
    """Add (or update) the suppressions of a CSV file; bad rows are reported as ``file:line: message``."""
    counts = ImportCounts()
    if not Path(path).is_file():
        raise MailerError("suppression file not found", where=path)
    with Path(path).open("rb") as fp:
        columns: dict[str, int] | None = None
        rows = CsvRows(fp)
        for row in rows:
            if row.blank:
                counts.blank += 1 if columns is not None else 0
                continue
            if row.fields is None:
                counts.errors.append(f"{path}:{row.line}: {row.error}")
                if columns is None:
                    return counts
                continue
            if columns is None:
                columns = {name.strip().lower(): i for i, name in enumerate(row.fields)}
                if "address" not in columns and "email" in columns:
                    columns["address"] = columns["email"]
                if "address" not in columns:
                    counts.errors.append(f"{path}:{row.line}: the header row has no 'address' column")
                    return counts
                continue
            try:
                _import_row(engine, columns, row.fields, counts, now)
            except (ValueError, MailerError) as exc:
                counts.errors.append(f"{path}:{row.line}: {exc}")
                if row.last_line:
                    rows.reread()  # an open quote must not hide the rows after it
    return counts


def _import_row(
    engine: Engine, columns: dict[str, int], fields: list[str], counts: ImportCounts, now: datetime | None
) -> None:
    def get(name: str, default: str) -> str:
        return (restore(fields[columns[name]].strip()) if name in columns else "") or default

    key = normalise_address(get("address", "")).key
    scope, reason, detail = get("scope", EVERY_LIST), get("reason", "manual"), get("detail", "")
    stamp = get("created_at", "")
    try:
        created = _utc(datetime.fromisoformat(stamp)) if stamp else now
    except ValueError:
        example = "2026-01-31T12:00:00+00:00"
        raise ValueError(f"created_at {stamp[:40]!r} is not an ISO 8601 time such as {example}") from None
    existing = _find(engine, key, scope)
    if existing is not None and (existing.reason, existing.detail) == (reason, detail):
        counts.unchanged += 1
    elif add(engine, key, reason, scope=scope, detail=detail, now=created):
        counts.added += 1
    else:
        counts.updated += 1


def _find(engine: Engine, key: str, scope: str) -> Suppression | None:
    query = select(suppressions).where(suppressions.c.address == key, suppressions.c.scope == scope)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else Suppression(row.address, row.scope, row.reason, row.detail, aware(row.created_at))
