"""docs/architecture.md lists every module of the package, its tables name no module that does not exist, and its
import rules are the import-linter contracts of pyproject.toml."""

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


def contracts() -> list[dict]:  # type: ignore[type-arg]
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def test_the_import_rules_are_the_contracts_of_pyproject() -> None:
    rules = section(DOC.read_text(encoding="utf-8"), "Import rules (enforced)")
    [layers] = [c["layers"] for c in contracts() if c["type"] == "layers"]
    block = rules.split("```", 2)[1].split()
    assert " ".join(block) == " ".join(layers)  # the diagram, top to bottom
    shared = [c for c in contracts() if c["name"].startswith("Shared modules")]
    assert len(shared) == 1, "one contract for the shared modules"
    named = [line for line in rules.splitlines() if line.startswith("3. ")]
    assert len(named) == 1, "the shared modules' rule is written once"
    paragraph = rules[rules.index(named[0]):].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z_0-9]+)`", paragraph))
    assert listed == {m.removeprefix("solidarity_mailer.") for m in shared[0]["source_modules"]}


def test_each_stage_says_what_it_takes_in_and_hands_on() -> None:
    import ast

    stages = [p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name != "config"]  # config: shared
    assert len(stages) == 11
    for stage in stages:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text(encoding="utf-8"))) or ""
        words = " ".join(doc.split())
        assert "Takes " in words and "hands on " in words, f"{stage}/__init__.py: what it takes in and hands on"
