"""Per-recipient unsubscribe tokens: HMAC-SHA256 over (version, list, address), unforgeable and unmovable.

The secret comes from the environment variable ``SOLIDARITY_MAILER_SECRET`` (or the file named by
``SOLIDARITY_MAILER_SECRET_FILE``), never from a committed file. A token for one address or list is
worthless for another: the MAC covers both, and both travel inside the token.

A token has exactly one valid spelling: verification re-creates the whole token and compares it in
constant time, so padding, stray characters, non-canonical base64 tails or a truncated MAC never pass
(``urlsafe_b64decode`` alone silently skips characters outside its alphabet). The MAC input starts with
a purpose label, so the same secret used elsewhere (e.g. for Message-IDs) can never yield a valid token.
The address is lower-cased inside the token: the mailbox, not its spelling, is what unsubscribes.
"""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from solidarity_mailer.errors import MailerError

VERSION = "1"
SECRET_ENV = "SOLIDARITY_MAILER_SECRET"
SECRET_FILE_ENV = "SOLIDARITY_MAILER_SECRET_FILE"
#: Domain separation: this label starts every MAC input.
_PURPOSE = b"solidarity-mailer/unsubscribe"
#: No legitimate token comes near this; longer input is refused before any decoding work.
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class Subscription:
    """What a valid token names: an address on a list."""

    list_id: str
    address: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(environ: dict[str, str] | None = None) -> bytes:
    """The signing secret from the environment; a clear error when it is missing or too short."""
    env = os.environ if environ is None else environ
    value = env.get(SECRET_ENV)
    if not value and env.get(SECRET_FILE_ENV):
        try:
            value = Path(env[SECRET_FILE_ENV]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MailerError(f"cannot read the secret file: {exc.strerror}", where=env[SECRET_FILE_ENV]) from None
    if not value:
        raise MailerError(
            f"no unsubscribe secret: {SECRET_ENV} is not set",
            hint=f"export {SECRET_ENV}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')",
        )
    if len(value) < 16:
        raise MailerError(f"{SECRET_ENV} is too short", hint="use at least 16 random characters")
    return value.encode("utf-8")


def _mac(secret: bytes, list_id: str, address: str) -> bytes:
    msg = b"\0".join((_PURPOSE, VERSION.encode(), list_id.encode("utf-8"), address.lower().encode("utf-8")))
    return hmac.digest(secret, msg, "sha256")


def make_token(secret: bytes, list_id: str, address: str) -> str:
    """A URL-safe token naming ``address`` on ``list_id``, signed with ``secret``."""
    if "\0" in list_id or "\0" in address or not address.strip():
        raise ValueError("a token needs a non-empty address, and neither part may contain NUL")
    payload = _b64("\0".join((list_id, address.lower())).encode("utf-8"))
    return f"{VERSION}.{payload}.{_b64(_mac(secret, list_id, address))}"


def verify_token(secret: bytes, token: str) -> Subscription | None:
    """The subscription a token names, or None if malformed, truncated, forged or of another version."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        version, payload, _mac_part = token.split(".")
        if version != VERSION:
            return None
        list_id, address = _unb64(payload).decode("utf-8").split("\0")
        expected = make_token(secret, list_id, address)
        # Whole-token comparison: one canonical spelling, constant time (both sides are ASCII here).
        if not hmac.compare_digest(expected.encode("ascii"), token.encode("ascii")):
            return None
    except ValueError:  # includes binascii.Error, UnicodeDecodeError and UnicodeEncodeError
        return None
    return Subscription(list_id=list_id, address=address)
