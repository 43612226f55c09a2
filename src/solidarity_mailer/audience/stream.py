"""The audience of a campaign: all its lists, validated, de-duplicated, minus suppressed addresses.

For a run (``deliver/prepare.py``)::

    stats = AudienceStats()
    for recipient in iter_audience(campaign.lists, suppressed, stats=stats, on_error=log):
        ...  # one Recipient per person, first list wins; suppression is checked again when its row is claimed
    stats.valid, stats.invalid, stats.duplicates, stats.suppressed, stats.blank, stats.errors

Every data row of every list ends up in exactly one count: ``invalid`` (a :class:`RowError`, passed
to ``on_error`` or, without it, kept in ``stats.errors``), ``duplicates`` (its key was already
yielded, from this list or an earlier one), ``suppressed`` (suppressed for every list or for this
row's List-Id), ``valid`` (yielded) or ``blank``. The key is the normalised address case-folded, so
``Alice@Example.org`` on one list and ``alice@example.org`` on another get one mail.

Memory: rows are streamed; the keys already yielded live in a
:class:`~solidarity_mailer.audience.seen_addresses.SeenAddresses`
(a Python set up to 20,000 keys, ~2 MB, then a temporary on-disk SQLite table with a 4 MB cache), so a
list of millions is read in flat memory; the suppressed keys for the list being read are held as a set.
Suppression is read when each list starts; an unsubscribe during a long run is caught when the row is
claimed, right before sending (the claim in ``ledger/writer.py`` skips a suppressed address).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from solidarity_mailer.audience.lists import ListReader, RowError
from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.audience.seen_addresses import SeenAddresses

#: List-Id -> the address keys suppressed for it (for every list, plus that one); the ledger provides it.
SuppressedLookup = Callable[[str], Collection[str]]


@dataclass
class AudienceStats:
    """Counts over all lists read so far; ``rows`` is the number of data rows (blank ones included)."""

    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    suppressed: int = 0
    blank: int = 0
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        """``N valid, M invalid, D duplicates, S suppressed``."""
        return f"{self.valid} valid, {self.invalid} invalid, {self.duplicates} duplicates, {self.suppressed} suppressed"

    def as_dict(self) -> dict[str, object]:
        """The four counts and the errors as ``{file, line, message}`` (the ``lists check --json`` shape)."""
        return {
            "valid": self.valid,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in self.errors],
        }


def iter_audience(
    list_paths: Iterable[Path],
    suppressed_for: SuppressedLookup | None,
    *,
    stats: AudienceStats | None = None,
    on_error: Callable[[RowError], None] | None = None,
    display: Callable[[Path], str] = str,
) -> Iterator[Recipient]:
    """Yield each valid, unsuppressed recipient of ``list_paths`` once, updating ``stats`` as rows are read.

    ``suppressed_for`` None means no suppression (a database that does not exist yet). ``display`` turns a
    path into the file name shown in errors. A list that cannot be opened raises :class:`MailerError`.
    """
    stats = stats if stats is not None else AudienceStats()
    with SeenAddresses() as seen:
        for path in list_paths:
            reader = ListReader(Path(path), display=display(Path(path)))
            suppressed = suppressed_for(reader.meta.list_id) if suppressed_for is not None else ()
            for item in reader:
                if isinstance(item, RowError):
                    stats.invalid += 1
                    if on_error is not None:
                        on_error(item)
                    else:
                        stats.errors.append(item)
                elif item.key in seen:
                    stats.duplicates += 1
                elif item.key in suppressed:
                    stats.suppressed += 1
                else:
                    seen.add(item.key)
                    stats.valid += 1
                    yield item
            stats.blank += reader.blank
            stats.rows += reader.rows


def check_lists(
    list_paths: Iterable[Path],
    suppressed_for: SuppressedLookup | None,
    *,
    on_error: Callable[[RowError], None] | None = None,
    display: Callable[[Path], str] = str,
) -> AudienceStats:
    """Read the lists to the end and return the counts (``lists check``)."""
    stats = AudienceStats()
    for _ in iter_audience(list_paths, suppressed_for, stats=stats, on_error=on_error, display=display):
        pass
    return stats
