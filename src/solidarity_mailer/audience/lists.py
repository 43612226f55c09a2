"""Mailing list files: ``recipients/NAME.csv`` (+ optional ``recipients/NAME.toml``), read as a stream.

A list is a UTF-8 CSV file (an Excel BOM is fine, LF or CRLF) whose header row names at least
``email``; ``name``, ``lang`` and ``tz`` (an IANA time zone) are optional, and every further column reaches templates as
``Recipient.fields``. Column names are matched case-insensitively and stripped. A companion TOML file
next to the CSV holds the list's metadata::

    name = "Example supporters"                 # display name (default: the file name)
    list_id = "example.lists.example.org"       # RFC 2919 List-Id (default: "<file name>.localhost")
    description = "People who asked for news"   # free text (default: "")

:class:`ListReader` yields, per row, either a valid :class:`~solidarity_mailer.audience.recipient.Recipient` or a
:class:`RowError` naming file and physical line; blank rows are counted, never errors. It holds one
row at a time, so a list of any length is read in bounded memory.
"""

from __future__ import annotations

import re
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from solidarity_mailer.audience.addresses import normalise_address
from solidarity_mailer.audience.csv_rows import CsvRows
from solidarity_mailer.audience.list_ids import is_list_id
from solidarity_mailer.audience.recipient import Recipient
from solidarity_mailer.errors import MailerError
from solidarity_mailer.send_window import recipient_zone

MAX_NAME_LENGTH = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_FIELD_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_RESERVED = ("email", "name", "lang", "tz")


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that is not a valid recipient: ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class ListMeta:
    """A list's display name, RFC 2919 List-Id and description."""

    path: Path
    name: str
    list_id: str
    description: str = ""


def check_list_id(value: str, where: str | Path) -> str:
    """Return ``value`` if it is a valid RFC 2919 List-Id (``label.namespace``), else raise MailerError."""
    if not is_list_id(value):
        raise MailerError(
            f"invalid list_id {value!r}", where=where, hint='use dotted words such as "news.lists.example.org"'
        )
    return value


def default_list_id(csv_path: Path) -> str:
    """``<file name>.localhost``: RFC 2919's namespace for lists without a registered domain."""
    label = re.sub(r"[^a-z0-9-]+", "-", csv_path.stem.lower()).strip("-") or "list"
    return f"{label}.localhost"


def load_list_meta(csv_path: Path) -> ListMeta:
    """The metadata of a list from the TOML file next to it; defaults when that file does not exist."""
    toml_path = csv_path.with_suffix(".toml")
    defaults = ListMeta(csv_path, csv_path.stem, default_list_id(csv_path))
    if not toml_path.exists():
        return defaults
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MailerError(f"invalid TOML: {exc}", where=toml_path) from None
    unknown = sorted(set(data) - {"name", "list_id", "description"})
    if unknown:
        hint = "use name, list_id, description"
        raise MailerError(f"unknown key(s) {', '.join(unknown)}", where=toml_path, hint=hint)
    for key, value in data.items():
        if not isinstance(value, str):
            raise MailerError(f"'{key}' must be a string", where=toml_path)
    name = data.get("name", defaults.name).strip()
    if _CONTROL_RE.search(name):
        raise MailerError("'name' must be a single line without control characters", where=toml_path)
    list_id = check_list_id(data.get("list_id", defaults.list_id).strip(), toml_path)
    return ListMeta(csv_path, name or defaults.name, list_id, data.get("description", "").strip())


class _Header:
    def __init__(self, fields: list[str]) -> None:
        names = [f.strip() for f in fields]
        lowered = [n.lower() for n in names]
        if "email" not in lowered:
            raise ValueError(f"the header row has no 'email' column (found: {', '.join(names) or 'nothing'})")
        seen: set[str] = set()
        for n in lowered:
            if n and n in seen:
                raise ValueError(f"column '{n}' appears twice in the header row")
            seen.add(n)
        self.email = lowered.index("email")
        self.name = lowered.index("name") if "name" in lowered else None
        self.lang = lowered.index("lang") if "lang" in lowered else None
        self.tz = lowered.index("tz") if "tz" in lowered else None
        self.extra = [(i, n) for i, (n, low) in enumerate(zip(names, lowered, strict=True)) if low not in _RESERVED]


def check_list_file(path: Path, where: str | Path | None = None) -> None:
    """Refuse a list that is missing or not a regular file (a folder, a FIFO, ``/dev/zero``: never read)."""
    try:
        mode = Path(path).stat().st_mode
    except FileNotFoundError:
        raise MailerError("list file not found", where=where or path) from None
    except OSError as exc:
        raise MailerError(f"cannot read list file: {exc.strerror}", where=where or path) from None
    if not stat.S_ISREG(mode):
        raise MailerError("not a regular file", where=where or path, hint="a list is a CSV file")


def extra_columns(path: Path) -> list[str]:
    """The names of a list's extra columns (not email, name, lang), read from its header row only."""
    check_list_file(path)
    try:
        with Path(path).open("rb") as fp:
            for row in CsvRows(fp):
                if row.blank:
                    continue
                if row.fields is None:
                    return []
                try:
                    return [name for _, name in _Header(row.fields).extra if name]
                except ValueError:
                    return []
    except OSError as exc:
        raise MailerError(f"cannot read list file: {exc.strerror}", where=path) from None
    return []


class ListReader:
    """Stream a list file: iterate for ``Recipient | RowError``; ``rows``/``blank`` count what was read.

    ``display`` is how the file is named in errors (default: the path as given).
    """

    def __init__(self, path: Path, *, meta: ListMeta | None = None, display: str | None = None) -> None:
        self.path = Path(path)
        self.meta = meta or load_list_meta(self.path)
        self.display = display or str(path)
        self.rows = 0  # data rows read (not the header), including blank ones
        self.blank = 0

    def __iter__(self) -> Iterator[Recipient | RowError]:
        check_list_file(self.path, self.display)
        try:
            fp = self.path.open("rb")
        except OSError as exc:
            raise MailerError(f"cannot read list file: {exc.strerror}", where=self.display) from None
        with fp:
            header: _Header | None = None
            rows = CsvRows(fp)
            for row in rows:
                if header is None and row.blank:
                    continue
                if header is None:
                    if row.fields is None:
                        yield RowError(self.display, row.line, f"header row: {row.error}")
                        return
                    try:
                        header = _Header(row.fields)
                    except ValueError as exc:
                        yield RowError(self.display, row.line, str(exc))
                        return
                    continue
                self.rows += 1
                if row.blank:
                    self.blank += 1
                elif row.fields is None:
                    yield RowError(self.display, row.line, row.error or "unreadable row")
                else:
                    item = self._recipient(header, row.fields, row.line)
                    if isinstance(item, RowError) and row.last_line:
                        rows.reread()
                        note = f"; the quoted field runs on to line {row.last_line}, those lines are read as rows"
                        item = RowError(item.file, item.line, item.message + note)
                    yield item

    def _recipient(self, header: _Header, fields: list[str], line: int) -> Recipient | RowError:
        try:
            address = normalise_address(fields[header.email])
            name = _check_name(fields[header.name]) if header.name is not None else ""
            lang = _check_lang(fields[header.lang]) if header.lang is not None else None
            tz = recipient_zone(fields[header.tz]) if header.tz is not None else None
            extra = _check_extra(header, fields)
        except ValueError as exc:
            return RowError(self.display, line, str(exc))
        return Recipient(
            email=address.email,
            key=address.key,
            name=name,
            lang=lang,
            ascii_email=address.ascii_email,
            list_id=self.meta.list_id,
            source=f"{self.display}:{line}",
            fields=extra,
            tz=tz,
        )


def _check_name(raw: str) -> str:
    bad = _CONTROL_RE.search(raw)
    if bad:
        char = bad.group()
        if char in "\r\n\u2028\u2029\x85":
            raise ValueError(f"name {raw.strip()[:60]!r} contains a line break; a name must be one line")
        raise ValueError(f"name contains the control character U+{ord(char):04X}")
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"name is longer than {MAX_NAME_LENGTH} characters")
    return name


def _check_lang(raw: str) -> str | None:
    lang = raw.strip()
    if not lang:
        return None
    if not _LANG_RE.match(lang):
        raise ValueError(f"lang {lang[:40]!r} is not a language tag such as 'de' or 'pt-BR'")
    return lang


def _check_extra(header: _Header, fields: list[str]) -> dict[str, str]:
    extra: dict[str, str] = {}
    for index, column in header.extra:
        value = fields[index]
        if not column:
            if value.strip():
                raise ValueError(f"a value in column {index + 1}, which has no name in the header row")
            continue
        bad = _FIELD_CONTROL_RE.search(value)
        if bad:
            raise ValueError(f"column '{column}' contains the control character U+{ord(bad.group()):04X}")
        extra[column] = value.strip()
    return extra
