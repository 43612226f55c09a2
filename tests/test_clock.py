"""Durations for people (outages, late firings): never "0 min"."""

from __future__ import annotations

import pytest

from solidarity_mailer.clock import duration


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"), (0.4, "0 s"), (2.6, "3 s"), (59, "59 s"), (119.4, "119 s"), (119.6, "2 min"), (1799, "29 min"),
    (7199, "119 min"), (7200, "2.0 h"), (90000, "25.0 h"), (-1, "0 s"),
])
def test_a_duration_is_seconds_under_two_minutes(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown
