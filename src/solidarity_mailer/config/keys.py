"""Every settings key as data: its table, type, default, environment variable and meaning.

The reader takes the allowed keys, their types and defaults from :data:`KEYS`; ``docs/configuration.md``
documents the same table, and a test compares the two, so neither can drift. :data:`ENVIRONMENT` lists the
variables that have no key (secrets and test switches), :data:`TRANSPORT_FORMS` the forms of
``[delivery] transport``.
"""

from __future__ import annotations

from dataclasses import dataclass

from solidarity_mailer.config.settings import DEFAULT_PASSWORD_ENV, ENV_PREFIX, MAX_CONCURRENCY

Value = str | int | float | bool


@dataclass(frozen=True)
class Key:
    """One key of the settings file. ``default`` None: unset (or required, as in ``[dkim]``)."""

    table: str
    name: str
    kind: type[str] | type[int] | type[float] | type[bool]
    default: Value | None
    meaning: str
    env: str | None = None  # the environment variable that overrides it


KEYS: tuple[Key, ...] = (
    Key("smtp", "host", str, "localhost", "the SMTP relay's host name (the URL's host when transport is a URL)",
        ENV_PREFIX + "SMTP_HOST"),
    Key("smtp", "port", int, 25, "the relay's port; the default follows security: 25 none, 587 starttls, 465 tls",
        ENV_PREFIX + "SMTP_PORT"),
    Key("smtp", "security", str, "none", "none, starttls (required, never 'if offered') or tls (implicit TLS)",
        ENV_PREFIX + "SMTP_SECURITY"),
    Key("smtp", "username", str, None, "log in with this name (the password comes from password_env)",
        ENV_PREFIX + "SMTP_USERNAME"),
    Key("smtp", "password_env", str, DEFAULT_PASSWORD_ENV,
        "the name of the environment variable holding the SMTP password (never the password itself)"),
    Key("smtp", "timeout", float, 30.0, "seconds to wait for the relay on each step"),
    Key("smtp", "name", str, None, "the relay's name in status and the ledger (default: host:port); unique"),
    Key("smtp", "weight", int, 1, "the relay's share of the messages among the relays in rotation, at least 1"),
    Key("smtp", "concurrency", int, None,
        f"the relay's connections at once (default: [delivery] concurrency), at most {MAX_CONCURRENCY}"),
    Key("smtp", "per_second", float, 0.0,
        "at most this many messages a second through this relay, every worker and run together (0: no own limit)"),
    Key("smtp", "per_hour", int, 0,
        "at most this many messages an hour through this relay, every worker and run together (0: no own limit)"),
    Key("sender", "from", str, None, "the From address for campaigns that name none"),
    Key("sender", "reply_to", str, None, "the Reply-To address for campaigns that name none"),
    Key("sender", "bounce_address", str, None, "a bare address: enables VERP envelope senders for bounces"),
    Key("sender", "message_id_domain", str, None, "the Message-ID domain (default: the From address's domain)"),
    Key("database", "url", str, "sqlite:///solidarity-mailer.db",
        "the ledger's SQLAlchemy URL; a relative SQLite path is relative to the settings file's folder. Commands "
        "create it only at the default place; elsewhere, create it once with `solidarity-mailer db init`",
        ENV_PREFIX + "DATABASE"),
    Key("delivery", "concurrency", int, 2,
        f"SMTP connections (sender threads) at once, at most {MAX_CONCURRENCY}"),
    Key("delivery", "per_second", float, 10.0,
        "at most this many messages a second, every worker and run together (0: unlimited)"),
    Key("delivery", "per_hour", int, 0,
        "at most this many messages an hour, every worker and run together (0: unlimited)"),
    Key("delivery", "max_attempts", int, 5, "attempts per recipient before a deferral becomes a failure"),
    Key("delivery", "retry_base_seconds", float, 60.0, "the first retry's delay; it doubles on each retry"),
    Key("delivery", "retry_max_seconds", float, 3600.0, "the longest delay between retries"),
    Key("delivery", "unreachable_pause_seconds", float, 1800.0,
        "pause the run when the relay stays unreachable this long"),
    Key("delivery", "lease_seconds", int, 30,
        "how long a worker holds its rows unrenewed: when it dies on another host, the other workers take its "
        "rows over within this time (on the same host at once); 5 to 3600"),
    Key("delivery", "transport", str, "smtp", "where mail goes: a URL or a short name (see Transport below)"),
    Key("delivery", "outbox", str, "outbox",
        "the folder of the capture and file transports, relative to the settings file's folder"),
    Key("delivery", "sender_processes", bool, True,
        "smtp: build and send in a sender process beside the dispatcher (false: in the dispatcher)"),
    Key("web", "public_base_url", str, "http://localhost:8080",
        'where unsubscribe links point, {url}/u/{token}, and "View in browser" links, {url}/v/{campaign}/{lang}.html'),
    Key("web", "unsubscribe_mailto", str, None, "a bare address added to List-Unsubscribe as mailto:"),
    Key("scheduler", "grace_seconds", int, 3600, "a schedule missed by up to this long still runs"),
    Key("scheduler", "timezone", str, None, "the IANA time zone of new schedules when --tz is not given"),
    Key("scheduler", "lease_seconds", int, 30,
        "how long the daemon that fires schedules holds its lease unrenewed: when it dies on another host, a "
        "`run --wait` daemon takes over within this time (on the same host at once); 5 to 3600"),
    Key("window", "hours", str, None,
        "send only between these wall-clock hours of the recipient's zone, e.g. \"08:00-20:00\" (a campaign's "
        "window wins)"),
    Key("window", "days", str, None,
        "send only on these days of the recipient's zone, e.g. \"mon-fri\" (a campaign's days win)"),
    Key("dkim", "selector", str, None, "the DKIM selector (required when [dkim] is present)"),
    Key("dkim", "domain", str, None, "the signing domain, d= (required when [dkim] is present)"),
    Key("dkim", "private_key_file", str, None,
        "the PEM private key, relative to the settings file's folder (required when [dkim] is present)"),
)

TABLES: dict[str, tuple[str, ...]] = {}
for _key in KEYS:
    TABLES.setdefault(_key.table, ())
    TABLES[_key.table] += (_key.name,)

_BY_NAME = {(k.table, k.name): k for k in KEYS}


def key(table: str, name: str) -> Key:
    """The spec of ``[table] name``; KeyError for a key the code does not know."""
    return _BY_NAME[(table, name)]


@dataclass(frozen=True)
class EnvironmentVariable:
    """A variable read from the environment that has no key in the file."""

    name: str
    meaning: str
    read_by: str  # the module that reads it (a test checks the name there)


ENVIRONMENT: tuple[EnvironmentVariable, ...] = (
    EnvironmentVariable(DEFAULT_PASSWORD_ENV,
                        "the SMTP password when the variable [smtp] password_env names is unset or empty",
                        "solidarity_mailer.config.settings"),
    EnvironmentVariable(ENV_PREFIX + "SECRET",
                        "the secret signing unsubscribe links and bounce tags (16+ characters)",
                        "solidarity_mailer.compose.unsubscribe_tokens"),
    EnvironmentVariable(ENV_PREFIX + "SECRET_FILE",
                        "a file holding that secret (when the variable above is unset)",
                        "solidarity_mailer.compose.unsubscribe_tokens"),
    EnvironmentVariable(ENV_PREFIX + "GRACE_SECONDS",
                        "overrides [scheduler] grace_seconds for new schedules",
                        "solidarity_mailer.schedule.schedules"),
    EnvironmentVariable(ENV_PREFIX + "TEST_CLOCK",
                        "tests only: a shifted, sped-up clock for the daemon; never in production",
                        "solidarity_mailer.clock"),
    EnvironmentVariable(ENV_PREFIX + "TEST_NO_LOCK",
                        "tests only: 1 runs the daemon without its lease; never in production",
                        "solidarity_mailer.schedule.daemon"),
)


@dataclass(frozen=True)
class TransportForm:
    """One form of ``[delivery] transport``: the URL scheme, what follows it, and the backend it chooses."""

    scheme: str
    takes: str  # "host": //HOST[:PORT]; "folder": //DIR (optional); "nothing"
    backend: str  # the name in solidarity_mailer.transports' registry
    security: str | None  # the [smtp] security it implies, if any
    meaning: str


TRANSPORT_FORMS: dict[str, TransportForm] = {
    form.scheme: form
    for form in (
        TransportForm("smtp", "host", "smtp", None,
                      "SMTP to HOST (port default 25, or 587 with security = \"starttls\"); the rest from [smtp]"),
        TransportForm("smtps", "host", "smtp", "tls", "SMTP over implicit TLS to HOST (port default 465)"),
        TransportForm("capture", "folder", "capture", None,
                      "a local SMTP server on 127.0.0.1 that stores each message as a .eml file in DIR "
                      "(default: [delivery] outbox): the whole SMTP path, nothing leaves the machine"),
        TransportForm("file", "folder", "file", None,
                      "write each message as a .eml file in DIR (default: [delivery] outbox), without SMTP"),
        TransportForm("console", "nothing", "console", None, "print each message on standard output"),
        TransportForm("memory", "nothing", "memory", None, "keep messages in memory (tests)"),
    )
}
