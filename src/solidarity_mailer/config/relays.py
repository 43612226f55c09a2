"""The SMTP relays: ``[[smtp]]``, an array of tables with one relay each, or the one ``[smtp]`` table.

Each relay is checked as ``[smtp]`` is (``config/smtp.py``). Their names (default ``host:port``) are unique.
The environment's overrides of ``[smtp]`` keys and a transport URL naming a host (``smtp://HOST``) belong to the
single ``[smtp]`` form: with ``[[smtp]]`` either is an error, since which relay it meant is not ours to guess.
"""

from __future__ import annotations

from collections.abc import Mapping

from solidarity_mailer.config.keys import KEYS
from solidarity_mailer.config.reader import TomlReader
from solidarity_mailer.config.settings import SmtpSettings
from solidarity_mailer.config.smtp import smtp_settings
from solidarity_mailer.config.transport_setting import TransportChoice
from solidarity_mailer.errors import MailerError

OVERRIDES = tuple(k.env for k in KEYS if k.table == "smtp" and k.env)  # SOLIDARITY_MAILER_SMTP_HOST…


def relay_settings(r: TomlReader, env: Mapping[str, str], choice: TransportChoice) -> tuple[SmtpSettings, ...]:
    """The relays in the file's order: ``[[smtp]]``, or the one ``[smtp]`` table (defaults when absent)."""
    tables = r.data.get("smtp")
    if not isinstance(tables, list):
        return (smtp_settings(r, env, choice),)
    if not tables or not all(isinstance(t, dict) for t in tables):
        raise r.fail("smtp", None, "must be a table, or an array of tables ([[smtp]]) with one relay each")
    if choice.url and choice.form.takes == "host":
        raise r.fail("delivery", "transport", "a URL naming the relay is for a single [smtp] table",
                     hint='write transport = "smtp", and each relay\'s host and port in its [[smtp]] table')
    for name in OVERRIDES:
        if env.get(name):
            raise MailerError(f"{name} is set, but the relays are an array of tables ([[smtp]]): it overrides "
                              "a single [smtp] table only",
                              where=r.where("smtp"), hint="unset it, or set the key in the relay's [[smtp]] table")
    relays: list[SmtpSettings] = []
    for index, table in enumerate(tables):
        element = r.element("smtp", index, table)
        relay = smtp_settings(element, env, choice)
        taken = [i for i, other in enumerate(relays, 1) if other.label == relay.label]
        if taken:
            raise element.fail("smtp", "name", f"{relay.label!r} is the name of [[smtp]] #{taken[0]} already",
                               hint='give each relay its own name = "…"')
        relays.append(relay)
    return tuple(relays)
