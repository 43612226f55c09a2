"""Addresses validated (no DNS) and normalised: the address to send to, its IDNA ASCII form, its key.

:func:`normalise_address` gives exactly what email-validator gives. A plain address (an ASCII dot-atom local
part, one ``@``) takes a fast path: its domain is validated once by email-validator and remembered, and the
local part needs no more than email-validator's own first check (its ASCII dot-atom pattern). The full
validation costs ~25 µs an address, most of it the domain's Unicode checks, and a list of 20,000 has a handful
of domains: ``bench/send_cpu_bench.py`` counts reading the list in a send's CPU, and demands this path.
Anything else (quotes, Unicode local parts, a mailbox name email-validator lower-cases, lengths near a limit, a
domain it refuses) goes the whole way, so errors read the same. ``tests/audience/test_addresses.py`` compares
both paths on tricky addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

MAX_LOCAL_PART_OCTETS = 64  # RFC 5321 4.5.3.1.1; email-validator checks it only in strict mode
MAX_ADDRESS_OCTETS = 254  # email-validator's EMAIL_MAX_LENGTH, checked on the address in each of its forms
# email-validator's DOT_ATOM_TEXT (ASCII atext, dots between atoms), fullmatched
_PLAIN_LOCAL = re.compile(r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+(?:\.[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+)*")
# local parts email-validator lower-cases (its CASE_INSENSITIVE_MAILBOX_NAMES): the full path handles them
_MAILBOX_NAMES = frozenset(("info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster",
                            "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp"))
_DOMAINS_KEPT = 10_000  # validated domains remembered (a hostile list of distinct domains cannot grow it further)


@dataclass(frozen=True, slots=True)
class Address:
    """A normalised address: ``email`` (Unicode domain), ``ascii_email`` (None if SMTPUTF8 is needed), ``key``."""

    email: str
    ascii_email: str | None
    key: str


_domains: dict[str, tuple[str, str] | None] = {}  # domain as written → (domain, IDNA ASCII domain); None: refused


def _valid_domain(domain: str) -> tuple[str, str] | None:
    """``domain`` as email-validator normalises it, and its IDNA ASCII form; None when it refuses it."""
    known = _domains.get(domain, ())
    if known != ():
        return known  # type: ignore[return-value]
    try:
        valid = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=True)
        found: tuple[str, str] | None = (valid.domain, valid.ascii_domain)
    except EmailNotValidError:
        found = None
    if len(_domains) < _DOMAINS_KEPT:
        _domains[domain] = found
    return found


def _plain(text: str) -> Address | None:
    """The fast path (see the module docstring); None when ``text`` must go the whole way."""
    local, _, domain = text.partition("@")
    if (not _PLAIN_LOCAL.fullmatch(local) or len(local) > MAX_LOCAL_PART_OCTETS or local.lower() in _MAILBOX_NAMES
            or (valid := _valid_domain(domain)) is None):
        return None
    normal, ascii_domain = valid
    email, ascii_email = f"{local}@{normal}", f"{local}@{ascii_domain}"
    if max(len(text.encode("utf-8")), len(email.encode("utf-8")), len(ascii_email)) > MAX_ADDRESS_OCTETS:
        return None
    return Address(email, ascii_email, key(local, ascii_domain, normal))


def normalise_address(raw: str) -> Address:
    """Strip, validate (no DNS) and normalise an address; raise ``ValueError`` saying what is wrong."""
    text = raw.strip()
    if not text:
        raise ValueError("missing email address")
    plain = _plain(text)
    if plain is not None:
        return plain
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email address {shown!r}: {exc}") from None
    if len(valid.local_part.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise ValueError(f"invalid email address {shown!r}: the part before the @-sign is longer than 64 bytes")
    return Address(valid.normalized, valid.ascii_email, key(valid.local_part, valid.ascii_domain, valid.domain))


def key(local: str, ascii_domain: str | None, domain: str) -> str:
    """``local.lower()@domain``, the domain in IDNA ASCII when it has one. Not casefold(): that would merge
    ``a@straße.de`` with ``a@strasse.de`` (and ß/ss local parts), which are different mailboxes."""
    return f"{local.lower()}@{(ascii_domain or domain).lower()}"


def address_key(raw: str) -> str:
    """The de-duplication and suppression key of an address: local part lower-cased @ IDNA ASCII domain."""
    return normalise_address(raw).key
