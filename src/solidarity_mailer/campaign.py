"""A campaign file: what to send (resolution, template), from whom, with which subject, to which lists, and the
translations of its resolution (``[translations.LANG]`` tables: resolution, subject, preheader)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidarity_mailer.config.reader import key_line
from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.languages import best_match, is_tag
from solidarity_mailer.paths import project_root

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_SUBJECT_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0 (tab and line breaks too), DEL, C1


@dataclass(frozen=True)
class Translation:
    """One ``[translations.LANG]`` table: a translated resolution file and the subject (and preheader) in LANG."""

    language: str
    resolution_path: Path
    subject: str
    preheader: str = ""


@dataclass(frozen=True)
class Campaign:
    """A campaign as declared in ``campaigns/NAME.toml``.

    ``lists`` are CSV files; a bare name ``example`` in the file means ``recipients/example.csv``
    of the project. Paths in the file are relative to the file itself.
    """

    id: str
    path: Path
    subject: str
    sender: str
    resolution_path: Path
    lists: tuple[Path, ...]
    template: str = "resolution"
    reply_to: str | None = None
    preheader: str = ""
    language: str = "en"
    templates_dir: Path | None = None
    translations: tuple[Translation, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """The default language first, then the translations' in file order."""
        return (self.language, *(t.language for t in self.translations))

    def language_for(self, tag: str | None) -> str:
        """The language a reader of ``tag`` gets: ``es-PE`` → ``es``; unknown or empty → the default."""
        return best_match(tag, self.languages, self.language)

    def variant(self, language: str) -> Campaign:
        """This campaign as sent in one of its translations' ``language`` (itself for the default)."""
        for t in self.translations:
            if t.language == language:
                return dataclasses.replace(self, subject=t.subject, preheader=t.preheader, language=t.language,
                                           resolution_path=t.resolution_path, translations=())
        return self
    window: str | None = None  # send window hours, "08:00-20:00" (checked; send_window.py), None: the settings'
    days: str | None = None  # send window days, "mon-fri"


class _Table:
    """One table of the file (``[campaign]``, ``[translations.es]``), with the file's lines to locate a key."""

    def __init__(self, path: Path, lines: list[str], table: dict[str, Any], name: str = "campaign") -> None:
        self.path, self.lines, self.table, self.name = path, lines, table, name

    def where(self, key: str | None = None) -> str:
        return location(self.path, key_line(self.lines, self.name, key))

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        if key not in self.table:
            if required:
                raise MailerError(f"missing key '{key}' in [{self.name}]", where=self.where(),
                                  hint=f"add {key} = \"…\"")
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise MailerError(f"[{self.name}] {key}: must be a string, not {type(value).__name__}",
                              where=self.where(key), hint=f'write {key} = "…"')
        return value

    def window(self, key: str) -> str | None:
        """``window`` or ``days``: checked (one line naming the file's line when wrong), None when absent."""
        from solidarity_mailer.send_window import DAYS_HINT, HOURS_HINT, parse_days, parse_hours

        if key not in self.table:
            return None
        value = self.text(key)
        try:
            (parse_hours if key == "window" else parse_days)(value)
        except ValueError as exc:
            raise MailerError(f"[campaign] {key}: {exc}", where=self.where(key),
                              hint=HOURS_HINT if key == "window" else DAYS_HINT) from None
        return value

    def subject(self) -> str:
        """The subject: one line, no control characters (a header must never be folded or cut silently)."""
        value = self.text("subject")
        bad = _SUBJECT_CONTROL_RE.search(value)
        if bad:
            char = bad.group()
            what = "a line break" if char in "\r\n\u2028\u2029\x85" else f"the control character U+{ord(char):04X}"
            raise MailerError(f"[{self.name}] subject: contains {what}", where=self.where("subject"),
                              hint="a subject is one line of text; remove it")
        return value

    def language(self, key: str = "language", default: str = "en") -> str:
        value = self.text(key, required=False, default=default)
        if not is_tag(value):
            raise MailerError(f"[{self.name}] {key}: '{value}' is not a language tag", where=self.where(key),
                              hint='write a BCP 47 tag such as "en", "es" or "pt-BR"')
        return value


def _translations(path: Path, lines: list[str], data: dict[str, Any], default: str) -> tuple[Translation, ...]:
    """The ``[translations.LANG]`` tables, checked: a language tag each, none twice, none the default's."""
    tables = data.get("translations", {})
    if not isinstance(tables, dict):
        raise MailerError("'translations' must be tables", where=path, hint='write [translations.es] resolution = "…"')
    found: list[Translation] = []
    seen = {default.lower(): "[campaign] language"}
    for lang, table in tables.items():
        name = f"translations.{lang}"
        where = location(path, key_line(lines, name))
        if not isinstance(table, dict):
            raise MailerError(f"[{name}] must be a table", where=where, hint=f'write [{name}] resolution = "…"')
        if not is_tag(lang):
            raise MailerError(f"[{name}]: '{lang}' is not a language tag", where=where,
                              hint="name the table after a BCP 47 tag: [translations.es], [translations.pt-BR]")
        if lang.lower() in seen:
            raise MailerError(f"[{name}]: the language '{lang}' is already {seen[lang.lower()]}", where=where,
                              hint="give each language one table, and none to the campaign's own language")
        seen[lang.lower()] = f"[{name}]"
        t = _Table(path, lines, table, name)
        found.append(Translation(lang, (path.resolve().parent / t.text("resolution")).resolve(), t.subject(),
                                 t.text("preheader", required=False)))
    return tuple(found)


def _resolve_list(entry: str, base: Path, root: Path) -> Path:
    if entry.endswith(".csv") or "/" in entry:
        return (base / entry).resolve()
    return (root / "recipients" / f"{entry}.csv").resolve()


def _read(path: Path) -> str:
    """The text of a campaign file; one clear error for anything that is not a readable UTF-8 file."""
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise MailerError(f"{kind}, not a campaign file", where=path,
                          hint="give a campaign id or the path of a campaign .toml file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MailerError("campaign file not found", where=path) from None
    except UnicodeDecodeError as exc:
        raise MailerError(f"not UTF-8 text (byte {exc.start})", where=path, hint="save the file as UTF-8") from None
    except OSError as exc:
        raise MailerError(f"cannot read the campaign file: {exc.strerror}", where=path) from None


def load_campaign(path: Path) -> Campaign:
    """Read and check a campaign file."""
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None
    table = data.get("campaign")
    if not isinstance(table, dict):
        raise MailerError("no [campaign] table", where=path, hint="start the file with [campaign]")
    lines = text.splitlines()
    t = _Table(path, lines, table)
    language = t.language()
    base = path.resolve().parent
    root = project_root(base)
    cid = t.text("id", required=False, default=path.stem)
    if not _ID_RE.match(cid):
        raise MailerError(f"campaign id '{cid}' must be lowercase letters, digits, '.', '_' or '-'", where=path)
    lists = table.get("lists", [])
    if not isinstance(lists, list) or not all(isinstance(x, str) for x in lists):
        raise MailerError("[campaign] lists: must be a list of list names or CSV paths", where=t.where("lists"))
    templates = table.get("templates")
    return Campaign(
        id=cid,
        path=path.resolve(),
        subject=t.subject(),
        sender=t.text("from"),
        reply_to=t.text("reply_to", required=False) or None,
        resolution_path=(base / t.text("resolution")).resolve(),
        template=t.text("template", required=False, default="resolution"),
        lists=tuple(_resolve_list(x, base, root) for x in lists),
        preheader=t.text("preheader", required=False),
        language=language,
        templates_dir=(base / templates).resolve() if isinstance(templates, str) else None,
        translations=_translations(path, lines, data, language),
        window=t.window("window"),
        days=t.window("days"),
    )
