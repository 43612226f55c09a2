"""Address validation (``audience/addresses.py``): the fast path for plain addresses gives exactly what the whole
email-validator path gives, for valid and invalid addresses alike."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from solidarity_mailer.audience import addresses
from solidarity_mailer.audience.addresses import Address, key, normalise_address

LONG_LABEL = "a" * 63
TRICKY = [
    "reader@example.org", "Reader.Name@Example.ORG", "r+tag@sub.example.org", "o'brien@example.ie",
    "a!#$%&'*+/=?^_`{|}~-@example.org", "Erin@XN--BCHER-KVA.Example.ORG", "erin@bücher.example.org",
    "ivan@пример.рф", "Ivan@ПРИМЕР.рф", "ayşe@example.org", "用户@例子.广告", "info@example.org", "Info@Example.org",
    "POSTMASTER@example.org", "news@example.org", "a@localhost", "a@b", "a@example", "a@test", "a@x.test",
    "a@example.local", "a@123.45", "a@example.123", "a@-example.org", "a@example-.org", "a@ab--cd.example.org",
    "a@xn--bcher-kva.example.org", "a@exa_mple.org", "a@exam ple.org", "a@@example.org", "a@example.org@x.org",
    ".a@example.org", "a.@example.org", "a..b@example.org", '"a b"@example.org', '"a"@example.org',
    "<a@example.org>", "A <a@example.org>", "a@[127.0.0.1]", "a@example.org.", "a@.example.org",
    "a@example..org", "a@EXAMPLE.ORG", "a@ｅｘａｍｐｌｅ.org", "a@example。org", "a@example.org\r\nBcc: x@example.net",
    "x" * 64 + "@example.org", "x" * 65 + "@example.org", f"a@{LONG_LABEL}.org", f"a@{LONG_LABEL}b.org",
    "a@" + ".".join([LONG_LABEL] * 3) + ".org", "x" * 60 + "@" + ".".join([LONG_LABEL] * 3) + ".org",
    "x" * 40 + "@" + ".".join(["bücher" + "a" * 50] * 3) + ".org", "a@\u202eexample.org", "a\u200b@example.org",
    "a@exam\u00adple.org", "a@ex\x00ample.org", "@example.org", "a@", "a",
]


def reference(text: str) -> Address | str:
    """What the whole email-validator path gives (the code before the fast path): an address or the error."""
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return f"invalid email address {text if len(text) <= 80 else text[:77] + '...'!r}: {exc}"
    if len(valid.local_part.encode("utf-8")) > 64:
        return "too long before the @-sign"
    return Address(valid.normalized, valid.ascii_email, key(valid.local_part, valid.ascii_domain, valid.domain))


def ours(text: str) -> Address | str:
    try:
        return normalise_address(text)
    except ValueError as exc:
        return "too long before the @-sign" if "longer than 64 bytes" in str(exc) else str(exc)


@pytest.mark.parametrize("text", TRICKY)
def test_the_fast_path_gives_what_email_validator_gives(text: str) -> None:
    addresses._domains.clear()
    first = ours(text)  # the domain not yet known, then known (or known refused)
    assert first == ours(text) == reference(text)


def test_a_plain_address_does_not_validate_its_domain_again(monkeypatch: pytest.MonkeyPatch) -> None:
    addresses._domains.clear()
    calls: list[str] = []

    def counted(text: str, **options: object) -> object:
        calls.append(text)
        return validate_email(text, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(addresses, "validate_email", counted)
    got = [normalise_address(f"Reader{i}@Example.org") for i in range(100)]
    assert len(calls) == 1 and got[7] == Address("Reader7@example.org", "Reader7@example.org", "reader7@example.org")
