"""The rotation of a run's relays (``deliver/relays.py``): shares by weight, out of rotation with a back-off."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from solidarity_mailer.deliver.rate_limit import RateLimiter
from solidarity_mailer.deliver.relays import OUTAGE_MAX_WAIT, Relay, Rotation

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def room(_: Relay) -> bool:
    return True


def test_smooth_weighted_round_robin_interleaves_by_weight() -> None:
    heavy, light = Relay("heavy", weight=3), Relay("light", weight=1)
    rotation = Rotation([heavy, light], lambda n: 1.0)
    chosen = [rotation.choose(T0, room) for _ in range(400)]
    assert Counter(r.name for r in chosen if r) == {"heavy": 300, "light": 100}
    assert [r.name for r in chosen[:4] if r] == ["heavy", "heavy", "light", "heavy"]  # interleaved, not in runs


def test_the_relay_whose_turn_it_is_keeps_it_until_it_has_room() -> None:
    first, second = Relay("first"), Relay("second")
    rotation = Rotation([first, second], lambda n: 1.0)
    assert rotation.choose(T0, lambda r: r is not first) is None  # its turn: the row waits for it
    assert rotation.choose(T0, room) is first and rotation.choose(T0, room) is second


def test_a_relay_at_its_own_limit_is_skipped_and_the_wait_is_told() -> None:
    clock = [0.0]
    limited, free = Relay("limited", limiter=RateLimiter(2, clock=lambda: clock[0], burst=1)), Relay("free")
    rotation = Rotation([limited, free], lambda n: 1.0)
    assert [rotation.choose(T0, room) for _ in range(3)] == [limited, free, free]  # limited waits 0.5 s
    assert rotation.limit_wait(T0) is None  # "free" may go: nothing to wait for
    rotation.take_out(free, "connection failed", T0)
    assert rotation.limit_wait(T0) == 0.5 and rotation.choose(T0, room) is None
    clock[0] = 0.5
    assert rotation.choose(T0, room) is limited


def test_out_of_rotation_for_a_growing_back_off_then_back() -> None:
    first, second = Relay("first"), Relay("second")
    rotation = Rotation([first, second], lambda n: 10.0 * 2 ** (n - 1))
    assert rotation.take_out(first, "421 closing", T0) and not rotation.take_out(first, "again", T0)  # counted once
    assert first.out_until == T0 + dt.timedelta(seconds=10) and not rotation.all_out(T0)
    assert {rotation.choose(T0, room) for _ in range(5)} == {second}
    later = T0 + dt.timedelta(seconds=10)
    assert rotation.take_out(first, "refused", later)  # tried again, failed again: twice as long
    assert first.out_until == later + dt.timedelta(seconds=20)
    rotation.take_out(second, "refused", later)
    assert rotation.all_out(later) and rotation.seconds_until_back(later) == 10.0
    assert rotation.replies() == "first: refused; second: refused"
    rotation.back(first)
    assert first.failures == 0 and first.in_rotation(later)
    now = later
    for _ in range(20):  # failing again each time it is back: the back-off grows to its cap
        now = second.out_until or now
        assert rotation.take_out(second, "refused", now)
    assert second.failures == 21 and second.out_until == now + dt.timedelta(seconds=OUTAGE_MAX_WAIT)
