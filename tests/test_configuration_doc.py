"""docs/configuration.md against the code: every key (per table) with its type, default, environment variable
and meaning; the transport forms and short names; the environment-only variables. A key, a default or a
variable added or changed in the code without the doc (or the other way round) fails here."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from solidarity_mailer.config import ENVIRONMENT, KEYS, TRANSPORT_FORMS, TRANSPORTS, Key, Settings, load_settings
from solidarity_mailer.config.keys import TABLES, EnvironmentVariable
from solidarity_mailer.config.transport_setting import URL_FORMS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
TYPES = {"string": str, "integer": int, "float": float, "boolean": bool}
KEY_HEADER = ["Key", "Type", "Default", "Environment variable", "Meaning"]
ENV_NAME = re.compile(r"SOLIDARITY_MAILER_[A-Z][A-Z_]*")

Table = tuple[str, list[str], list[list[str]]]  # (the heading above it, header cells, rows)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def doc_tables() -> list[Table]:
    """Every Markdown table of the doc, with the nearest heading above it."""
    tables: list[Table] = []
    heading, lines = "", DOC.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "")) <= {"-", " "}:
            header, rows = _cells(line), []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            tables.append((heading, header, rows))
            continue
        i += 1
    return tables


def table_with(header: list[str]) -> list[list[str]]:
    """The rows of the one table with ``header``."""
    found = [rows for _, head, rows in doc_tables() if head == header]
    assert len(found) == 1, f"docs/configuration.md should have one table headed {header}"
    return found[0]


def key_rows() -> dict[tuple[str, str], list[str]]:
    """(table, key) -> the row documenting it, from the tables under the ``[table]`` headings."""
    rows: dict[tuple[str, str], list[str]] = {}
    for heading, header, body in doc_tables():
        if header != KEY_HEADER:
            continue
        match = re.fullmatch(r"`\[(\w+)\]`", heading)
        assert match, f"a key table under {heading!r}: it belongs under a heading like ### `[smtp]`"
        for row in body:
            name = row[0].strip("`")
            assert (match.group(1), name) not in rows, f"[{match.group(1)}] {name} is documented twice"
            rows[(match.group(1), name)] = row
    return rows


def code(cell: str) -> str | None:
    """The first `code span` of a cell, None when it has none."""
    match = re.search(r"`([^`]+)`", cell)
    return match.group(1) if match else None


def test_the_doc_lists_exactly_the_tables_and_keys_of_the_code() -> None:
    documented: dict[str, set[str]] = {}
    for table, name in key_rows():
        documented.setdefault(table, set()).add(name)
    assert documented == {table: set(names) for table, names in TABLES.items()}


@pytest.mark.parametrize("spec", KEYS, ids=lambda k: f"{k.table}.{k.name}")
def test_each_key_has_its_type_default_variable_and_meaning(spec: Key) -> None:
    row = key_rows().get((spec.table, spec.name))
    assert row is not None, f"[{spec.table}] {spec.name} is missing from docs/configuration.md"
    _, kind, default, env, meaning = row
    assert TYPES.get(kind) is spec.kind, f"[{spec.table}] {spec.name}: type {kind!r}"
    literal = code(default)
    if spec.default is None:
        assert literal is None and default.startswith("—"), f"[{spec.table}] {spec.name}: no default in the code"
    else:
        assert literal is not None, f"[{spec.table}] {spec.name}: the default should be `{spec.default!r}`"
        value = tomllib.loads(f"v = {literal}")["v"]
        assert (value, type(value)) == (spec.default, type(spec.default)), f"[{spec.table}] {spec.name}: default"
    assert code(env) == spec.env and (spec.env is not None or env == "—"), f"[{spec.table}] {spec.name}: variable"
    assert meaning == spec.meaning


def test_the_transport_forms() -> None:
    rows = table_with(["Form", "Backend", "Meaning"])
    documented = {code(form): (code(backend), meaning) for form, backend, meaning in rows}
    expected = {url: (form.backend, form.meaning)
                for url, form in zip(URL_FORMS, TRANSPORT_FORMS.values(), strict=True)}
    assert documented == expected
    assert all(url.startswith(scheme + ":") for url, scheme in zip(URL_FORMS, TRANSPORT_FORMS, strict=True))


def test_the_short_names() -> None:
    assert [code(row[0]) for row in table_with(["Short name", "Same as"])] == list(TRANSPORTS)


def test_the_environment_only_variables() -> None:
    rows = table_with(["Variable", "Meaning"])
    assert {code(name): meaning for name, meaning in rows} == {e.name: e.meaning for e in ENVIRONMENT}


@pytest.mark.parametrize("variable", ENVIRONMENT, ids=lambda e: e.name)
def test_each_environment_only_variable_is_named_where_it_is_read(variable: EnvironmentVariable) -> None:
    constants = vars(importlib.import_module(variable.read_by)).values()
    assert variable.name in constants, f"{variable.read_by} has no constant {variable.name!r}"


def test_every_variable_named_in_the_source_is_documented() -> None:
    named = {m for path in (ROOT / "src").rglob("*.py") for m in ENV_NAME.findall(path.read_text(encoding="utf-8"))}
    documented = {k.env for k in KEYS if k.env} | {e.name for e in ENVIRONMENT}
    assert named <= documented, f"undocumented: {sorted(named - documented)}"
    assert named >= documented - {k.env for k in KEYS}, "documented but read nowhere"


def _field(settings: Settings, spec: Key) -> object:
    if spec.table == "database":
        return settings.database_url
    value = getattr(getattr(settings, spec.table), "from_" if spec.name == "from" else spec.name)
    return str(value) if isinstance(value, Path) else value


@pytest.mark.parametrize("spec", [k for k in KEYS if k.table != "dkim"], ids=lambda k: f"{k.table}.{k.name}")
def test_the_settings_classes_have_the_documented_defaults(spec: Key) -> None:
    assert _field(Settings(), spec) == spec.default


def test_an_empty_file_loads_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "solidarity-mailer.toml"
    path.write_text("", encoding="utf-8")
    loaded = load_settings(path, environ={})
    for spec in KEYS:
        if spec.table in ("dkim", "database") or (spec.table, spec.name) == ("delivery", "outbox"):
            continue  # no table (dkim), or a path made relative to the settings folder
        assert _field(loaded, spec) == spec.default, f"[{spec.table}] {spec.name}"
    assert loaded.delivery.outbox == tmp_path.resolve() / "outbox" and loaded.dkim is None
