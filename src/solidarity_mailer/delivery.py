"""A delivery row as the dispatcher and the sender processes need it (no database code: senders stay light)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .recipient import Recipient


@dataclass(frozen=True)
class Delivery:
    """A delivery row as the dispatcher needs it."""

    address: str
    name: str
    list_id: str
    fields: str
    state: str
    attempts: int

    def recipient(self) -> Recipient:
        """The recipient this row was enqueued for."""
        data = json.loads(self.fields)
        return Recipient(
            email=data.get("email") or self.address, key=self.address, name=self.name, lang=data.get("lang"),
            ascii_email=data.get("ascii_email"), list_id=self.list_id, source=data.get("source", ""),
            fields=data.get("extra", {}),
        )
