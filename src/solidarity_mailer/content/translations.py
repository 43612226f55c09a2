"""A translation of a resolution: read like any resolution file, then checked against the original.

Only the prose is translated (kind, title, paragraphs, demands, slogans, the signatories heading); the
signatories are one list shared by every translation: a translation that omits them gets the original's, one
that repeats them must repeat them unchanged (a ``lang`` left out is no change). The check gives notes, one line
each naming ``file:line``, for a translation whose number of paragraphs or demands differs from the original's,
whose demands stand in another paragraph, whose signatories differ or whose ``language`` is not the campaign's
table's. They are warnings (``render``, ``send --dry-run`` and every send show them); the translation is sent as
it is.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from solidarity_mailer.config.reader import key_line
from solidarity_mailer.content.plaintext_import import import_file
from solidarity_mailer.content.resolution import Resolution, Signatory, resolution_from_dict
from solidarity_mailer.errors import MailerError, location

TEXT_SUFFIXES = (".txt", ".text")


def _top_level_line(lines: list[str], key: str) -> int | None:
    """The line (from 1) of ``key = …`` before the file's first table, None when absent."""
    pattern = re.compile(rf"""^(?:{re.escape(key)}|"{re.escape(key)}")\s*=""")
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("["):
            return None
        if pattern.match(stripped):
            return number
    return None


def _first_line(lines: list[str], header: str) -> int | None:
    return next((n for n, line in enumerate(lines, 1) if line.strip().startswith(header)), None)


def _read(path: Path, language: str) -> tuple[Resolution, list[str], dict[str, object]]:
    """The translation as written, its lines (none for plain text) and its parsed TOML."""
    if path.suffix.lower() in TEXT_SUFFIXES:
        return import_file(path, language=language), [], {"language": language}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MailerError("translation not found", where=path,
                          hint="check 'resolution' in the campaign's [translations] table") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise MailerError(f"cannot read the translation: {exc}", where=path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None
    if "campaign" in data:
        raise MailerError("a campaign file, not a translated resolution", where=path,
                          hint="point the [translations] table's 'resolution' at a resolution .toml")
    return resolution_from_dict({"signatories_heading": "", **data}, path), text.splitlines(), data


def _note(path: Path, line: int | None, what: str, hint: str) -> str:
    return MailerError(what, where=location(path, line), hint=hint).line()


def _count_notes(original: Resolution, translation: Resolution, source: Path, path: Path,
                 lines: list[str]) -> list[str]:
    """Paragraphs and demands counted (and placed) as in the original, or a note each."""
    notes = []
    ours, theirs = len(translation.paragraphs), len(original.paragraphs)
    if ours != theirs:
        notes.append(_note(path, _top_level_line(lines, "paragraphs"),
                           f"the translation has {ours} paragraphs, the original {theirs} ({source.name})",
                           "translate every paragraph of the original, one for one"))
    ours = len(translation.demands.items) if translation.demands else 0
    theirs = len(original.demands.items) if original.demands else 0
    line = key_line(lines, "demands", "items") or key_line(lines, "demands")
    hint = "translate every demand of the original, one item each, in its order"
    if not translation.demands and original.demands:  # none found by the importer: the paragraphs hold them
        line = _top_level_line(lines, "paragraphs")
        hint = f"split them by hand in a [demands] table, as the original's paragraph {original.demands.paragraph}"
    if ours != theirs:
        notes.append(_note(path, line, f"the translation has {ours} demands, the original {theirs} ({source.name})",
                           hint))
    elif translation.demands and original.demands and translation.demands.paragraph != original.demands.paragraph:
        notes.append(_note(path, key_line(lines, "demands", "paragraph"),
                           f"the demands stand in paragraph {translation.demands.paragraph}, in the original in "
                           f"{original.demands.paragraph} ({source.name})", "set [demands] paragraph as the original"))
    return notes


def _same_signatories(original: tuple[Signatory, ...], repeated: tuple[Signatory, ...]) -> bool:
    """Whether ``repeated`` is the original's list unchanged; a ``lang`` it leaves out is not a change (a
    plain-text import cannot know one the original's maintainer added by hand)."""
    return len(original) == len(repeated) and all(
        ours == theirs or (ours.lang is None and ours == dataclasses.replace(theirs, lang=None))
        for theirs, ours in zip(original, repeated, strict=True))


def load_translation(original: Resolution, source: Path, path: Path, language: str) -> tuple[Resolution, list[str]]:
    """The translation in ``path`` of ``original`` (read from ``source``) into ``language``, with the original's
    signatories, and the notes of its check (``file:line: what (hint)``)."""
    translation, lines, data = _read(path, language)
    notes = _count_notes(original, translation, source, path, lines)
    written = data.get("language")
    if isinstance(written, str) and written.lower() != language.lower():
        notes.append(_note(path, _top_level_line(lines, "language"),
                           f"the file says language '{written}', the campaign sends it as '{language}'",
                           f'write language = "{language}", or move it to [translations.{written}]'))
    if translation.signatories and not _same_signatories(original.signatories, translation.signatories):
        notes.append(_note(path, _first_line(lines, "[[signatories]]"),
                           f"the signatories differ from the original's ({source.name}); the original's are sent",
                           "the signatories are shared by every translation: remove them from this file"))
    translation = dataclasses.replace(translation, language=language, signatories=original.signatories)
    return translation, notes
