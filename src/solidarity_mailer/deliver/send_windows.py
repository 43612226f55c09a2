"""The send window of a run being delivered: rows whose recipient's window is closed are held, not sent.

The window is the campaign's (``window``, ``days`` in ``[campaign]``) key by key over the settings' ``[window]``;
it is judged in the recipient's zone (the list's ``tz`` column), else the run's: a batch's zone, the schedule's,
``[scheduler] timezone``, the machine's. The feeder asks :meth:`WindowGate.holds` for each row before it passes
the rate limiter (a held row takes none of its slots), and again after a long wait; held rows get their window's
next opening (``ledger/held_rows.py``) when the feeder renews its lease or runs out of due rows
(:meth:`WindowGate.flush`), so ``status`` counts them while the run still sends others. When only
held rows are left, the run stops ``pending`` and waits (:meth:`WindowGate.wait`): the daemon takes it up at the
opening, ``send`` waits in the foreground.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.config import Settings
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.ledger.held_rows import hold, next_opening, schedule_zone, wait_for_window
from solidarity_mailer.send_window import SendWindow, machine_zone, send_window, zone_or_none


class WindowGate:
    """Holds back the rows of run ``run_id`` whose recipient's window is closed (zone ``default_zone`` for rows
    without one)."""

    def __init__(self, engine: Engine, run_id: int, window: SendWindow, default_zone: str) -> None:
        self.engine, self.run_id, self.window, self.default_zone = engine, run_id, window, default_zone
        self._zones: dict[str, ZoneInfo] = {}
        self._held: dict[str, dt.datetime] = {}

    def _zone(self, row: Delivery) -> ZoneInfo:
        name = json.loads(row.fields).get("tz") if '"tz"' in row.fields else None
        name = name or self.default_zone
        if name not in self._zones:
            self._zones[name] = zone_or_none(name) or ZoneInfo("UTC")  # (list zones are checked when read)
        return self._zones[name]

    def holds(self, row: Delivery, now: dt.datetime) -> bool:
        """True when ``row`` must wait for its window (remembered until :meth:`flush`)."""
        opens = self.window.opening(now, self._zone(row))
        if opens is None:
            return False
        self._held[row.address] = opens
        return True

    def flush(self, now: dt.datetime) -> None:
        """Write the rows held since the last flush to the ledger."""
        held, self._held = self._held, {}
        hold(self.engine, self.run_id, held, now=now)

    def opening(self, now: dt.datetime) -> dt.datetime | None:
        """When the earliest held row of the run may go (None when none is held)."""
        return next_opening(self.engine, self.run_id, now=now)[0]

    def wait(self, now: dt.datetime) -> tuple[str, str]:
        """Stop the run ``pending`` until the earliest opening; returns (state, note)."""
        opens, held = next_opening(self.engine, self.run_id, now=now)
        assert opens is not None
        local = opens.astimezone(ZoneInfo(self.default_zone))
        note = (f"waiting for the send window ({self.window.text}): {held} recipient(s) continue at "
                f"{opens:%Y-%m-%dT%H:%M:%SZ} ({local:%Y-%m-%d %H:%M} {self.default_zone})")
        ledger.set_run_state(self.engine, self.run_id, "pending", now=now, note=note, only_from=["running"])
        wait_for_window(self.engine, self.run_id, opens, note=note)
        return "pending", note


def window_of(campaign: Campaign, settings: Settings) -> SendWindow:
    """The campaign's window, key by key over the settings' ``[window]``."""
    return send_window(campaign.window or settings.window.hours, campaign.days or settings.window.days)


def run_zone(engine: Engine, run: ledger.Run, settings: Settings) -> str:
    """The zone of a run's recipients without one: its batch's, its schedule's, the configured, the machine's."""
    return run.zone or schedule_zone(engine, run.schedule_id) or settings.scheduler.timezone or machine_zone()


def window_gate(engine: Engine, run_id: int, campaign: Campaign, settings: Settings) -> WindowGate | None:
    """The gate of run ``run_id``, or None when its window never closes."""
    window = window_of(campaign, settings)
    if not window.limits:
        return None
    return WindowGate(engine, run_id, window, run_zone(engine, ledger.get_run(engine, run_id), settings))
