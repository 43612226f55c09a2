"""The tables other than ``[smtp]``: ``[sender]``, ``[delivery]``, ``[web]``, ``[scheduler]``, ``[window]`` and
``[dkim]``, each checked into its settings dataclass."""

from __future__ import annotations

import re
from pathlib import Path

from solidarity_mailer.config.reader import TomlReader
from solidarity_mailer.config.settings import (
    MAX_CONCURRENCY,
    MAX_GRACE_SECONDS,
    DeliverySettings,
    DkimSettings,
    SchedulerSettings,
    SenderSettings,
    WebSettings,
    WindowSettings,
)
from solidarity_mailer.config.transport_setting import TransportChoice


def _check_address(r: TomlReader, section: str, name: str, value: str | None) -> None:
    if value is not None and ("@" not in value or any(c.isspace() for c in value.split("<")[-1])):
        raise r.fail(section, name, f"{value!r} is not an email address")


def sender_settings(r: TomlReader) -> SenderSettings:
    """``[sender]``: addresses checked, the bounce address bare, the Message-ID domain a domain name."""
    r.table("sender")
    values = {name: r.text("sender", name) for name in ("from", "reply_to", "bounce_address", "message_id_domain")}
    for name in ("from", "reply_to", "bounce_address"):
        _check_address(r, "sender", name, values[name])
    bounce = values["bounce_address"]
    if bounce is not None and "<" in bounce:
        raise r.fail("sender", "bounce_address", "must be a bare address (local@domain)")
    domain = values["message_id_domain"]
    if domain is not None and not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise r.fail("sender", "message_id_domain", f"{domain!r} is not a domain name")
    return SenderSettings(values["from"], values["reply_to"], bounce, domain)


def delivery_settings(r: TomlReader, base: Path, choice: TransportChoice) -> DeliverySettings:
    """``[delivery]``: limits checked; the outbox from a ``capture://DIR`` / ``file://DIR`` URL or the key."""
    r.table("delivery")
    ints = {name: r.integer("delivery", name)
            for name in ("concurrency", "per_hour", "max_attempts", "lease_seconds")}
    floats = {name: r.number("delivery", name)
              for name in ("per_second", "retry_base_seconds", "retry_max_seconds", "unreachable_pause_seconds")}
    for name in ("concurrency", "max_attempts"):
        if ints[name] < 1:
            raise r.fail("delivery", name, "must be at least 1")
    if ints["concurrency"] > MAX_CONCURRENCY:
        raise r.fail("delivery", "concurrency", f"must be at most {MAX_CONCURRENCY}",
                     hint="a few connections are what a relay allows one sender anyway")
    for name, value in {**ints, **floats}.items():
        if value < 0:
            raise r.fail("delivery", name, "must not be negative")
    if not 5 <= ints["lease_seconds"] <= 3600:
        raise r.fail("delivery", "lease_seconds", f"must be 5 to 3600 seconds, not {ints['lease_seconds']}")
    if floats["retry_max_seconds"] < floats["retry_base_seconds"]:
        raise r.fail("delivery", "retry_max_seconds", "must not be smaller than retry_base_seconds")
    if choice.folder is not None and r.has("delivery", "outbox"):
        raise r.fail("delivery", "outbox", "the transport URL names the folder already",
                     hint="remove outbox, or the folder from the URL")
    outbox = base / (choice.folder or r.required_text("delivery", "outbox"))
    processes = r.flag("delivery", "sender_processes")
    return DeliverySettings(
        concurrency=ints["concurrency"], per_second=floats["per_second"], per_hour=ints["per_hour"],
        max_attempts=ints["max_attempts"], retry_base_seconds=floats["retry_base_seconds"],
        retry_max_seconds=floats["retry_max_seconds"], unreachable_pause_seconds=floats["unreachable_pause_seconds"],
        lease_seconds=ints["lease_seconds"], transport=choice.form.backend, outbox=outbox, sender_processes=processes,
    )


def web_settings(r: TomlReader) -> WebSettings:
    """``[web]``: an http(s) base URL without query, a bare mailto address."""
    r.table("web")
    url = r.required_text("web", "public_base_url").rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise r.fail("web", "public_base_url", f"{url!r} is not an http(s) URL without query")
    mailto = r.text("web", "unsubscribe_mailto")
    _check_address(r, "web", "unsubscribe_mailto", mailto)
    if mailto is not None and ("<" in mailto or "?" in mailto):
        raise r.fail("web", "unsubscribe_mailto", "must be a bare address (local@domain)")
    return WebSettings(url, mailto)


def scheduler_settings(r: TomlReader) -> SchedulerSettings:
    """``[scheduler]``: a non-negative grace period, an IANA time zone, the scheduler lease's life."""
    r.table("scheduler")
    grace = r.integer("scheduler", "grace_seconds")
    if grace < 0:
        raise r.fail("scheduler", "grace_seconds", "must not be negative")
    if grace > MAX_GRACE_SECONDS:
        raise r.fail("scheduler", "grace_seconds", f"must be at most {MAX_GRACE_SECONDS} (366 days)")
    zone = r.text("scheduler", "timezone")
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise r.fail("scheduler", "timezone", f"{zone!r} is not an IANA time zone",
                         hint='e.g. "Europe/Berlin" or "America/Lima"') from None
    lease = r.integer("scheduler", "lease_seconds")
    if not 5 <= lease <= 3600:
        raise r.fail("scheduler", "lease_seconds", f"must be 5 to 3600 seconds, not {lease}")
    return SchedulerSettings(grace, zone, lease)


def window_settings(r: TomlReader) -> WindowSettings:
    """``[window]``: the hours and days every campaign that sets none is sent in."""
    from solidarity_mailer.send_window import DAYS_HINT, HOURS_HINT, parse_days, parse_hours

    r.table("window")
    hours, days = r.text("window", "hours"), r.text("window", "days")
    for name, value, parse, hint in (("hours", hours, parse_hours, HOURS_HINT), ("days", days, parse_days, DAYS_HINT)):
        try:
            if value is not None:
                parse(value)  # type: ignore[operator]
        except ValueError as exc:
            raise r.fail("window", name, str(exc), hint=hint) from None
    return WindowSettings(hours, days)


def dkim_settings(r: TomlReader, base: Path) -> DkimSettings | None:
    """``[dkim]``, None when absent; all three keys required, the key file read and parsed."""
    if not r.table("dkim"):
        return None
    values = {name: r.text("dkim", name) for name in ("selector", "domain", "private_key_file")}
    for name, value in values.items():
        if not value:
            raise r.fail("dkim", name, "is required when [dkim] is present", hint="set selector, domain and "
                         "private_key_file, or remove [dkim]")
    selector, domain, file_name = (str(values[n]) for n in ("selector", "domain", "private_key_file"))
    key_file = base / file_name
    try:
        key = key_file.read_bytes()
    except OSError as exc:
        raise r.fail("dkim", "private_key_file", f"cannot read {key_file}: {exc.strerror}") from None
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        parse_pem_private_key(key)
    except UnparsableKeyError as exc:
        raise r.fail("dkim", "private_key_file", f"{key_file} is not a PEM private key: {exc}") from None
    return DkimSettings(selector, domain, key_file, key)
