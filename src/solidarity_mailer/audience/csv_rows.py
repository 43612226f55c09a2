"""Robust CSV rows: read one physical line at a time, so a broken row never swallows the rows after it.

Python's :mod:`csv` reader, given an unclosed quote, silently reads the rest of the file into one
field. Here each physical line (bytes up to ``\\n``) is decoded on its own (UTF-8, a leading BOM
dropped), and a row continues onto the next line only while a quoted field is open. A row that
spans lines is accepted only when it closes cleanly (the closing quote is followed by a comma or
the line end) and has the header's column count; otherwise the quote opened on its first line is
reported as unclosed and the lines after that first line are read again as rows of their own.
A consumer that finds such a row invalid (say, a name with a line break) calls :meth:`CsvRows.reread`
for the same effect: an open quote must never hide the rows after it.
A row may span at most :data:`MAX_ROW_LINES` lines and a line may hold at most
:data:`MAX_LINE_BYTES` bytes, so memory stays bounded whatever the input.

The first non-blank row is the header and fixes the column count. Every row is reported exactly
once, as fields, as blank (an empty or whitespace line, or only empty fields) or as an error, with
the physical line number it starts on.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_ROW_LINES = 100
MAX_LINE_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One row: ``fields`` when it parsed, else ``error`` (or ``blank``); ``line`` is its first physical line."""

    line: int
    fields: list[str] | None = None
    error: str | None = None
    blank: bool = False
    header: bool = False
    last_line: int = 0  # the last physical line of a row that spans lines (0: one line)


@dataclass(slots=True)
class _Line:
    number: int
    text: str | None  # None: longer than MAX_LINE_BYTES
    decode_error: str | None = None


def _physical_lines(fp: BinaryIO) -> Iterator[_Line]:
    number = 0
    while True:
        raw = fp.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := fp.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield _Line(number, None)
            continue
        try:
            yield _Line(number, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.end].hex(" ")
            message = f"undecodable bytes (not UTF-8): {bad} at byte {exc.start + 1} of line {number}"
            yield _Line(number, raw.decode("utf-8", errors="replace"), message)


def _scan(text: str, in_quotes: bool) -> tuple[bool, bool]:
    """Follow the quoting of one physical line: return (still inside a quoted field, malformed).

    Malformed means text after a closing quote (``"abc"def``), which csv would silently glue together.
    A quote in the middle of an unquoted field is a literal character, as in csv.
    """
    i, n = 0, len(text)
    while (j := text.find('"', i)) >= 0:
        if in_quotes:
            if j + 1 < n and text[j + 1] == '"':
                i = j + 2
                continue
            in_quotes, i = False, j + 1
            if i < n and text[i] not in ",\r\n":
                return False, True
        else:
            if j == 0 or text[j - 1] == ",":
                in_quotes = True
            i = j + 1
    return in_quotes, False


def _split(text: str) -> list[str]:
    if '"' not in text:
        return text.rstrip("\r\n").split(",")
    return next(csv.reader([text.removesuffix("\n").removesuffix("\r")]))


class CsvRows:
    """Iterate over the :class:`CsvRow` of a binary file; ``columns`` is set once the header is read."""

    def __init__(self, fp: BinaryIO) -> None:
        self._lines = _physical_lines(fp)
        self._pending: deque[_Line] = deque()
        self._continuation: list[_Line] = []
        self.columns: int | None = None

    def _next(self) -> _Line | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._lines, None)

    def __iter__(self) -> Iterator[CsvRow]:
        while (first := self._next()) is not None:
            self._continuation = []
            yield self._row(first)

    def reread(self) -> None:
        """Read the lines after the first line of the row just yielded again, as rows of their own.

        For a row that spans lines but turned out invalid: an open quote may have swallowed them.
        """
        self._pending.extendleft(reversed(self._continuation))
        self._continuation = []

    def _row(self, first: _Line) -> CsvRow:
        number, text = first.number, first.text
        if text is None:
            return CsvRow(number, error=f"line longer than {MAX_LINE_BYTES} bytes")
        if not text.strip():
            return CsvRow(number, blank=True)
        in_quotes, malformed = _scan(text, False)
        if malformed:
            return CsvRow(number, error='unexpected text after a closing quote (write a quote inside a field as "")')
        lines = [first]
        while in_quotes:
            nxt = self._next()
            if nxt is None or nxt.text is None or len(lines) >= MAX_ROW_LINES:
                if nxt is not None:
                    self._pending.appendleft(nxt)
                return self._unclosed(lines)
            lines.append(nxt)
            in_quotes, malformed = _scan(nxt.text, True)
            if malformed:
                return self._unclosed(lines)
        whole = "".join(line.text or "" for line in lines)
        try:
            fields = _split(whole)
        except csv.Error as exc:
            return CsvRow(number, error=f"malformed CSV: {exc}")
        if len(lines) > 1 and self.columns is not None and len(fields) != self.columns:
            return self._unclosed(lines)
        for line in lines:
            if line.decode_error:
                return CsvRow(number, error=line.decode_error)
        if any("\r" in f and "\n" not in f for f in fields) and len(lines) == 1:
            return CsvRow(number, error="carriage return (CR) inside the line: save the file with LF or CRLF line ends")
        if all(not f.strip() for f in fields):
            return CsvRow(number, blank=True)
        if self.columns is None:
            self.columns = len(fields)
            return CsvRow(number, fields=fields, header=True)
        if len(fields) != self.columns:
            return CsvRow(number, error=f"expected {self.columns} columns, found {len(fields)}")
        self._continuation = lines[1:]
        return CsvRow(number, fields=fields, last_line=lines[-1].number if len(lines) > 1 else 0)

    def _unclosed(self, lines: list[_Line]) -> CsvRow:
        """Report the quote opened on the first line; read the lines after it again as rows of their own."""
        self._pending.extendleft(reversed(lines[1:]))
        return CsvRow(
            lines[0].number,
            error="unclosed quote: a quoted field opened on this line does not close properly "
            "(the following lines are read as rows of their own)",
        )
