"""Settings: ``solidarity-mailer.toml`` (or ``--config PATH``) plus environment overrides, checked before sending.

Every section and key is optional; an absent default file means the embedded defaults. The SMTP password
never lives in the file: ``[smtp] password_env`` names the environment variable that holds it. A bad
setting is a :class:`MailerError` naming the file, the line and the key. ``docs/configuration.md`` lists
every key.

Modules: ``settings`` (the dataclasses), ``keys`` (every key, its default and variable, as data),
``reader`` (the TOML file), ``transport_setting`` (``[delivery] transport`` URLs), ``environment``
(overrides and secrets), ``smtp`` and ``sections`` (checking each table), ``load`` (:func:`load_settings`).
"""

from solidarity_mailer.config.keys import ENVIRONMENT, KEYS, TRANSPORT_FORMS, Key
from solidarity_mailer.config.load import load_settings
from solidarity_mailer.config.settings import (
    CONFIG_FILENAME,
    DEFAULT_PASSWORD_ENV,
    ENV_PREFIX,
    SECURITIES,
    TRANSPORTS,
    DeliverySettings,
    DkimSettings,
    SchedulerSettings,
    SenderSettings,
    Settings,
    SmtpSettings,
    WebSettings,
    WindowSettings,
)

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_PASSWORD_ENV",
    "ENVIRONMENT",
    "ENV_PREFIX",
    "KEYS",
    "SECURITIES",
    "TRANSPORTS",
    "TRANSPORT_FORMS",
    "DeliverySettings",
    "DkimSettings",
    "Key",
    "SchedulerSettings",
    "SenderSettings",
    "Settings",
    "SmtpSettings",
    "WebSettings",
    "WindowSettings",
    "load_settings",
]
