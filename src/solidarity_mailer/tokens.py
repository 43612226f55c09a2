"""Per-recipient unsubscribe tokens: HMAC-SHA256 over (version, list, address), unforgeable and unmovable.

The secret comes from the environment variable ``SOLIDARITY_MAILER_SECRET`` (or the file named by
``SOLIDARITY_MAILER_SECRET_FILE``), never from a committed file. A token for one address or list is
worthless for another: the MAC covers both, and both travel inside the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import MailerError

VERSION = "1"
SECRET_ENV = "SOLIDARITY_MAILER_SECRET"
SECRET_FILE_ENV = "SOLIDARITY_MAILER_SECRET_FILE"


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
    msg = "\0".join((VERSION, list_id, address.lower())).encode("utf-8")
    return hmac.new(secret, msg, hashlib.sha256).digest()


def make_token(secret: bytes, list_id: str, address: str) -> str:
    """A URL-safe token naming ``address`` on ``list_id``, signed with ``secret``."""
    payload = _b64("\0".join((list_id, address.lower())).encode("utf-8"))
    return f"{VERSION}.{payload}.{_b64(_mac(secret, list_id, address))}"


def verify_token(secret: bytes, token: str) -> Subscription | None:
    """The subscription a token names, or None if malformed, truncated, forged or of another version."""
    try:
        version, payload, mac = token.split(".")
        if version != VERSION:
            return None
        list_id, address = _unb64(payload).decode("utf-8").split("\0")
        expected = _mac(secret, list_id, address)
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    return Subscription(list_id=list_id, address=address)
