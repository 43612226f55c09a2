"""A campaign file: what to send (resolution, template), from whom, with which subject, to which lists."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solidarity_mailer.errors import MailerError
from solidarity_mailer.paths import project_root

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


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


def _text(table: dict[str, Any], key: str, path: Path, *, required: bool = True, default: str = "") -> str:
    if key not in table:
        if required:
            raise MailerError(f"missing key '{key}' in [campaign]", where=path, hint=f"add {key} = \"…\"")
        return default
    value = table[key]
    if not isinstance(value, str):
        raise MailerError(f"'{key}' must be a string", where=path)
    return value


def _resolve_list(entry: str, base: Path, root: Path) -> Path:
    if entry.endswith(".csv") or "/" in entry:
        return (base / entry).resolve()
    return (root / "recipients" / f"{entry}.csv").resolve()


def load_campaign(path: Path) -> Campaign:
    """Read and check a campaign file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MailerError("campaign file not found", where=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None
    table = data.get("campaign")
    if not isinstance(table, dict):
        raise MailerError("no [campaign] table", where=path, hint="start the file with [campaign]")
    base = path.resolve().parent
    root = project_root(base)
    cid = _text(table, "id", path, required=False, default=path.stem)
    if not _ID_RE.match(cid):
        raise MailerError(f"campaign id '{cid}' must be lowercase letters, digits, '.', '_' or '-'", where=path)
    lists = table.get("lists", [])
    if not isinstance(lists, list) or not all(isinstance(x, str) for x in lists):
        raise MailerError("'lists' must be a list of list names or CSV paths", where=path)
    templates = table.get("templates")
    return Campaign(
        id=cid,
        path=path.resolve(),
        subject=_text(table, "subject", path),
        sender=_text(table, "from", path),
        reply_to=_text(table, "reply_to", path, required=False) or None,
        resolution_path=(base / _text(table, "resolution", path)).resolve(),
        template=_text(table, "template", path, required=False, default="resolution"),
        lists=tuple(_resolve_list(x, base, root) for x in lists),
        preheader=_text(table, "preheader", path, required=False),
        language=_text(table, "language", path, required=False, default="en"),
        templates_dir=(base / templates).resolve() if isinstance(templates, str) else None,
    )
