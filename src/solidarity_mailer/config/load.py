""":func:`load_settings`: the settings file (optional unless named) plus the environment, checked as a whole."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from solidarity_mailer.config.environment import override
from solidarity_mailer.config.reader import TomlReader, read_file
from solidarity_mailer.config.relays import relay_settings
from solidarity_mailer.config.sections import (
    delivery_settings,
    dkim_settings,
    scheduler_settings,
    sender_settings,
    web_settings,
    window_settings,
)
from solidarity_mailer.config.settings import CONFIG_FILENAME, Settings
from solidarity_mailer.config.transport_setting import TransportChoice, TransportSettingError, parse_transport


def _resolve_sqlite(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file`` URL relative to the config file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and not url[len(prefix):].startswith(":memory:"):
        return prefix + str(base / url[len(prefix):])
    return url


def _transport(r: TomlReader) -> TransportChoice:
    r.table("delivery")
    try:
        return parse_transport(r.required_text("delivery", "transport"))
    except TransportSettingError as exc:
        raise r.fail("delivery", "transport", exc.what, hint=exc.hint) from None


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``path`` (default: ``./solidarity-mailer.toml``, optional) and the environment.

    Raises :class:`MailerError` naming the file and key for any bad setting.
    """
    env = os.environ if environ is None else environ
    file = Path(path) if path is not None else Path.cwd() / CONFIG_FILENAME
    r, base = read_file(file, required=path is not None)
    r.table("database")
    url = override(env, "database", "url") or _resolve_sqlite(r.required_text("database", "url"), base)
    choice = _transport(r)
    relays = relay_settings(r, env, choice)
    return Settings(
        smtp=relays[0],
        sender=sender_settings(r),
        database_url=url,
        delivery=delivery_settings(r, base, choice),
        web=web_settings(r),
        scheduler=scheduler_settings(r),
        window=window_settings(r),
        dkim=dkim_settings(r, base),
        source=file if file.exists() else None,
        relays=relays,
    )
