"""Import a resolution published as plain text (the seed's layout) into a :class:`Resolution`.

The layout, top to bottom (blank lines separate blocks; a block's lines are joined with a space):

1. the first non-empty line: the source and the date, "www.icor.info 7 February 2023" (also
   "February 7, 2023", "7 Feb 2023", "2023-02-07", or written in the resolution's language, see
   ``content/dates.py``); the source is a web address, made absolute (https);
2. optionally the kind, a one-line block ending in ":" ("ICOR resolution:"); the colon is dropped;
3. the title: the next block, at most 200 characters;
4. the body paragraphs; the demands come from the sentence that lists them (see ``content/demands.py``);
5. the closing slogans: the blocks right before the signatories whose every line is short (at most
   120 characters) and ends with "!" (each such line is one slogan; at least one paragraph stays);
6. "Signatories (as of …):" then one signatory per non-empty line (see ``content/signatories.py``).

A translation (``language`` other than English) may head its signatories in English or in its language (the
word "Signatories" of its catalogue, ``i18n.py``: "Firmantes (al …):"), and may leave the list out (the
original's is used). An English heading there is not kept: the mail shows the catalogue's word. The words
are kept exactly as written. Whatever does not fit is a :class:`MailerError` naming ``file:line``
and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from solidarity_mailer.content.dates import parse_date
from solidarity_mailer.content.demands import find_demands
from solidarity_mailer.content.resolution import Resolution
from solidarity_mailer.content.signatories import parse_signatory_line
from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.languages import primary

MAX_TITLE = 200
MAX_SLOGAN = 120
_SOURCE = re.compile(r"^(?:https?://)?[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?::\d+)?(?:/\S*)?$")
_SIGNATORIES = re.compile(r"^Signator(?:y|ies)\b.*:$", re.IGNORECASE)
_SIGNATORIES_NO_COLON = re.compile(r"^Signatories(?: \(as of [^()]*\))?$", re.IGNORECASE)
_EXAMPLE = "e.g. 'www.icor.info 7 February 2023'"


@dataclass(frozen=True)
class _Block:
    """Consecutive non-empty lines; ``line`` is the number of the first one."""

    line: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def import_file(path: Path, language: str = "en") -> Resolution:
    """Read a plain-text resolution file (UTF-8) written in ``language`` and parse it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MailerError("file not found", where=path) from None
    except IsADirectoryError:
        raise MailerError("is a directory, expected a text file", where=path) from None
    except UnicodeDecodeError as exc:
        raise MailerError(f"not UTF-8 text ({exc.reason})", where=path, hint="save the file as UTF-8") from None
    return parse_resolution_text(text, path, language)


def parse_resolution_text(text: str, where: str | Path, language: str = "en") -> Resolution:
    """Parse the text of a resolution in the plain-text layout, written in ``language``; ``where`` names it in
    errors."""
    lines = [(n, line.strip()) for n, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1)]
    content = [(n, line) for n, line in lines if line]
    if not content:
        raise MailerError("the file is empty", where=location(where, 1),
                          hint=f"start with the source and the date, {_EXAMPLE}")
    first_line, first = content[0]
    source, date = parse_source_and_date(first, location(where, first_line), language)
    header, heading = _find_signatories_header(lines, first_line, where, language)
    blocks = _blocks(lines[first_line : header - 1])
    kind = ""
    if blocks and len(blocks[0].lines) == 1 and blocks[0].text.endswith(":"):
        kind = blocks.pop(0).text[:-1].rstrip()
    title = _take_title(blocks, header, where)
    paragraphs, slogans = _split_slogans(blocks)
    if not paragraphs:
        raise MailerError("expected body paragraphs between the title and the signatories",
                          where=location(where, header))
    signatories = tuple(
        parse_signatory_line(line, location(where, n)) for n, line in lines[header:] if line
    )
    if not signatories and primary(language) == "en":  # a translation may leave them to the original
        raise MailerError("expected signatories after this line, one per line", where=location(where, header))
    return Resolution(
        kind=kind,
        title=title,
        date=date,
        source=source,
        source_url=source if re.match(r"https?://", source) else f"https://{source}",
        paragraphs=tuple(b.text for b in paragraphs),
        demands=find_demands([(b.line, b.text) for b in paragraphs], str(where), language),
        slogans=slogans,
        signatories_heading=heading,
        signatories=signatories,
        language=language,
    )


def parse_source_and_date(text: str, where: str, language: str = "en") -> tuple[str, dt.date]:
    """Split the first line into its source (a web address) and its date (in English, ISO or ``language``)."""
    found = parse_date(text, where, language)
    if found is None:
        raise MailerError(f"expected the source and the date, found '{text}'", where=where, hint=_EXAMPLE)
    date, start = found
    source = text[:start].strip()
    if not source:
        raise MailerError("expected the source (a web address) before the date", where=where, hint=_EXAMPLE)
    if not _SOURCE.match(source):
        raise MailerError(f"the source '{source}' is not a web address", where=where, hint=_EXAMPLE)
    return source, date


def _folded(text: str) -> str:
    """Case-folded, without combining marks (Arabic shadda, accents): how headings are compared."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _own_heading(line: str, language: str) -> bool:
    """Whether ``line`` is the signatories heading in ``language``'s own word (ending with ':')."""
    if primary(language) == "en" or not line.endswith(":"):
        return False
    from solidarity_mailer.i18n import gettext

    word = gettext(language, "Signatories")
    return word != "Signatories" and _folded(line).startswith(_folded(word))


def _find_signatories_header(lines: list[tuple[int, str]], after: int, where: str | Path,
                             language: str) -> tuple[int, str]:
    """The heading's line number and the heading as kept ("" for an English one in a translation)."""
    for n, line in lines[after:]:
        if _own_heading(line, language):
            return n, line[:-1].rstrip()
        if _SIGNATORIES.match(line):
            return n, line[:-1].rstrip() if primary(language) == "en" else ""
        if _SIGNATORIES_NO_COLON.match(line):
            raise MailerError("expected ':' at the end of the signatories heading", where=location(where, n),
                              hint="write 'Signatories (as of DATE):'")
    last = max(n for n, line in lines if line)
    hint = "add the line 'Signatories (as of DATE):' before the list of signatories"
    if primary(language) != "en":
        from solidarity_mailer.i18n import gettext

        hint += f", or '{gettext(language, 'Signatories')} …:'; the list itself may be left out"
    raise MailerError("reached the end of the file without a 'Signatories (as of …):' line",
                      where=location(where, last), hint=hint)


def _blocks(lines: list[tuple[int, str]]) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[tuple[int, str]] = []
    for n, line in [*lines, (0, "")]:
        if line:
            current.append((n, line))
        elif current:
            blocks.append(_Block(current[0][0], tuple(text for _, text in current)))
            current = []
    return blocks


def _take_title(blocks: list[_Block], header: int, where: str | Path) -> str:
    if not blocks:
        raise MailerError("expected a title before the signatories", where=location(where, header))
    block = blocks.pop(0)
    if len(block.text) > MAX_TITLE:
        raise MailerError(
            f"expected a title (at most {MAX_TITLE} characters), found a paragraph of {len(block.text)}",
            where=location(where, block.line),
            hint="put the title on its own line after the kind line (e.g. 'ICOR resolution:')",
        )
    return block.text


def _is_slogan_block(block: _Block) -> bool:
    return all(len(line) <= MAX_SLOGAN and line.endswith("!") for line in block.lines)


def _split_slogans(blocks: list[_Block]) -> tuple[list[_Block], tuple[str, ...]]:
    cut = len(blocks)
    while cut > 1 and _is_slogan_block(blocks[cut - 1]):
        cut -= 1
    slogans = tuple(line for block in blocks[cut:] for line in block.lines)
    return blocks[:cut], slogans
