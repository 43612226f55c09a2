"""Time, passed in: the system clock, or (tests only) a shifted and sped-up clock.

The scheduler never reads ``datetime.now()`` itself; it asks a :class:`Clock`. A clock also converts
one of its instants into a real-time delay, so APScheduler (which waits in real time) can be told when
to wake up for an instant on a test clock.

TEST ONLY: the environment variable ``SOLIDARITY_MAILER_TEST_CLOCK`` gives the daemon a
:class:`ScaledClock`, e.g. ``start=2026-03-28T23:00:00+00:00,speed=3600`` (one simulated hour per real
second from that instant) or ``offset=7200`` (two hours ahead of real time); ``origin=UNIX_SECONDS`` pins
the real instant at which the clock showed ``start``, so several processes share one simulated timeline.
It exists so that tests of recurrences and misfires need no waiting; never set it in production.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from solidarity_mailer.errors import MailerError

TEST_CLOCK_ENV = "SOLIDARITY_MAILER_TEST_CLOCK"


def duration(seconds: float) -> str:
    """A span of time for people: ``45 s`` under two minutes, ``17 min`` under two hours, else ``3.5 h``
    (never ``0 min``)."""
    whole = max(0, round(seconds))
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min"
    return f"{whole / 3600:.1f} h"


class Clock(Protocol):
    """Where the scheduler gets the time from."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def real_delay(self, instant: datetime) -> float:
        """Real seconds from now until this clock shows ``instant`` (negative when past)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_delay(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds()


class ScaledClock:
    """A clock that started at ``start`` (real time when None) plus ``offset`` and runs ``speed`` times faster."""

    def __init__(self, start: datetime | None = None, *, speed: float = 1.0, offset: float = 0.0,
                 origin: float | None = None) -> None:
        if speed <= 0:
            raise MailerError(f"clock speed must be positive, not {speed}")
        self._real0 = time.time() if origin is None else origin
        base = start if start is not None else datetime.fromtimestamp(self._real0, UTC)
        self._fake0 = base.astimezone(UTC) + timedelta(seconds=offset)
        self.speed = speed

    def now(self) -> datetime:
        return self._fake0 + timedelta(seconds=(time.time() - self._real0) * self.speed)

    def real_delay(self, instant: datetime) -> float:
        return (instant - self.now()).total_seconds() / self.speed


def parse_clock_spec(spec: str) -> ScaledClock:
    """Parse ``start=ISO,speed=N,offset=SECONDS`` (every part optional) into a :class:`ScaledClock`."""
    parts: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in {"start", "speed", "offset", "origin"}:
            raise MailerError(f"bad {TEST_CLOCK_ENV} item '{item}'", hint="use start=ISO,speed=N,offset=S,origin=T")
        parts[key] = value
    try:
        start = datetime.fromisoformat(parts["start"]) if "start" in parts else None
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        origin = float(parts["origin"]) if "origin" in parts else None
        return ScaledClock(start, speed=float(parts.get("speed", 1)), offset=float(parts.get("offset", 0)),
                           origin=origin)
    except ValueError as exc:
        raise MailerError(f"bad {TEST_CLOCK_ENV}: {exc}") from None


def clock_from_env() -> Clock:
    """The system clock, unless the test-only ``SOLIDARITY_MAILER_TEST_CLOCK`` is set."""
    spec = os.environ.get(TEST_CLOCK_ENV, "").strip()
    return parse_clock_spec(spec) if spec else SystemClock()
