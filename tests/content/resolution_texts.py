"""The plain-text resolutions the importer tests read, and a small well-formed one to vary."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
SEED = DATA / "icor-2023-02-07-peru.txt"
OTHER = DATA / "other-resolution.txt"  # a fictional declaration written for these tests

#: A well-formed resolution after its first line (source and date); the layout and error tests vary it.
GOOD_BODY = """\
ICOR resolution:

A short title

They demand bread, land and peace.

Signatories (as of today):

- 1. MLPD Marxistisch-Leninistische Partei Deutschlands (Marxist-Leninist Party of Germany)
"""


def body_text(first_line: str = "www.icor.info 7 February 2023", body: str = GOOD_BODY) -> str:
    """A resolution file's text with this first line and body; the first line is line 2."""
    return f"\n{first_line}\n\n{body}"
