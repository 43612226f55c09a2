"""When a schedule fires: local times in IANA zones (DST-checked), 5-field cron, intervals.

Rules (tested in tests/schedule/test_recurrence.py):

- A one-off local time that does not exist in its zone (the DST gap, e.g. 2026-03-29 02:30 in
  Europe/Berlin) or that happens twice (the overlap, e.g. 2026-10-25 02:30 in Europe/Berlin) is refused
  with a :class:`MailerError` naming the transition and the valid choices. A time with an explicit UTC
  offset (``2026-10-25 02:30+01:00``) is unambiguous and accepted when that offset is the zone's.
- Cron expressions use crontab meanings, computed by APScheduler's ``CronTrigger`` in the zone. Day-of-week
  numbers follow crontab (0 or 7 = Sunday; APScheduler 3 itself counts 0 = Monday, so numbers are
  translated into names). Restricting both day-of-month and day-of-week is refused (crontab means
  "either", APScheduler "both").
- Across DST, APScheduler fires a time that falls in the gap once, shifted by the gap (``30 2 * * *``
  fires at 03:30 CEST on 2026-03-29, the instant 01:30 UTC), like Vixie cron. In the overlap it would fire
  a fixed-hour expression twice (02:30 CEST and 02:30 CET); we skip the second one, so a daily
  mailing goes out once. Expressions with ``*`` or a step in the hour field fire on every real hour.
- Intervals are elapsed time (``1h`` = 3600 s, whatever the clocks do); the zone is only for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from solidarity_mailer.errors import MailerError
from solidarity_mailer.send_window import machine_zone

_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_INTERVAL_SECONDS = 520 * 604800  # --every: at most 520w (ten years)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MailerError(f"unknown time zone '{name}'", hint="use an IANA name such as Europe/Berlin") from None


def default_zone() -> str:
    """The machine's IANA zone (``TZ``, else ``/etc/localtime``), else UTC."""
    return machine_zone()


def local_time(value: datetime | None, zone_name: str) -> str | None:
    """``value`` as wall-clock time in ``zone_name``, e.g. ``2026-12-07 09:00 -05`` (seconds when not 0)."""
    if value is None:
        return None
    local = value.astimezone(zone(zone_name))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z")


def _transition(lo: datetime, hi: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant in (lo, hi] whose UTC offset is hi's (to the second)."""
    target = hi.astimezone(tz).utcoffset()
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _fmt(naive: datetime) -> str:
    return naive.strftime("%Y-%m-%d %H:%M") if naive.second == 0 else naive.strftime("%Y-%m-%d %H:%M:%S")


def local_to_utc(naive: datetime, zone_name: str) -> datetime:
    """The UTC instant of a wall-clock time in a zone; refuses times in a DST gap or overlap."""
    tz = zone(zone_name)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    lo, hi = min(first, second), max(first, second)
    switch = _transition(lo, hi, tz)
    before, after = (switch - timedelta(seconds=1)).astimezone(tz), switch.astimezone(tz)
    off_before, off_after = before.utcoffset(), after.utcoffset()
    assert off_before is not None and off_after is not None
    wall_before = (switch + off_before).replace(tzinfo=None)
    wall_after = (switch + off_after).replace(tzinfo=None)
    name_before, name_after = before.tzname(), after.tzname()
    if first.astimezone(tz).replace(tzinfo=None) != naive:  # does not round-trip: the gap
        shifted = naive + (off_after - off_before)
        raise MailerError(
            f"{_fmt(naive)} does not exist in {zone_name}: the clocks jump from {wall_before:%H:%M} {name_before} "
            f"to {wall_after:%H:%M} {name_after} that day",
            hint=f"choose a time before {wall_before:%H:%M} or from {wall_after:%H:%M}, "
            f"e.g. '{_fmt(shifted)}'",
        )
    iso = naive.strftime("%Y-%m-%d %H:%M")

    def offset(d: timedelta) -> str:
        minutes = int(d.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    raise MailerError(
        f"{_fmt(naive)} is ambiguous in {zone_name}: the clocks fall back from {wall_before:%H:%M} {name_before} "
        f"to {wall_after:%H:%M} {name_after}, so it happens twice",
        hint=f"write '{iso}{offset(off_before)}' for the first ({name_before}) "
        f"or '{iso}{offset(off_after)}' for the second ({name_after})",
    )


def parse_at(text: str, zone_name: str) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM[:SS][±HH:MM]`` as a wall-clock time in ``zone_name``; the UTC instant."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        hint = "write it as 'YYYY-MM-DD HH:MM', e.g. '2026-12-07 09:00'"
        raise MailerError(f"cannot read the time '{text}'", hint=hint) from None
    if parsed.tzinfo is None:
        return local_to_utc(parsed, zone_name)
    instant = parsed.astimezone(UTC)
    local = instant.astimezone(zone(zone_name))
    if local.utcoffset() != parsed.utcoffset():
        raise MailerError(
            f"{text} has offset {parsed:%z}, but {zone_name} is at {local:%z} ({local.tzname()}) then",
            hint="drop the offset or fix the zone",
        )
    return instant


def parse_interval(text: str) -> int:
    """Seconds in ``90``, ``90s``, ``30m``, ``1h``, ``1h30m``, ``2d``, ``1w``; at least one second."""
    raw = text.strip().lower().replace(" ", "")
    if raw.isdigit():
        seconds = int(raw)
    else:
        parts = re.findall(r"(\d+)([smhdw])", raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise MailerError(f"cannot read the interval '{text}'", hint="write e.g. 30m, 1h, 1h30m, 1d or 1w")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < 1:
        raise MailerError(f"the interval '{text}' is empty", hint="use at least 1s")
    if seconds > MAX_INTERVAL_SECONDS:
        raise MailerError(f"the interval '{text}' is longer than 520w (ten years)", hint="use at most 520w")
    return seconds


def _dow_value(token: str) -> int:
    token = token.lower()
    if token in _DAYS:
        return _DAYS.index(token)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise ValueError(f"bad day of week '{token}'")


def _crontab_dow(field: str) -> str:
    """Translate a crontab day-of-week field (0/7 = Sunday) into APScheduler day names."""
    if field == "*" or not re.search(r"\d", field):
        return field
    days: set[int] = set()
    for item in field.split(","):
        rng, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _dow_value(a), int(b) if b.isdigit() else _dow_value(b)
            if hi == 0:  # "5-7" or "fri-sun" ends on Sunday
                hi = 7
        else:
            lo = _dow_value(rng)
            hi = 6 if step_text else lo
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def cron_trigger(expr: str, zone_name: str) -> CronTrigger:
    """An APScheduler trigger for a 5-field crontab expression, with crontab's meanings."""
    fields = expr.split()
    if len(fields) != 5:
        hint = "use 5: minute hour day-of-month month day-of-week"
        raise MailerError(f"cron expression '{expr}' has {len(fields)} fields", hint=hint)
    if fields[2] not in ("*", "?") and fields[4] not in ("*", "?"):
        raise MailerError(
            f"cron expression '{expr}' restricts both day of month and day of week",
            hint="crontab fires when either matches, APScheduler when both do: make two schedules",
        )
    try:
        fields[4] = _crontab_dow(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone=zone(zone_name))
    except ValueError as exc:
        raise MailerError(f"invalid cron expression '{expr}': {exc}") from None


@dataclass(frozen=True)
class Recurrence:
    """A schedule's rule. ``spec``: the UTC ISO instant (once), the crontab text (cron), seconds (interval).

    ``anchor`` is any occurrence of an interval schedule (its stored next firing): occurrences are
    ``anchor + k * interval``.
    """

    kind: str
    spec: str
    zone: str
    anchor: datetime | None = None

    def next_after(self, instant: datetime) -> datetime | None:
        """The first occurrence strictly after ``instant`` (UTC), or None when there is none."""
        instant = instant.astimezone(UTC)
        if self.kind == "once":
            at = datetime.fromisoformat(self.spec).astimezone(UTC)
            return at if at > instant else None
        if self.kind == "interval":
            step = timedelta(seconds=int(self.spec))
            anchor = (self.anchor or instant).astimezone(UTC)
            return anchor + step * ((instant - anchor) // step + 1)
        if self.kind == "cron":
            return self._cron_next(instant)
        raise MailerError(f"unknown schedule kind '{self.kind}'")

    def _cron_next(self, instant: datetime) -> datetime | None:
        trigger = cron_trigger(self.spec, self.zone)
        tz = zone(self.zone)
        hour_fixed = not re.search(r"[*/]", self.spec.split()[1])
        probe = instant + timedelta(microseconds=1)
        for _ in range(3):
            nxt = trigger.get_next_fire_time(None, probe.astimezone(tz))
            if nxt is None:
                return None
            utc = nxt.astimezone(UTC)
            wall = utc.astimezone(tz).replace(tzinfo=None)
            earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
            if not (hour_fixed and earlier < utc):
                return utc
            probe = utc + timedelta(microseconds=1)  # the overlap's repeat of a fixed time: skip it
        return None

    def first(self, now: datetime) -> datetime | None:
        """The first firing at or after ``now`` (a once schedule: its instant, even if past)."""
        if self.kind == "once":
            return datetime.fromisoformat(self.spec).astimezone(UTC)
        if self.kind == "interval":
            return now.astimezone(UTC) + timedelta(seconds=int(self.spec))
        return self.next_after(now - timedelta(microseconds=1))

    def describe(self) -> str:
        """Human wording: ``once at 2026-12-07 09:00 America/Lima``, ``cron '0 9 1 * *' Europe/Berlin``…"""
        if self.kind == "once":
            local = datetime.fromisoformat(self.spec).astimezone(zone(self.zone))
            return f"once at {_fmt(local)} {self.zone}"
        if self.kind == "interval":
            return f"every {format_seconds(int(self.spec))}"
        if self.kind == "local":
            return f"at {_fmt(datetime.fromisoformat(self.spec))} in each recipient's zone (else {self.zone})"
        return f"cron '{self.spec}' {self.zone}"


def format_seconds(seconds: int) -> str:
    """``5400`` → ``1h30m``."""
    out = ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
