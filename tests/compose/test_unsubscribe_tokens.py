"""Unsubscribe tokens: one canonical spelling, bound to list and address, unforgeable without the secret."""

from __future__ import annotations

import base64

import pytest

from solidarity_mailer.compose.unsubscribe_tokens import load_secret, make_token, verify_token
from solidarity_mailer.errors import MailerError

SECRET = b"test-secret-0123456789abcdef"


def test_round_trip_lower_cases_the_address() -> None:
    token = make_token(SECRET, "news", "Alice@Example.ORG")
    sub = verify_token(SECRET, token)
    assert sub is not None and (sub.list_id, sub.address) == ("news", "alice@example.org")
    assert token == make_token(SECRET, "news", "alice@example.org")


def test_another_secret_rejects() -> None:
    assert verify_token(b"another-secret-0123456789", make_token(SECRET, "news", "a@example.org")) is None


@pytest.mark.parametrize("cut", [1, 2, 10, 43])
def test_truncated_mac_rejects(cut: int) -> None:
    token = make_token(SECRET, "news", "a@example.org")
    assert verify_token(SECRET, token[:-cut]) is None


def test_moving_the_mac_to_another_list_or_address_rejects() -> None:
    version, _payload, mac = make_token(SECRET, "news", "a@example.org").split(".")
    for lst, addr in (("other", "a@example.org"), ("news", "b@example.org"), ("news", "a@example.org ")):
        payload = base64.urlsafe_b64encode(f"{lst}\0{addr}".encode()).rstrip(b"=").decode()
        assert verify_token(SECRET, f"{version}.{payload}.{mac}") is None


def test_non_canonical_spellings_reject() -> None:
    token = make_token(SECRET, "news", "a@example.org")
    version, payload, mac = token.split(".")
    # the last base64 character of a 32-byte MAC carries 2 unused bits: a twin letter decodes to the same bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = mac[:-1] + alphabet[alphabet.index(mac[-1]) ^ 1]
    assert twin != mac and base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(mac + "=")
    for variant in (f"{token}=", f"{version}.{payload}=.{mac}", f"{version}.{payload}.{mac[:5]}!{mac[5:]}",
                    f" {token}", f"{token}\n", f"{version}.{payload}.{twin}", f"2.{payload}.{mac}", f"é{token}"):
        assert verify_token(SECRET, variant) is None, variant


@pytest.mark.parametrize("garbage", ["", ".", "..", "1..", "1.x.y", "a" * 5000, "1.AAAA.AAAA.AAAA"])
def test_garbage_rejects(garbage: str) -> None:
    assert verify_token(SECRET, garbage) is None


def test_nul_and_empty_address_refused_at_creation() -> None:
    with pytest.raises(ValueError):
        make_token(SECRET, "a\0b", "x@example.org")
    with pytest.raises(ValueError):
        make_token(SECRET, "news", "")


def test_secret_from_env_or_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_secret({"SOLIDARITY_MAILER_SECRET": "s" * 16}) == b"s" * 16
    f = tmp_path / "secret"
    f.write_text("f" * 20 + "\n", encoding="utf-8")
    assert load_secret({"SOLIDARITY_MAILER_SECRET_FILE": str(f)}) == b"f" * 20
    with pytest.raises(MailerError, match="not set"):
        load_secret({})
    with pytest.raises(MailerError, match="too short"):
        load_secret({"SOLIDARITY_MAILER_SECRET": "short"})
