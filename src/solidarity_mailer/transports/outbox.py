"""A local outbox folder of ``.eml`` files: safe names, atomic writes, listing for the preview page."""

from __future__ import annotations

import itertools
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")
_counter = itertools.count(1)
_lock = threading.Lock()


def safe_name(text: str, limit: int = 60) -> str:
    """``text`` reduced to characters safe in a file name on any system (never empty, never hidden)."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or "message"
    return cleaned[:limit]


def envelope_header(mail_from: str, rcpt_tos: Sequence[str]) -> bytes:
    """``Return-Path`` and ``X-Envelope-To`` lines, as an MTA adds them at delivery (CR/LF removed)."""
    def clean(value: str) -> str:
        return re.sub(r"[\r\n\0]", "", value)

    rcpts = ", ".join(clean(r) for r in rcpt_tos)
    return f"Return-Path: <{clean(mail_from)}>\r\nX-Envelope-To: {rcpts}\r\n".encode()


def write_eml(outbox: Path, mail_from: str, rcpt_tos: Sequence[str], data: bytes) -> Path:
    """Store one message as ``outbox/<time>-<n>-<first rcpt>.eml`` atomically (temp file + rename)."""
    outbox.mkdir(parents=True, exist_ok=True)
    with _lock:
        number = next(_counter)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    first = rcpt_tos[0] if rcpt_tos else "nobody"
    target = outbox / f"{stamp}-{os.getpid()}-{number:06d}-{safe_name(first)}.eml"
    fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(envelope_header(mail_from, rcpt_tos))
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


_EML_NAME = re.compile(r"^[\w.@+=-]{1,200}\.eml$")


def list_outbox(outbox: Path) -> list[Path]:
    """The stored messages, newest first (by modification time, then name); temporary, hidden and oddly
    named files are left out (the preview page links each name)."""
    if not outbox.is_dir():
        return []
    files = [p for p in outbox.iterdir() if not p.name.startswith(".") and _EML_NAME.match(p.name) and p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
