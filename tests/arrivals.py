"""Counting arrivals in time: how the rate-limit tests judge a limit (relays, the ledger's slots, workers)."""

from __future__ import annotations


def busiest_second(times: list[float]) -> int:
    """The most of ``times`` within any one-second window (half-open)."""
    times, start, most = sorted(times), 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most
