"""One relay's ``[smtp]`` table, combined with a ``smtp://`` / ``smtps://`` transport URL and the environment
(several relays, ``[[smtp]]``: ``config/relays.py``).

Precedence: environment, then the transport URL (host, port; ``smtps`` means security = "tls"), then
``[smtp]``, then the defaults. Setting the host or port both in the URL and in ``[smtp]`` is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from solidarity_mailer.config.environment import override, port_override, smtp_password, variable
from solidarity_mailer.config.reader import TomlReader
from solidarity_mailer.config.settings import MAX_CONCURRENCY, SECURITIES, SmtpSettings
from solidarity_mailer.config.transport_setting import TransportChoice
from solidarity_mailer.errors import MailerError

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_NAME_RE = re.compile(r"[\w.:@-]{1,100}")


def smtp_settings(r: TomlReader, env: Mapping[str, str], choice: TransportChoice) -> SmtpSettings:
    """``[smtp]`` checked; the password from the environment."""
    r.table("smtp")
    host = _host(r, env, choice)
    security = _security(r, env, choice)
    port = _port(r, env, choice, security)
    username = override(env, "smtp", "username") or r.text("smtp", "username") or None
    password_env = r.required_text("smtp", "password_env")
    if not _ENV_NAME_RE.match(password_env):
        raise r.fail("smtp", "password_env", "the value is not an environment variable name (not shown: it may be "
                     "the password)", hint="name the variable, e.g. password_env = \"SMTP_PASSWORD\"; never the "
                     "password itself")
    if username and security == "none" and host not in _LOOPBACK:
        raise r.fail("smtp", "security", f"logging in to {host} without TLS would send the password in clear",
                     hint='use security = "starttls" or "tls"')
    timeout = r.number("smtp", "timeout")
    if timeout <= 0:
        raise r.fail("smtp", "timeout", "must be positive")
    return SmtpSettings(host, port, security, username, password_env, smtp_password(env, password_env), timeout,
                        *_share(r))


def _share(r: TomlReader) -> tuple[str | None, int, int | None, float, int]:
    """The relay's name, weight, connections and own limits, checked."""
    name = r.text("smtp", "name")
    if name is not None and not _NAME_RE.fullmatch(name):
        raise r.fail("smtp", "name", "must be 1 to 100 letters, digits or . _ - : @ (no spaces)")
    weight = r.integer("smtp", "weight")
    if weight < 1:
        raise r.fail("smtp", "weight", "must be at least 1")
    concurrency = r.integer("smtp", "concurrency") if r.has("smtp", "concurrency") else None
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise r.fail("smtp", "concurrency", f"must be 1 to {MAX_CONCURRENCY}")
    per_second, per_hour = r.number("smtp", "per_second"), r.integer("smtp", "per_hour")
    for key, value in (("per_second", per_second), ("per_hour", per_hour)):
        if value < 0:
            raise r.fail("smtp", key, "must not be negative")
    return name, weight, concurrency, per_second, per_hour


def _host(r: TomlReader, env: Mapping[str, str], choice: TransportChoice) -> str:
    if choice.host is not None and r.has("smtp", "host"):
        raise r.fail("smtp", "host", "the transport URL names the host already",
                     hint=f'remove [smtp] host, or write transport = "{choice.form.backend}"')
    return override(env, "smtp", "host") or choice.host or r.required_text("smtp", "host")


def _security(r: TomlReader, env: Mapping[str, str], choice: TransportChoice) -> str:
    in_file = r.required_text("smtp", "security")
    implied = choice.form.security
    if implied is not None:
        if r.has("smtp", "security") and in_file != implied:
            raise r.fail("smtp", "security", f"{in_file!r} contradicts the transport {choice.form.scheme}:// "
                         "(implicit TLS)", hint='remove it, or use smtp:// with security = "starttls"')
        in_file = implied
    elif choice.url and in_file == "tls":
        raise r.fail("smtp", "security", '"tls" (implicit TLS) contradicts the transport smtp://',
                     hint='write transport = "smtps://HOST", or security = "starttls"')
    name = variable("smtp", "security")
    security = env.get(name) or in_file
    if security not in SECURITIES:
        if name in env:
            raise MailerError(f"{name}={security!r} must be one of {', '.join(SECURITIES)}")
        raise r.fail("smtp", "security", f"{security!r} must be one of {', '.join(SECURITIES)}")
    return security


def _port(r: TomlReader, env: Mapping[str, str], choice: TransportChoice, security: str) -> int:
    if choice.port is not None and r.has("smtp", "port"):
        raise r.fail("smtp", "port", "the transport URL names the port already",
                     hint="remove [smtp] port, or the port from the URL")
    if choice.port is not None:
        port = choice.port
    else:
        port = r.integer("smtp", "port") if r.has("smtp", "port") else DEFAULT_PORTS[security]
    from_env = port_override(env)
    if from_env is not None:
        port = from_env
    if not 1 <= port <= 65535:
        if from_env is not None:
            raise MailerError(f"{variable('smtp', 'port')}={port} is out of range 1..65535")
        raise r.fail("smtp", "port", f"{port} is out of range 1..65535")
    in_url = choice.port is not None and from_env is None
    section, name = ("delivery", "transport") if in_url else ("smtp", "security")
    if security == "starttls" and port == 465:
        hint = 'use smtps:// or port 587' if in_url else 'use security = "tls" or port 587'
        raise r.fail(section, name, "port 465 is implicit TLS", hint=hint)
    if security == "tls" and port in (25, 587):
        hint = 'use smtp:// with security = "starttls"' if choice.url else 'use security = "starttls"'
        raise r.fail(section, name, f"port {port} expects STARTTLS", hint=hint)
    return port
