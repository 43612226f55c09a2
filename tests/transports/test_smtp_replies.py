"""SMTP replies classified: sent, deferred, failed, or a pause when the problem is ours."""

from __future__ import annotations

import pytest

from solidarity_mailer.transports import TransportPaused, Verdict
from solidarity_mailer.transports.smtp_replies import classify


@pytest.mark.parametrize(
    ("code", "reply", "verdict"),
    [
        (250, "2.0.0 ok", Verdict.SENT),
        (451, "4.3.0 later", Verdict.DEFER),
        (421, "4.7.0 too many connections", Verdict.DEFER),
        (550, "5.1.1 unknown", Verdict.FAIL),
        (552, "message too big", Verdict.FAIL),
    ],
)
def test_classify(code: int, reply: str, verdict: Verdict) -> None:
    assert classify(code, reply).verdict is verdict


@pytest.mark.parametrize(("code", "reply"), [(535, "5.7.8 bad credentials"), (530, "auth required"),
                                             (451, "4.7.1 rate limited"), (554, "5.7.1 blocked")])
def test_classify_pauses(code: int, reply: str) -> None:
    with pytest.raises(TransportPaused):
        classify(code, reply)


@pytest.mark.parametrize(("code", "reply", "verdict"), [(550, "5.7.1 Recipient address rejected", Verdict.FAIL),
                                                       (451, "4.7.1 greylisted", Verdict.DEFER)])
def test_classify_policy_reply_to_one_recipient(code: int, reply: str, verdict: Verdict) -> None:
    assert classify(code, reply, recipient=True).verdict is verdict


def test_classify_auth_required_at_rcpt_still_pauses() -> None:
    with pytest.raises(TransportPaused):
        classify(530, "5.7.0 authentication required", recipient=True)
