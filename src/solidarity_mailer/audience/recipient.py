"""One validated recipient of a mailing list, as the audience streams it to the dispatcher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipient:
    """A valid, normalised recipient.

    ``email`` is the normalised address to send to (Unicode domain kept); ``ascii_email`` its form
    with the domain in IDNA (None when the local part itself is non-ASCII, i.e. SMTPUTF8 is needed);
    ``key`` the de-duplication key (local part lower-cased, domain in IDNA ASCII); ``source`` where the
    row stands (``file:line``); ``fields`` the list's extra columns; ``tz`` the IANA zone of the ``tz`` column
    (None: the schedule's zone applies).
    """

    email: str
    key: str
    name: str = ""
    lang: str | None = None
    ascii_email: str | None = None
    list_id: str = ""
    source: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    tz: str | None = None

    @property
    def needs_smtputf8(self) -> bool:
        """True when the address cannot be written in ASCII (internationalised local part)."""
        return self.ascii_email is None
