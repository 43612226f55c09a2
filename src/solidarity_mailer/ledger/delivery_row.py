"""A delivery row as the dispatcher and the sender processes need it (no database code: senders stay light)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from solidarity_mailer.audience.recipient import Recipient


def encode_fields(r: Recipient) -> str:
    """The ``deliveries.fields`` JSON of a recipient: what its row needs besides address, name and list
    (read back by :meth:`Delivery.recipient`)."""
    data = {"email": r.email, "ascii_email": r.ascii_email, "lang": r.lang, "source": r.source,
            "extra": dict(r.fields)}
    if r.tz:
        data["tz"] = r.tz
    return json.dumps(data, ensure_ascii=False)


@dataclass(frozen=True)
class Delivery:
    """A delivery row as the dispatcher needs it."""

    address: str
    name: str
    list_id: str
    fields: str
    state: str
    attempts: int
    message_id: str = ""  # the Message-ID its message carries, written at enqueue ('' in older ledgers: see claims)

    def as_tuple(self) -> tuple[str, str, str, str, str, int, str]:
        """The fields in order (``Delivery(*row.as_tuple())`` is the row again): a cheap pickle for the senders."""
        return (self.address, self.name, self.list_id, self.fields, self.state, self.attempts, self.message_id)

    def recipient(self) -> Recipient:
        """The recipient this row was enqueued for."""
        data = json.loads(self.fields)
        return Recipient(
            email=data.get("email") or self.address, key=self.address, name=self.name, lang=data.get("lang"),
            ascii_email=data.get("ascii_email"), list_id=self.list_id, source=data.get("source", ""),
            fields=data.get("extra", {}), tz=data.get("tz"),
        )
