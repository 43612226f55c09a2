"""RFC 2919 List-Ids: the one syntax check, light enough for the sender processes (no email-validator)."""

from __future__ import annotations

import re

_LIST_ID_RE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+")


def is_list_id(value: str) -> bool:
    """True for a valid RFC 2919 List-Id (``label.namespace``, dotted words of letters, digits, - and _)."""
    return len(value) <= 255 and _LIST_ID_RE.fullmatch(value) is not None
