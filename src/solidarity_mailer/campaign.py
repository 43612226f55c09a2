"""A campaign file: what to send (resolution, template), from whom, with which subject, to which lists."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidarity_mailer.config.reader import key_line
from solidarity_mailer.errors import MailerError, location
from solidarity_mailer.paths import project_root

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_SUBJECT_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0 (tab and line breaks too), DEL, C1


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
    window: str | None = None  # send window hours, "08:00-20:00" (checked; send_window.py), None: the settings'
    days: str | None = None  # send window days, "mon-fri"


class _Table:
    """The ``[campaign]`` table of one file, with the file's lines to locate a key in errors."""

    def __init__(self, path: Path, text: str, table: dict[str, Any]) -> None:
        self.path, self.lines, self.table = path, text.splitlines(), table

    def where(self, key: str) -> str:
        return location(self.path, key_line(self.lines, "campaign", key))

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        if key not in self.table:
            if required:
                raise MailerError(f"missing key '{key}' in [campaign]", where=self.path, hint=f"add {key} = \"…\"")
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise MailerError(f"[campaign] {key}: must be a string, not {type(value).__name__}", where=self.where(key),
                              hint=f'write {key} = "…"')
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
            raise MailerError(f"[campaign] subject: contains {what}", where=self.where("subject"),
                              hint="a subject is one line of text; remove it")
        return value


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
    t = _Table(path, text, table)
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
        language=t.text("language", required=False, default="en"),
        templates_dir=(base / templates).resolve() if isinstance(templates, str) else None,
        window=t.window("window"),
        days=t.window("days"),
    )
