"""``[delivery] transport``: a URL (``smtp://HOST:PORT``, ``capture://DIR``, ``console:`` …) or a short name.

The forms are :data:`~.keys.TRANSPORT_FORMS`. A URL never carries a secret: one with a password (or a user
name) is refused, and no error repeats the setting's text, only its scheme or host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from solidarity_mailer.config.keys import TRANSPORT_FORMS, TransportForm
from solidarity_mailer.config.settings import DEFAULT_PASSWORD_ENV, TRANSPORTS

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
URL_FORMS = ("smtp://HOST[:PORT]", "smtps://HOST[:PORT]", "capture://DIR", "file://DIR", "console:", "memory:")


class TransportSettingError(Exception):
    """A bad transport setting: ``what`` and ``hint`` for the one-line error (never the setting's text)."""

    def __init__(self, what: str, hint: str | None = None) -> None:
        super().__init__(what)
        self.what, self.hint = what, hint


@dataclass(frozen=True)
class TransportChoice:
    """The parsed setting: the form, and the host, port or folder it names (None: from the other keys)."""

    form: TransportForm
    url: bool  # written as a URL (not a short name)
    host: str | None = None
    port: int | None = None
    folder: str | None = None


def parse_transport(value: str) -> TransportChoice:
    """The choice ``value`` names; :class:`TransportSettingError` when it names none."""
    if ":" not in value:
        if value not in TRANSPORTS:
            raise TransportSettingError(f"{value!r} must be one of {', '.join(TRANSPORTS)}",
                                        hint="or a URL: " + ", ".join(URL_FORMS))
        return TransportChoice(TRANSPORT_FORMS[value], url=False)
    scheme, rest = value.split(":", 1)
    form = TRANSPORT_FORMS.get(scheme.lower())
    if form is None:
        shown = f"{scheme.lower()!r}" if _SCHEME_RE.fullmatch(scheme) and len(scheme) <= 20 else "the scheme"
        raise TransportSettingError(f"unknown transport scheme {shown}",
                                    hint="known: " + ", ".join(URL_FORMS))
    if form.takes == "host":
        return _host_form(form, rest)
    rest = rest.removeprefix("//")
    if form.takes == "folder":
        return TransportChoice(form, url=True, folder=rest or None)
    if rest:
        raise TransportSettingError(f"{form.scheme}: takes nothing after the colon", hint=f'write "{form.scheme}:"')
    return TransportChoice(form, url=True)


def _host_form(form: TransportForm, rest: str) -> TransportChoice:
    """``//HOST[:PORT]`` after ``smtp:`` or ``smtps:``; no user, no password, no path."""
    example = f"{form.scheme}://relay.example.org" + (":465" if form.security == "tls" else ":587")
    if not rest.startswith("//"):
        raise TransportSettingError(f"a {form.scheme} URL starts {form.scheme}://", hint=f'e.g. "{example}"')
    netloc = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        if ":" in userinfo:
            raise TransportSettingError(
                "the URL holds a password, which must not be in the file",
                hint=f"remove it and export {DEFAULT_PASSWORD_ENV} (or the variable named by [smtp] password_env)",
            )
        raise TransportSettingError("the URL holds a user name", hint="set it as [smtp] username instead")
    parts = urlsplit(f"{form.scheme}:{rest}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TransportSettingError(f"a {form.scheme} URL holds only a host and a port", hint=f'e.g. "{example}"')
    if not parts.hostname:
        raise TransportSettingError(f"the {form.scheme} URL names no host", hint=f'e.g. "{example}"')
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 1 <= port <= 65535:
        raise TransportSettingError("the port in the URL is not a number in 1..65535", hint=f'e.g. "{example}"')
    return TransportChoice(form, url=True, host=parts.hostname, port=port)
