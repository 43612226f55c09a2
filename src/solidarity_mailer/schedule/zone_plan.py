"""The plan of a ``--recipient-time`` schedule: one batch per zone of its recipients, each at the schedule's
wall-clock time in that zone.

A recipient's zone is the list's ``tz`` column, else the schedule's zone (``--tz``): those without one join the
batch of that zone. A batch's instant comes from :func:`~solidarity_mailer.send_window.wall_instant`, which never
refuses (a DST gap moves the time forward by the gap, an ambiguous time is its first occurrence). The plan is
stored as JSON in ``schedules.plan``, made when scheduling and made again at each firing from the lists as they
are then (schedule/zone_batches.py). A batch is ``planned``, ``fired`` (its run is ``run``), ``missed`` (too late
for the grace period: recorded as a ``missed`` run) or ``skipped`` (``--late skip``: left out).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from solidarity_mailer.audience.lists import RowError
from solidarity_mailer.audience.stream import iter_audience
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.suppressions import lookup
from solidarity_mailer.send_window import wall_instant, zone_or_none

ZONE_ERROR = "in column 'tz'"  # the mark of a list row refused for its zone (audience/lists.py)


@dataclass(frozen=True)
class Batch:
    """The recipients of one zone, due at ``at`` (aware UTC)."""

    zone: str
    at: dt.datetime
    recipients: int
    state: str = "planned"  # planned | fired | missed | skipped
    run: int | None = None  # the run of a fired (or missed) batch

    def as_plan_entry(self) -> dict[str, object]:
        """``{"zone", "at", "recipients"}`` as ``campaigns --json`` shows it (UTC, ISO 8601 with Z)."""
        return {"zone": self.zone, "at": utc_text(self.at), "recipients": self.recipients}


def utc_text(instant: dt.datetime) -> str:
    """``2026-12-08T03:30:00Z``."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dump_plan(batches: Iterable[Batch]) -> str:
    """The plan as stored in ``schedules.plan``."""
    return json.dumps([{**asdict(b), "at": utc_text(b.at)} for b in batches])


def load_plan(text: str | None) -> list[Batch]:
    """The stored plan, in order of instant (then zone)."""
    rows = json.loads(text or "[]")
    batches = [Batch(r["zone"], dt.datetime.fromisoformat(r["at"].replace("Z", "+00:00")), int(r["recipients"]),
                     r.get("state", "planned"), r.get("run")) for r in rows]
    return sorted(batches, key=lambda b: (b.at, b.zone))


def parse_wall_time(text: str) -> dt.datetime:
    """``YYYY-MM-DD HH:MM[:SS]``, a wall-clock time without zone or offset."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise MailerError(f"cannot read the time '{text}'",
                          hint="write it as 'YYYY-MM-DD HH:MM', e.g. '2026-12-07 09:00'") from None
    if parsed.tzinfo is not None:
        raise MailerError(f"--recipient-time takes a wall-clock time without offset, not '{text}'",
                          hint="drop the offset: the time is read in each recipient's zone")
    return parsed


def zone_counts(engine: Engine, lists: Iterable[Path], fallback: str, *, strict: bool) -> Counter[str]:
    """How many recipients each zone has (valid, de-duplicated, not suppressed; no zone: ``fallback``). With
    ``strict``, a row whose zone is unknown is refused (one line, ``file:line``) rather than counted invalid."""
    found: Counter[str] = Counter()

    def on_error(error: RowError) -> None:
        if strict and ZONE_ERROR in error.message:
            raise MailerError(error.message, where=f"{error.file}:{error.line}",
                              hint="fix the zone (or leave the cell empty for the schedule's zone)")

    for recipient in iter_audience(list(lists), lookup(engine), on_error=on_error):
        found[recipient.tz or fallback] += 1
    return found


def batches_for(wall: dt.datetime, counts: Counter[str]) -> list[Batch]:
    """One planned batch per zone with recipients, at ``wall`` in that zone, in order of instant."""
    batches = []
    for name, n in counts.items():
        zone = zone_or_none(name)
        if zone is None or not n:
            continue
        batches.append(Batch(name, wall_instant(wall, zone), n))
    return sorted(batches, key=lambda b: (b.at, b.zone))


def refresh(plan: list[Batch], fresh: list[Batch]) -> list[Batch]:
    """The stored plan updated from the lists as they are now: a planned batch takes the new count, a zone new
    to the plan becomes a planned batch; fired, missed and skipped batches stay as they were."""
    by_zone = {b.zone: b for b in plan}
    for new in fresh:
        old = by_zone.get(new.zone)
        if old is None:
            by_zone[new.zone] = new
        elif old.state == "planned":
            by_zone[new.zone] = replace(old, recipients=new.recipients)
    return sorted(by_zone.values(), key=lambda b: (b.at, b.zone))


def next_instant(plan: Iterable[Batch]) -> dt.datetime | None:
    """The instant of the earliest batch still planned."""
    return min((b.at for b in plan if b.state == "planned"), default=None)
