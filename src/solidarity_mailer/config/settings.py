"""The settings, as loaded: one frozen dataclass per TOML table, and :class:`Settings` holding them all.

The defaults here are those of ``solidarity_mailer.config.keys`` (a test keeps the two equal); paths and
the SQLite URL are made relative to the settings file's folder by the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

CONFIG_FILENAME = "solidarity-mailer.toml"
ENV_PREFIX = "SOLIDARITY_MAILER_"
DEFAULT_PASSWORD_ENV = "SOLIDARITY_MAILER_SMTP_PASSWORD"
SECURITIES = ("none", "starttls", "tls")
TRANSPORTS = ("smtp", "capture", "file", "console", "memory")  # the backends, by name (the short form)
MAX_CONCURRENCY = 100  # [delivery] concurrency: connections (sender threads) at most
MAX_GRACE_SECONDS = 366 * 86400  # a schedule's grace period (settings, environment, --grace): at most a year


@dataclass(frozen=True)
class SmtpSettings:
    """One SMTP relay; ``password`` comes from the environment variable named ``password_env``.

    ``weight`` is its share of the messages among the relays in rotation; ``concurrency`` its connections (None:
    ``[delivery] concurrency``); ``per_second`` / ``per_hour`` its own limits (0: only the run's).
    """

    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    name: str | None = None  # None: ``host:port`` (see :attr:`label`)
    weight: int = 1
    concurrency: int | None = None
    per_second: float = 0.0
    per_hour: int = 0

    @property
    def label(self) -> str:
        """The relay's name: ``name``, else ``host:port``."""
        return self.name or f"{self.host}:{self.port}"


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
    """Connections, rate limits (0 = unlimited), retry policy and the transport.

    ``transport`` is the backend's name (one of :data:`TRANSPORTS`) whichever way the file wrote it: a
    URL such as ``smtps://relay.example.org`` sets ``[smtp]`` host, port and security and gives ``smtp``;
    ``capture://DIR`` sets ``outbox`` and gives ``capture``.
    """

    concurrency: int = 2
    per_second: float = 10.0
    per_hour: int = 0
    max_attempts: int = 5
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 3600.0
    unreachable_pause_seconds: float = 1800.0  # relay unreachable this long (backing off meanwhile): pause the run
    lease_seconds: int = 30  # a worker's lease on its run and rows, unrenewed: other workers take over after it
    transport: str = "smtp"
    outbox: Path = Path("outbox")
    sender_processes: bool = True  # smtp: build and send in a sender process beside the dispatcher (two cores)


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
    lease_seconds: int = 30  # the scheduler lease's life unrenewed: another daemon takes over after it


@dataclass(frozen=True)
class WindowSettings:
    """The send window of every campaign that sets none: ``hours`` (``"08:00-20:00"``) and ``days``
    (``"mon-fri"``), judged in each recipient's zone (``send_window.py``); None: no limit."""

    hours: str | None = None
    days: str | None = None


@dataclass(frozen=True)
class DkimSettings:
    """A DKIM signing key, read and parsed at load time."""

    selector: str
    domain: str
    private_key_file: Path
    private_key: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class Settings:
    """All settings; ``source`` is the file they came from (None for the embedded defaults).

    ``relays`` are the SMTP relays in the file's order (``[[smtp]]``, or the one ``[smtp]`` table); ``smtp`` is
    the first. With one relay, ``smtp`` is the truth (``relays`` becomes ``(smtp,)``, as ``replace`` expects).
    """

    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    sender: SenderSettings = field(default_factory=SenderSettings)
    database_url: str = "sqlite:///solidarity-mailer.db"
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    web: WebSettings = field(default_factory=WebSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    window: WindowSettings = field(default_factory=WindowSettings)
    dkim: DkimSettings | None = None
    source: Path | None = None
    relays: tuple[SmtpSettings, ...] = ()

    def __post_init__(self) -> None:
        if len(self.relays) <= 1:
            object.__setattr__(self, "relays", (self.smtp,))
        elif self.smtp != self.relays[0]:
            raise ValueError("with several relays, smtp must be the first of them")

    def for_relay(self, relay: SmtpSettings) -> Settings:
        """These settings with ``relay`` as the only one (what one sender's transport is made from)."""
        return replace(self, smtp=relay, relays=(relay,))
