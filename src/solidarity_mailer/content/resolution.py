"""The resolution as content: a structured, human-editable TOML file and its typed model."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from solidarity_mailer.errors import MailerError


@dataclass(frozen=True)
class Signatory:
    """One signing organisation, its name kept exactly as written (any script)."""

    abbreviation: str
    name: str
    name_en: str | None = None
    country: str | None = None
    lang: str | None = None  # BCP 47 tag of ``name`` where known ("bg", "tr", "fr", …)


@dataclass(frozen=True)
class Demands:
    """The sentence that lists the demands, split so it can be shown as an ordered list.

    ``paragraph`` is the index in ``Resolution.paragraphs`` of the paragraph holding the sentence;
    ``lead`` is that paragraph's text up to the list ("… where they demand"), ``items`` the demands
    in order, ``tail`` the text after the sentence. ``lead + items + tail`` keeps every word.
    """

    paragraph: int
    lead: str
    items: tuple[str, ...]
    tail: str = ""


@dataclass(frozen=True)
class Resolution:
    """A resolution: its kind and title, date, source, body, demands, slogans and signatories."""

    kind: str
    title: str
    date: dt.date
    source: str
    source_url: str
    paragraphs: tuple[str, ...]
    demands: Demands | None = None
    slogans: tuple[str, ...] = ()
    signatories_heading: str = ""  # "" = the template's word for it, in the mail's language
    signatories: tuple[Signatory, ...] = ()
    language: str = "en"
    extra: Mapping[str, object] = field(default_factory=dict)  # keys this version does not know, kept


def _require(data: Mapping[str, object], key: str, kind: type, where: Path) -> Any:
    if key not in data:
        raise MailerError(f"missing key '{key}'", where=where, hint=f"add '{key} = …' to the file")
    value = data[key]
    if not isinstance(value, kind):
        raise MailerError(f"'{key}' must be a {kind.__name__}", where=where)
    return value


def resolution_from_dict(data: Mapping[str, object], where: Path) -> Resolution:
    """Build a :class:`Resolution` from parsed TOML, with clear errors for missing or wrong keys."""
    date = _require(data, "date", dt.date, where)
    demands = None
    if "demands" in data:
        d = data["demands"]
        if not isinstance(d, dict):
            raise MailerError("'demands' must be a table", where=where, hint="use [demands] with lead/items")
        items = _require(d, "items", list, where)
        demands = Demands(
            paragraph=int(_require(d, "paragraph", int, where)),
            lead=str(_require(d, "lead", str, where)),
            items=tuple(str(i) for i in items),
            tail=str(d.get("tail", "")),
        )
    paragraphs = tuple(str(p) for p in _require(data, "paragraphs", list, where))
    if demands is not None and not 0 <= demands.paragraph < len(paragraphs):
        raise MailerError(f"demands.paragraph {demands.paragraph} is not a paragraph index", where=where)
    signatories = []
    for i, s in enumerate(_require(data, "signatories", list, where) if "signatories" in data else [], start=1):
        if not isinstance(s, dict) or "name" not in s:
            raise MailerError(f"signatory {i} needs at least a 'name'", where=where)
        signatories.append(
            Signatory(
                abbreviation=str(s.get("abbreviation", "")),
                name=str(s["name"]),
                name_en=s.get("name_en"),
                country=s.get("country"),
                lang=s.get("lang"),
            )
        )
    known = {"kind", "title", "date", "source", "source_url", "paragraphs", "demands", "slogans",
             "signatories_heading", "signatories", "language"}
    return Resolution(
        kind=str(data.get("kind", "")),
        title=str(_require(data, "title", str, where)),
        date=date,
        source=str(data.get("source", "")),
        source_url=str(data.get("source_url", "")),
        paragraphs=paragraphs,
        demands=demands,
        slogans=tuple(str(s) for s in (_require(data, "slogans", list, where) if "slogans" in data else [])),
        signatories_heading=str(data.get("signatories_heading", "")),
        signatories=tuple(signatories),
        language=str(data.get("language", "en")),
        extra={k: v for k, v in data.items() if k not in known},
    )


def resolution_to_dict(res: Resolution) -> dict[str, object]:
    """The TOML-ready mapping of a resolution (keys with no value are left out)."""
    out: dict[str, object] = {
        "kind": res.kind,
        "title": res.title,
        "date": res.date,
        "language": res.language,
        "source": res.source,
        "source_url": res.source_url,
        "paragraphs": list(res.paragraphs),
        "slogans": list(res.slogans),
        "signatories_heading": res.signatories_heading,
    }
    if res.demands is not None:
        out["demands"] = {
            "paragraph": res.demands.paragraph,
            "lead": res.demands.lead,
            "items": list(res.demands.items),
            "tail": res.demands.tail,
        }
    if res.signatories:  # none: a translation using the original's
        out["signatories"] = [{k: v for k, v in vars(s).items() if v not in (None, "")} for s in res.signatories]
    out.update(res.extra)
    return out


def load_resolution(path: Path) -> Resolution:
    """Read a structured resolution file (TOML)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MailerError("file not found", where=path) from None
    except UnicodeDecodeError as exc:
        raise MailerError(f"not UTF-8 text ({exc.reason})", where=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None
    return resolution_from_dict(data, path)


def dump_resolution(res: Resolution) -> str:
    """Serialise a resolution as TOML text (multi-line strings where they help reading)."""
    return tomli_w.dumps(resolution_to_dict(res), multiline_strings=True)


def save_resolution(res: Resolution, path: Path) -> None:
    """Write a resolution as a structured TOML file."""
    path.write_text(dump_resolution(res), encoding="utf-8")
