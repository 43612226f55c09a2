"""Load what a command was pointed at: a campaign file, a structured resolution, or a plain-text resolution."""

from __future__ import annotations

import tomllib
from pathlib import Path

from solidarity_mailer.campaign import Campaign, load_campaign
from solidarity_mailer.content.plaintext_import import import_file
from solidarity_mailer.content.resolution import Resolution, dump_resolution, resolution_from_dict
from solidarity_mailer.errors import MailerError

TEXT_SUFFIXES = (".txt", ".text")
_KINDS = "a campaign (.toml with [campaign]), a resolution (.toml) or a plain-text resolution (.txt)"


def load_content(path: Path) -> tuple[Campaign | None, Resolution]:
    """The campaign (None when FILE is a resolution) and the resolution that FILE leads to."""
    data = _read(path)
    if data is None:
        return None, import_file(path)
    if "campaign" in data:
        campaign = load_campaign(path)
        resolution_data = _read(campaign.resolution_path)
        if resolution_data is None:
            return campaign, import_file(campaign.resolution_path)
        if "campaign" in resolution_data:
            raise MailerError(
                f"'resolution' points to another campaign file: {campaign.resolution_path}",
                where=path, hint="point 'resolution' at a resolution .toml or .txt file",
            )
        return campaign, resolution_from_dict(resolution_data, campaign.resolution_path)
    return None, resolution_from_dict(data, path)


def _read(path: Path) -> dict[str, object] | None:
    """Parsed TOML for a .toml file, None for a plain-text file; a MailerError otherwise."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return None
    if suffix != ".toml":
        raise MailerError(f"unknown kind of file '{suffix or path.name}'", where=path, hint=f"expected {_KINDS}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MailerError("file not found", where=path) from None
    except IsADirectoryError:
        raise MailerError("is a directory", where=path, hint=f"expected {_KINDS}") from None
    except UnicodeDecodeError as exc:
        raise MailerError(f"not UTF-8 text ({exc.reason})", where=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise MailerError(f"invalid TOML: {exc}", where=path) from None


def imported_toml(resolution: Resolution, origin: Path) -> str:
    """The structured file for an imported resolution, with a short header for whoever edits it next."""
    header = (
        f"# Resolution imported from {origin.name} by `solidarity-mailer import`.\n"
        "# Edit freely: paragraphs are in reading order; [demands] splits paragraph number `paragraph`\n"
        "# (counted from 0) into `lead`, the `items` shown as a numbered list, and `tail`.\n"
        "# Each [[signatories]] entry: abbreviation, name as written, name_en, country, and lang\n"
        "# (BCP 47, e.g. \"bg\", \"tr\") when the name is not in English.\n"
    )
    if resolution.language.split("-")[0].lower() != "en":
        header += ("# A translation: name it in the campaign's [translations.LANG] table. Its signatories are the\n"
                   "# original's (leave them out, or repeat them unchanged); the number of paragraphs and demands\n"
                   "# must be the original's (render and send --dry-run check it).\n")
    return header + "\n" + dump_resolution(resolution)
