"""`solidarity-mailer archive build DIR`: the static public archive of sent campaigns."""

from __future__ import annotations

from pathlib import Path

import click

from solidarity_mailer.cli._db import read_only_database


@click.group("archive")
def archive_group() -> None:
    """The public archive of sent campaigns (their web versions)."""


@archive_group.command("build")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--base-url", help="The archive's public address, for the feed's links (default: [web] "
              "public_base_url, where the mails' \"View in browser\" links point).")
@click.option("--title", help="The index page's and feed's title (default: \"Archive\" in --lang).")
@click.option("--lang", default="en", show_default=True,
              help="The language of the index page's own words (BCP 47; one without a catalogue: English).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Settings file (TOML); its [database] url is used (SOLIDARITY_MAILER_DATABASE overrides).")
def archive_build(folder: Path, base_url: str | None, title: str | None, lang: str,
                  config_path: Path | None) -> None:
    """Write index.html, feed.xml and v/CAMPAIGN/LANG.html for every campaign and language delivered."""
    from solidarity_mailer.config import load_settings
    from solidarity_mailer.web.archive import build_archive

    settings = load_settings(config_path)
    engine = read_only_database(config_path)  # disposed when the command ends
    versions = build_archive(engine, folder, base_url=base_url or settings.web.public_base_url, title=title,
                             lang=lang)
    campaigns = len({v.campaign_id for v in versions})
    click.echo(f"wrote {folder / 'index.html'}, feed.xml and {len(versions)} pages ({campaigns} campaigns)")
