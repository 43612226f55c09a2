"""The labelled set of real bounces in tests/data/bounces (flufl.bounce's test data) and a score for a reader.

A sample is understood when the reader gives the expected kind (hard for a permanent failure, soft for a
temporary one, neither for a message that is not a bounce) and exactly the expected failed addresses.

    python -m tests.bounces.sample_set      # prints the score of bounces.dsn.parse, and each miss
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from solidarity_mailer.bounces.dsn import Kind, Parsed, parse

SAMPLES = Path(__file__).parents[1] / "data" / "bounces"


@dataclass(frozen=True)
class Sample:
    """One labelled message: its file, the detector family that reads it, the expected kind and addresses."""

    path: Path
    family: str
    kind: str  # hard | soft | none
    addresses: frozenset[str]


def load() -> list[Sample]:
    """Every labelled sample, in file order."""
    with (SAMPLES / "labels.csv").open(encoding="utf-8", newline="") as fh:
        return [Sample(SAMPLES / row["file"], row["detector"], row["kind"], frozenset(row["addresses"].split()))
                for row in csv.DictReader(fh)]


def reading(parsed: Parsed) -> tuple[str, frozenset[str]]:
    """``(kind, failed addresses)`` as the labels spell them."""
    if parsed.kind is Kind.HARD:
        return "hard", frozenset(s.address for s in parsed.statuses if s.status.startswith("5"))
    if parsed.kind is Kind.SOFT:
        return "soft", frozenset(s.address for s in parsed.statuses if s.status.startswith("4"))
    return "none", frozenset()


def misses(reader: Callable[[bytes], Parsed] = parse) -> list[tuple[Sample, str, frozenset[str]]]:
    """The samples ``reader`` gets wrong, each with what it read."""
    out = []
    for sample in load():
        kind, addresses = reading(reader(sample.path.read_bytes()))
        if (kind, addresses) != (sample.kind, sample.addresses):
            out.append((sample, kind, addresses))
    return out


def main() -> None:
    samples, wrong = load(), misses()
    for sample, kind, addresses in wrong:
        print(f"miss {sample.path.name} ({sample.family}, {sample.kind}): read {kind} {sorted(addresses)}")
    print(f"{len(samples) - len(wrong)} of {len(samples)} samples understood (kind and failed addresses)")


if __name__ == "__main__":
    main()
