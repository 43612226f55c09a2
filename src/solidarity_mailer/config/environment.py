"""Environment overrides and secrets: the variables of :data:`~.keys.KEYS` win over the file, and the SMTP
password is read only from the environment (the variable ``[smtp] password_env`` names).

An empty variable counts as unset. A bad value is an error naming the variable, never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from solidarity_mailer.config.keys import key
from solidarity_mailer.config.settings import DEFAULT_PASSWORD_ENV
from solidarity_mailer.errors import MailerError


def variable(table: str, name: str) -> str:
    """The environment variable overriding ``[table] name``."""
    env_name = key(table, name).env
    assert env_name is not None, f"[{table}] {name} has no environment variable"
    return env_name


def override(env: Mapping[str, str], table: str, name: str) -> str | None:
    """The environment's value for ``[table] name``, None when unset or empty."""
    return env.get(variable(table, name)) or None


def port_override(env: Mapping[str, str]) -> int | None:
    """``SOLIDARITY_MAILER_SMTP_PORT`` as a number, None when unset; an error when it is not a number."""
    name = variable("smtp", "port")
    raw = env.get(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise MailerError(f"{name}={raw!r} is not a number") from None


def smtp_password(env: Mapping[str, str], password_env: str) -> str | None:
    """The SMTP password: the variable named by ``password_env``, else the default one; None when neither."""
    return env.get(password_env) or env.get(DEFAULT_PASSWORD_ENV) or None
