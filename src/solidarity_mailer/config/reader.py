"""Reading the settings file: TOML parsed, tables and keys checked against :data:`~.keys.KEYS`, typed values.

Every error names the file, the line of the key (or table) and ``[table] key``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from solidarity_mailer.config.keys import TABLES, Value, key
from solidarity_mailer.config.settings import DEFAULT_PASSWORD_ENV
from solidarity_mailer.errors import MailerError, location


def key_line(lines: list[str], section: str, name: str | None = None, nth: int = 0) -> int | None:
    """The line (from 1) of ``name = …`` in table ``[section]`` (of the header when ``name`` is None), found by
    a light scan of the text (tomllib gives no positions); in the ``nth`` (from 0) table of an array of tables
    ``[[section]]``; None when not found."""
    in_section, seen = False, 0
    key = re.compile(rf"""^(?:{re.escape(name)}|"{re.escape(name)}"|'{re.escape(name)}')\s*=""") if name else None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = stripped.split("#", 1)[0].strip("[] ") == section
            if in_section:
                seen += 1
                in_section = seen == nth + 1
            if in_section and key is None:
                return number
        elif in_section and key is not None and key.match(stripped):
            return number
    return None


class TomlReader:
    """The tables of one settings file, read with type checks; values default to the keys' defaults."""

    def __init__(self, path: Path, text: str, data: Mapping[str, object], nth: int | None = None) -> None:
        self.path, self.lines, self.data, self.nth = path, text.splitlines(), data, nth

    def element(self, section: str, index: int, table: Mapping[str, object]) -> TomlReader:
        """A reader of ``table``, the ``index``-th (from 0) of the array of tables ``[[section]]``: its errors
        name it ``[[section]] #N`` and its lines are found in that table."""
        return TomlReader(self.path, "\n".join(self.lines), {section: table}, nth=index)

    def label(self, section: str) -> str:
        """``[section]``, or ``[[section]] #N`` for an element of an array of tables."""
        return f"[{section}]" if self.nth is None else f"[[{section}]] #{self.nth + 1}"

    def where(self, section: str, name: str | None = None) -> str:
        """``file:line`` of ``[section] name`` (or of the table header), just the file when absent."""
        line = key_line(self.lines, section, name, self.nth or 0)
        if line is None and name is not None:
            line = key_line(self.lines, section, None, self.nth or 0)
        return location(self.path, line)

    def fail(self, section: str, name: str | None, what: str, hint: str | None = None) -> MailerError:
        """The error for ``[section] name``, located in the file."""
        label = f"{self.label(section)} {name}" if name else self.label(section)
        return MailerError(f"{label}: {what}", where=self.where(section, name), hint=hint)

    def table(self, section: str) -> Mapping[str, object]:
        """The table ``[section]`` ({} when absent), every key in it known."""
        value = self.data.get(section, {})
        if not isinstance(value, dict):
            raise self.fail(section, None, "must be a table")
        allowed = TABLES[section]
        for name in value:
            if section == "smtp" and name == "password":
                raise self.fail(
                    section, name, "the password must not be in the file",
                    hint=f"remove it and export {DEFAULT_PASSWORD_ENV} (or the variable named by password_env)",
                )
            if name not in allowed:
                raise self.fail(section, name, "unknown key", hint="known keys: " + ", ".join(allowed))
        return value

    def has(self, section: str, name: str) -> bool:
        """Whether the file sets ``[section] name``."""
        return name in self.table(section)

    def _value(self, section: str, name: str, kind: type) -> Value | None:
        table = self.table(section)
        if name not in table:
            return key(section, name).default
        value = table[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.fail(section, name, f"must be {kind.__name__}, not {type(value).__name__} {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(section, name, f"must be a finite number, not {value}")
        if isinstance(value, str) and any(c in value for c in "\r\n\0"):
            raise self.fail(section, name, "must not contain line breaks or NUL")
        assert isinstance(value, str | int | float | bool)
        return value

    def text(self, section: str, name: str) -> str | None:
        """A string key; its default when absent (None for keys without one)."""
        value = self._value(section, name, str)
        assert value is None or isinstance(value, str)
        return value

    def required_text(self, section: str, name: str) -> str:
        """A string key whose spec has a default."""
        value = self.text(section, name)
        assert value is not None, f"[{section}] {name} has no default"
        return value

    def integer(self, section: str, name: str) -> int:
        """An integer key (never a bool)."""
        value = self._value(section, name, int)
        assert isinstance(value, int)
        return value

    def number(self, section: str, name: str) -> float:
        """A float key; an integer in the file is taken as a float."""
        value = self._value(section, name, float)
        assert isinstance(value, float)
        return value

    def flag(self, section: str, name: str) -> bool:
        """A boolean key."""
        value = self._value(section, name, bool)
        assert isinstance(value, bool)
        return value


def read_file(path: Path, required: bool) -> tuple[TomlReader, Path]:
    """The reader for ``path`` (empty when absent and not ``required``) and the folder paths are relative to."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise MailerError("configuration file not found", where=path) from None
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise MailerError(f"cannot read the configuration file: {exc}", where=path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None
    for section in data:
        if section not in TABLES:
            raise MailerError(
                f"unknown section [{section}]", where=path, hint="known sections: " + ", ".join(TABLES)
            )
    return TomlReader(path, text, data), path.resolve().parent
