"""Settings: ``solidarity-mailer.toml`` (or ``--config PATH``) plus environment overrides, checked before sending.

Every section and key is optional; an absent default file means the embedded defaults. The SMTP password
never lives in the file: ``[smtp] password_env`` names the environment variable that holds it. A bad
setting is a :class:`MailerError` naming the file, the line and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solidarity_mailer.errors import MailerError, location

CONFIG_FILENAME = "solidarity-mailer.toml"
ENV_PREFIX = "SOLIDARITY_MAILER_"
DEFAULT_PASSWORD_ENV = "SOLIDARITY_MAILER_SMTP_PASSWORD"
SECURITIES = ("none", "starttls", "tls")
TRANSPORTS = ("smtp", "capture", "file", "console", "memory")
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP relay; ``password`` comes from the environment variable named ``password_env``."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class SenderSettings:
    """Sender identity. ``from_`` and ``reply_to`` are defaults for campaigns that name none.

    ``bounce_address`` enables VERP envelope senders (``local+rcptlocal=rcptdomain@domain``);
    ``message_id_domain`` defaults to the From address's domain.
    """

    from_: str | None = None
    reply_to: str | None = None
    bounce_address: str | None = None
    message_id_domain: str | None = None


@dataclass(frozen=True)
class DeliverySettings:
    """Connections, rate limits (0 = unlimited), retry policy and the transport by name."""

    concurrency: int = 2
    per_second: float = 10.0
    per_hour: int = 0
    max_attempts: int = 5
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    unreachable_pause_seconds: float = 1800.0  # relay unreachable this long (backing off meanwhile): pause the run
    transport: str = "smtp"
    outbox: Path = Path("outbox")
    sender_processes: bool = True  # smtp: build and send in one process per connection (uses every core)


@dataclass(frozen=True)
class WebSettings:
    """Where unsubscribe links point (``{public_base_url}/u/{token}``) and the optional mailto address."""

    public_base_url: str = "http://localhost:8080"  # `solidarity-mailer serve` default
    unsubscribe_mailto: str | None = None


@dataclass(frozen=True)
class SchedulerSettings:
    """Defaults for new schedules: the misfire grace period and the time zone when ``--tz`` is not given."""

    grace_seconds: int = 3600
    timezone: str | None = None


@dataclass(frozen=True)
class DkimSettings:
    """A DKIM signing key, read and parsed at load time."""

    selector: str
    domain: str
    private_key_file: Path
    private_key: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class Settings:
    """All settings; ``source`` is the file they came from (None for the embedded defaults)."""

    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    sender: SenderSettings = field(default_factory=SenderSettings)
    database_url: str = "sqlite:///solidarity-mailer.db"
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    web: WebSettings = field(default_factory=WebSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    dkim: DkimSettings | None = None
    source: Path | None = None


class _Reader:
    """Reads one TOML table with type checks; errors name the file, the line and ``[section] key``."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path, self.lines, self.data = path, text.splitlines(), data

    def where(self, section: str, key: str | None = None) -> str:
        line_no: int | None = None
        in_section = False
        for number, line in enumerate(self.lines, 1):
            stripped = line.strip()
            if stripped.startswith("["):
                in_section = stripped.strip("[] ") == section
                if in_section and key is None:
                    return location(self.path, number)
            elif in_section and key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
                line_no = number
                break
        return location(self.path, line_no)

    def fail(self, section: str, key: str | None, what: str, hint: str | None = None) -> MailerError:
        name = f"[{section}] {key}" if key else f"[{section}]"
        return MailerError(f"{name}: {what}", where=self.where(section, key), hint=hint)

    def table(self, section: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = self.data.get(section, {})
        if not isinstance(value, dict):
            raise self.fail(section, None, "must be a table")
        for key in value:
            if section == "smtp" and key == "password":
                raise self.fail(
                    section, key, "the password must not be in the file",
                    hint=f"remove it and export {DEFAULT_PASSWORD_ENV} (or the variable named by password_env)",
                )
            if key not in allowed:
                raise self.fail(section, key, "unknown key", hint="known keys: " + ", ".join(allowed))
        return value

    def get(self, section: str, table: dict[str, Any], key: str, kind: type, default: Any) -> Any:
        if key not in table:
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.fail(section, key, f"must be {kind.__name__}, not {type(value).__name__} {value!r}")
        if isinstance(value, str) and any(c in value for c in "\r\n\0"):
            raise self.fail(section, key, "must not contain line breaks or NUL")
        return value


_SECTIONS: dict[str, tuple[str, ...]] = {
    "smtp": ("host", "port", "security", "username", "password_env", "timeout"),
    "sender": ("from", "reply_to", "bounce_address", "message_id_domain"),
    "database": ("url",),
    "delivery": (
        "concurrency", "per_second", "per_hour", "max_attempts", "retry_base_seconds", "retry_max_seconds",
        "unreachable_pause_seconds", "transport", "outbox", "sender_processes",
    ),
    "web": ("public_base_url", "unsubscribe_mailto"),
    "scheduler": ("grace_seconds", "timezone"),
    "dkim": ("selector", "domain", "private_key_file"),
}


def _resolve_sqlite(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file`` URL relative to the config file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and not url[len(prefix):].startswith(":memory:"):
        return prefix + str(base / url[len(prefix):])
    return url


def _read(path: Path, required: bool) -> tuple[_Reader, Path]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise MailerError("configuration file not found", where=path) from None
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise MailerError(f"cannot read the configuration file: {exc}", where=path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None
    for section in data:
        if section not in _SECTIONS:
            raise MailerError(
                f"unknown section [{section}]", where=path, hint="known sections: " + ", ".join(_SECTIONS)
            )
    return _Reader(path, text, data), path.resolve().parent


def _check_address(r: _Reader, section: str, key: str, value: str | None) -> None:
    if value is not None and ("@" not in value or any(c.isspace() for c in value.split("<")[-1])):
        raise r.fail(section, key, f"{value!r} is not an email address")


def _smtp(r: _Reader, env: Mapping[str, str]) -> SmtpSettings:
    t = r.table("smtp", _SECTIONS["smtp"])
    host = env.get(ENV_PREFIX + "SMTP_HOST") or r.get("smtp", t, "host", str, "localhost")
    security = env.get(ENV_PREFIX + "SMTP_SECURITY") or r.get("smtp", t, "security", str, "none")
    if security not in SECURITIES:
        if ENV_PREFIX + "SMTP_SECURITY" in env:
            raise MailerError(f"{ENV_PREFIX}SMTP_SECURITY={security!r} must be one of {', '.join(SECURITIES)}")
        raise r.fail("smtp", "security", f"{security!r} must be one of {', '.join(SECURITIES)}")
    port: int = r.get("smtp", t, "port", int, _DEFAULT_PORTS[security])
    if env.get(ENV_PREFIX + "SMTP_PORT"):
        try:
            port = int(env[ENV_PREFIX + "SMTP_PORT"])
        except ValueError:
            raise MailerError(f"{ENV_PREFIX}SMTP_PORT={env[ENV_PREFIX + 'SMTP_PORT']!r} is not a number") from None
    if not 1 <= port <= 65535:
        if env.get(ENV_PREFIX + "SMTP_PORT"):
            raise MailerError(f"{ENV_PREFIX}SMTP_PORT={port} is out of range 1..65535")
        raise r.fail("smtp", "port", f"{port} is out of range 1..65535")
    if security == "starttls" and port == 465:
        raise r.fail("smtp", "security", "port 465 is implicit TLS", hint='use security = "tls" or port 587')
    if security == "tls" and port in (25, 587):
        raise r.fail("smtp", "security", f"port {port} expects STARTTLS", hint='use security = "starttls"')
    username = env.get(ENV_PREFIX + "SMTP_USERNAME") or r.get("smtp", t, "username", str, None) or None
    password_env = r.get("smtp", t, "password_env", str, DEFAULT_PASSWORD_ENV)
    if not _ENV_NAME_RE.match(password_env):
        raise r.fail("smtp", "password_env", f"{password_env!r} is not an environment variable name",
                     hint="name the variable, e.g. password_env = \"SMTP_PASSWORD\"; never the password itself")
    if username and security == "none" and host not in _LOOPBACK:
        raise r.fail("smtp", "security", f"logging in to {host} without TLS would send the password in clear",
                     hint='use security = "starttls" or "tls"')
    password = env.get(password_env) or env.get(DEFAULT_PASSWORD_ENV) or None
    timeout = r.get("smtp", t, "timeout", float, 30.0)
    if timeout <= 0:
        raise r.fail("smtp", "timeout", "must be positive")
    return SmtpSettings(host, port, security, username, password_env, password, timeout)


def _sender(r: _Reader) -> SenderSettings:
    t = r.table("sender", _SECTIONS["sender"])
    values = {k: r.get("sender", t, k, str, None) for k in _SECTIONS["sender"]}
    for key in ("from", "reply_to", "bounce_address"):
        _check_address(r, "sender", key, values[key])
    if values["bounce_address"] is not None and "<" in values["bounce_address"]:
        raise r.fail("sender", "bounce_address", "must be a bare address (local@domain)")
    domain = values["message_id_domain"]
    if domain is not None and not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise r.fail("sender", "message_id_domain", f"{domain!r} is not a domain name")
    return SenderSettings(values["from"], values["reply_to"], values["bounce_address"], domain)


def _delivery(r: _Reader, base: Path) -> DeliverySettings:
    t = r.table("delivery", _SECTIONS["delivery"])
    d = DeliverySettings()
    ints = {k: r.get("delivery", t, k, int, getattr(d, k)) for k in ("concurrency", "per_hour", "max_attempts")}
    floats = {k: r.get("delivery", t, k, float, getattr(d, k))
              for k in ("per_second", "retry_base_seconds", "retry_max_seconds", "unreachable_pause_seconds")}
    for key in ("concurrency", "max_attempts"):
        if ints[key] < 1:
            raise r.fail("delivery", key, "must be at least 1")
    for key, value in {**ints, **floats}.items():
        if value < 0:
            raise r.fail("delivery", key, "must not be negative")
    if floats["retry_max_seconds"] < floats["retry_base_seconds"]:
        raise r.fail("delivery", "retry_max_seconds", "must not be smaller than retry_base_seconds")
    transport = r.get("delivery", t, "transport", str, d.transport)
    if transport not in TRANSPORTS:
        raise r.fail("delivery", "transport", f"{transport!r} must be one of {', '.join(TRANSPORTS)}")
    outbox = base / r.get("delivery", t, "outbox", str, str(d.outbox))
    processes = r.get("delivery", t, "sender_processes", bool, d.sender_processes)
    return DeliverySettings(transport=transport, outbox=outbox, sender_processes=processes, **ints, **floats)


def _web(r: _Reader) -> WebSettings:
    t = r.table("web", _SECTIONS["web"])
    url = r.get("web", t, "public_base_url", str, WebSettings.public_base_url).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise r.fail("web", "public_base_url", f"{url!r} is not an http(s) URL without query")
    mailto = r.get("web", t, "unsubscribe_mailto", str, None)
    _check_address(r, "web", "unsubscribe_mailto", mailto)
    if mailto is not None and ("<" in mailto or "?" in mailto):
        raise r.fail("web", "unsubscribe_mailto", "must be a bare address (local@domain)")
    return WebSettings(url, mailto)


def _scheduler(r: _Reader) -> SchedulerSettings:
    t = r.table("scheduler", _SECTIONS["scheduler"])
    grace = r.get("scheduler", t, "grace_seconds", int, SchedulerSettings.grace_seconds)
    if grace < 0:
        raise r.fail("scheduler", "grace_seconds", "must not be negative")
    zone = r.get("scheduler", t, "timezone", str, None)
    if zone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise r.fail("scheduler", "timezone", f"{zone!r} is not an IANA time zone",
                         hint='e.g. "Europe/Berlin" or "America/Lima"') from None
    return SchedulerSettings(grace, zone)


def _dkim(r: _Reader, base: Path) -> DkimSettings | None:
    t = r.table("dkim", _SECTIONS["dkim"])
    if not t:
        return None
    values = {k: r.get("dkim", t, k, str, None) for k in _SECTIONS["dkim"]}
    for key, value in values.items():
        if not value:
            raise r.fail("dkim", key, "is required when [dkim] is present", hint="set selector, domain and "
                          "private_key_file, or remove [dkim]")
    key_file = base / values["private_key_file"]
    try:
        key = key_file.read_bytes()
    except OSError as exc:
        raise r.fail("dkim", "private_key_file", f"cannot read {key_file}: {exc.strerror}") from None
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        parse_pem_private_key(key)
    except UnparsableKeyError as exc:
        raise r.fail("dkim", "private_key_file", f"{key_file} is not a PEM private key: {exc}") from None
    return DkimSettings(values["selector"], values["domain"], key_file, key)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``path`` (default: ``./solidarity-mailer.toml``, optional) and the environment.

    Raises :class:`MailerError` naming the file and key for any bad setting.
    """
    env = os.environ if environ is None else environ
    file = Path(path) if path is not None else Path.cwd() / CONFIG_FILENAME
    r, base = _read(file, required=path is not None)
    db = r.table("database", _SECTIONS["database"])
    url = env.get(ENV_PREFIX + "DATABASE") or _resolve_sqlite(
        r.get("database", db, "url", str, Settings.database_url), base
    )
    return Settings(
        smtp=_smtp(r, env),
        sender=_sender(r),
        database_url=url,
        delivery=_delivery(r, base),
        web=_web(r),
        scheduler=_scheduler(r),
        dkim=_dkim(r, base),
        source=file if file.exists() else None,
    )
