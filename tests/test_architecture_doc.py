"""docs/architecture.md lists every module of the package, and its tables name no module that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "solidarity_mailer"
DOC = REPO / "docs" / "architecture.md"
#: a module path in backticks, relative to the package (``campaign.py``, ``deliver/feeder.py``); not a pattern
MODULE = re.compile(r"`([a-z_][a-z0-9_]*(?:/[a-z_][a-z0-9_]*)*\.py)`")


def modules() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}


def section(text: str, heading: str) -> str:
    """The text under ``## heading``, up to the next ``## `` heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def table_modules(text: str) -> set[str]:
    """The module paths that open a row of a table (the row's first cell)."""
    rows = [line.removeprefix("| ") for line in text.splitlines() if line.startswith("| ")]
    return {m.group(1) for row in rows if (m := MODULE.match(row))}


def test_the_package_layout_lists_every_module_and_only_those() -> None:
    listed = table_modules(section(DOC.read_text(encoding="utf-8"), "Package layout"))
    assert sorted(modules() - listed) == [], "modules missing from the package layout table"
    assert sorted(listed - modules()) == [], "the package layout table names modules that do not exist"


def test_every_module_a_table_names_exists() -> None:
    named = {m for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")
             for m in MODULE.findall(line)}
    assert sorted(m for m in named if m not in modules() and not (REPO / m).exists()) == []
