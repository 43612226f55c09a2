"""SeenAddresses: the same answers in memory and after moving to its temporary SQLite file."""

from __future__ import annotations

from solidarity_mailer.audience.seen_addresses import SeenAddresses


def test_spills_to_disk_and_keeps_answering() -> None:
    with SeenAddresses(spill_at=50) as keys:
        for i in range(200):
            key = f"p{i}@example.org"
            assert key not in keys
            keys.add(key)
            assert key in keys
            assert keys.on_disk == (i >= 49)
        assert all(f"p{i}@example.org" in keys for i in range(200))
        assert "P1@example.org" not in keys and "p200@example.org" not in keys
        assert keys.count == 200
    assert not keys.on_disk and "p1@example.org" not in keys
