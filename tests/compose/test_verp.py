"""Signed VERP return paths: genuine, dated tags verify; moved, forged, unsigned, foreign or old ones do not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from solidarity_mailer.compose.verp import (
    TAG_VALIDITY_DAYS,
    TagCheck,
    Tagged,
    check,
    day_number,
    signed_verp,
    verp_key,
)

KEY = verp_key(b"verp-test-secret-0123456789")
BOUNCES = "bounces@lists.example.net"
TODAY = day_number(datetime(2026, 11, 18, 12, 0, tzinfo=UTC))


def test_a_genuine_tag_names_its_recipient() -> None:
    sent = signed_verp(KEY, BOUNCES, "Jo.Smith-x+news@example.org", TODAY)
    local = sent.partition("@")[0]
    assert sent.endswith("-Jo.Smith-x+news=example.org@lists.example.net") and local.startswith("bounces+")
    assert check(KEY, sent, BOUNCES, TODAY) == Tagged(TagCheck.VALID, "Jo.Smith-x+news@example.org", 0)
    # MTAs that fold the local part to lower case, and a bounce address spelt in capitals
    assert check(KEY, sent.lower(), BOUNCES.upper(), TODAY).check is TagCheck.VALID


def test_the_day_and_the_recipient_change_the_tag() -> None:
    a = signed_verp(KEY, BOUNCES, "a@example.org", TODAY)
    assert a != signed_verp(KEY, BOUNCES, "a@example.org", TODAY + 1)
    assert a.split("-")[0] != signed_verp(KEY, BOUNCES, "b@example.org", TODAY).split("-")[0]


@pytest.mark.parametrize(("address", "expected"), [
    ("bounces+alice=example.org@lists.example.net", TagCheck.FORGED),  # classic VERP: no tag at all
    ("bounces+alice-x=example.org@lists.example.net", TagCheck.FORGED),
    ("bounces+00000000000000-alice=example.org@lists.example.net", TagCheck.FORGED),  # a made-up tag
    ("bounces+alice=example.org@elsewhere.example", TagCheck.NOT_OURS),
    ("other+alice=example.org@lists.example.net", TagCheck.NOT_OURS),
    ("bounces@lists.example.net", TagCheck.NOT_OURS),
    ("bounces+a=b=c@lists.example.net", TagCheck.NOT_OURS),
])
def test_untagged_or_foreign_addresses(address: str, expected: TagCheck) -> None:
    assert check(KEY, address, BOUNCES, TODAY).check is expected


def test_a_tag_moved_to_another_recipient_or_made_with_another_key_is_forged() -> None:
    genuine = signed_verp(KEY, BOUNCES, "attacker@example.org", TODAY)
    moved = genuine.replace("-attacker=example.org@", "-victim=example.org@")
    assert check(KEY, moved, BOUNCES, TODAY) == Tagged(TagCheck.FORGED, "victim@example.org")
    other_key = signed_verp(verp_key(b"another-secret-0123456789"), BOUNCES, "victim@example.org", TODAY)
    assert check(KEY, other_key, BOUNCES, TODAY).check is TagCheck.FORGED
    assert check(None, genuine, BOUNCES, TODAY).check is TagCheck.FORGED  # no secret: nothing verifies
    truncated = genuine.replace(genuine[8:22], genuine[8:21])
    assert check(KEY, truncated, BOUNCES, TODAY).check is TagCheck.FORGED


def test_validity_in_days() -> None:
    def age(days: int) -> TagCheck:
        return check(KEY, signed_verp(KEY, BOUNCES, "a@example.org", TODAY - days), BOUNCES, TODAY).check

    assert age(TAG_VALIDITY_DAYS) is TagCheck.VALID
    assert age(TAG_VALIDITY_DAYS + 1) is TagCheck.EXPIRED
    assert age(-1) is TagCheck.VALID  # a sender's clock a little ahead
    assert age(-2) is TagCheck.EXPIRED
    old = signed_verp(KEY, BOUNCES, "a@example.org", TODAY - 400)
    assert check(KEY, old, BOUNCES, TODAY, validity_days=500) == Tagged(TagCheck.VALID, "a@example.org", 400)
    # the day code wraps every 65536 days: a tag of the day before the wrap is one day old after it
    assert check(KEY, signed_verp(KEY, BOUNCES, "a@example.org", 65535), BOUNCES, 65536).age_days == 1
