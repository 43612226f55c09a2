"""CSV cells a spreadsheet will not run as formulas (OWASP's CSV-injection guidance), and back.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a single
quote in front, which spreadsheets read as "text" and do not show. So that the quote is taken off again on
import, and only there, a cell that is already quotes followed by such a character gets one more quote
(``'=x`` is written ``''=x``). :func:`restore` undoes :func:`neutralise` exactly, and leaves every other
cell alone (``o'brien@…`` or ``'a note`` stay as they are).
"""

from __future__ import annotations

import re

_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")


def neutralise(cell: str) -> str:
    """The cell as written to a CSV file: a quote in front when it could start a formula."""
    return "'" + cell if _FORMULA.match(cell) else cell


def restore(cell: str) -> str:
    """The cell as read from a CSV file written with :func:`neutralise`: that quote taken off."""
    return cell[1:] if _NEUTRALISED.match(cell) else cell
