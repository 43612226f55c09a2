"""The bounce reader on real bounces of many servers (tests/data/bounces, from flufl.bounce's test data)."""

from __future__ import annotations

import pytest

from solidarity_mailer.bounces.dsn import Kind, parse
from tests.bounces.sample_set import SAMPLES, Sample, load, reading

CASES = load()


def test_the_set_has_permanent_and_temporary_failures_and_non_bounces() -> None:
    kinds = {s.kind for s in CASES}
    assert kinds == {"hard", "soft", "none"}
    assert len({s.family for s in CASES}) >= 15
    assert sorted(p.name for p in SAMPLES.glob("*.eml")) == sorted(s.path.name for s in CASES)


@pytest.mark.parametrize("sample", CASES, ids=[s.path.stem for s in CASES])
def test_each_real_bounce_is_understood(sample: Sample) -> None:
    """Kind (hard = permanent, soft = transient) and exactly the failed addresses the report names."""
    assert reading(parse(sample.path.read_bytes())) == (sample.kind, sample.addresses)


def test_a_transient_code_in_a_final_failure_stays_soft() -> None:
    """yahoo_01: the queue expired (#4.4.1); flufl.bounce calls it permanent, RFC 3463's class says transient."""
    parsed = parse((SAMPLES / "yahoo_01.eml").read_bytes())
    assert parsed.kind is Kind.SOFT and parsed.worst is not None and parsed.worst.status == "4.4.1"


def test_the_original_recipient_is_the_address_we_mailed() -> None:
    """dsn_01: Final-Recipient is an internal alias; Original-Recipient is what we addressed."""
    parsed = parse((SAMPLES / "dsn_01.eml").read_bytes())
    assert [(s.address, s.status) for s in parsed.statuses] == [("userx@example.com", "5.0.0")]


def test_a_detector_crash_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    """flufl.bounce logs a traceback when a detector fails on odd input: it must not reach the terminal."""
    data = b"From: \r\nSubject: failure notice\r\n\r\nno such user\r\n"
    assert parse(data).kind in set(Kind)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
