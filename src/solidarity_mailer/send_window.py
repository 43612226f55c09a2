"""Send windows: the hours (``"08:00-20:00"``) and days (``"mon-fri"``) a recipient may receive mail, judged
on the wall clock of a zone, and wall-clock times that never refuse.

:func:`wall_instant` is the one rule for a wall-clock time in a zone that must not be refused (a per-recipient
schedule, a window's opening): a time in a DST gap moves forward by the gap's length (02:30 in a 02:00–03:00
gap becomes 03:30), an ambiguous one is its first occurrence (``fold=0``); Python's ``zoneinfo`` does exactly
that when the offset before the transition is applied. :meth:`SendWindow.opening` tells whether a window is
open at an instant and, when it is not, when it opens next.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
HOURS_HINT = 'write it as "HH:MM-HH:MM" with the start before the end, e.g. "08:00-20:00"'
DAYS_HINT = 'write days as "mon-fri", "sat,sun" or "mon-wed,fri" (mon tue wed thu fri sat sun)'


def machine_zone() -> str:
    """The machine's IANA zone (``TZ``, else ``/etc/localtime``), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    return next((name for name in candidates if name and zone_or_none(name) is not None), "UTC")


def zone_or_none(name: str) -> ZoneInfo | None:
    """The IANA zone ``name``, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def recipient_zone(raw: str) -> str | None:
    """A list's ``tz`` cell: an IANA zone name, None when empty; ValueError naming an unknown one."""
    name = raw.strip()
    if not name:
        return None
    if zone_or_none(name) is None:
        raise ValueError(f"unknown time zone {name[:60]!r} in column 'tz': use an IANA name such as "
                         "'Europe/Berlin' or 'America/Lima'")
    return name


def wall_instant(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a wall-clock time in ``zone``, never refused: forward by a DST gap, the first
    occurrence in an overlap."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)


def parse_hours(text: str) -> tuple[int, int]:
    """``"08:00-20:00"`` → minutes after midnight (480, 1200); ValueError saying what is wrong."""
    match = _HOURS_RE.match(text.strip().replace(" ", ""))
    if not match:
        raise ValueError(f"cannot read the hours {text!r}")
    start_h, start_m, end_h, end_m = (int(x) for x in match.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or end > 24 * 60:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    if start >= end:
        raise ValueError(f"{text!r} ends before it starts (a window lies within one day)")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """``"mon-fri"`` → {0, 1, 2, 3, 4} (Monday is 0); ranges may wrap (``"fri-mon"``); ValueError."""
    days: set[int] = set()
    for item in (part.strip().lower() for part in text.split(",")):
        first, dash, last = item.partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):  # ("sat-": a range without its end)
            raise ValueError(f"cannot read the days {text!r}")
        lo, hi = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update(d % 7 for d in range(lo, hi + 1 if hi >= lo else hi + 8))
    return frozenset(days)


@dataclass(frozen=True)
class SendWindow:
    """When mail may go out: ``hours`` (start, end) in minutes after midnight, ``days`` (0 = Monday); None
    for either means no limit. ``text`` says it for people (``08:00-20:00 mon-fri``)."""

    hours: tuple[int, int] | None = None
    days: frozenset[int] | None = None
    text: str = ""

    @property
    def limits(self) -> bool:
        """True when the window ever closes."""
        return self.hours is not None or (self.days is not None and len(self.days) < 7)

    def opening(self, instant: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
        """None when the window is open at ``instant`` in ``zone``; else the UTC instant it opens next."""
        if not self.limits:
            return None
        start, end = self.hours or (0, 24 * 60)
        local_day = instant.astimezone(zone).date()
        for offset in range(9):
            day = local_day + dt.timedelta(days=offset)
            if self.days is not None and day.weekday() not in self.days:
                continue
            midnight = dt.datetime.combine(day, dt.time())
            opens = wall_instant(midnight + dt.timedelta(minutes=start), zone)
            closes = wall_instant(midnight + dt.timedelta(minutes=end), zone)
            if instant < opens:
                return opens
            if instant < closes:
                return None
        raise ValueError(f"the send window {self.text!r} never opens")  # (parse_days refuses an empty set)


def send_window(hours: str | None, days: str | None) -> SendWindow:
    """The window of ``hours`` and ``days`` strings already checked (None: no limit)."""
    text = " ".join(x for x in (hours, days) if x)
    return SendWindow(parse_hours(hours) if hours else None, parse_days(days) if days else None, text)
