"""``solidarity-mailer init DIR``: write the shipped starter project into DIR, for a maintainer to edit."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from solidarity_mailer.compose.unsubscribe_tokens import SECRET_ENV
from solidarity_mailer.paths import write_starter_project


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
def init_command(directory: Path) -> None:
    """Write a starter project into DIRECTORY (created if missing): settings, templates, a campaign, a list.

    Refuses, writing nothing, when any of those files already exists.
    """
    written = write_starter_project(directory)
    click.echo(f"wrote a starter project in {directory}:")
    for path in written:
        click.echo(f"  {path.relative_to(directory).as_posix()}")
    campaigns = [p for p in written if p.parent.name == "campaigns" and not p.name.endswith(".resolution.toml")]
    campaign = campaigns[0].relative_to(directory).as_posix()
    click.echo("edit them (solidarity-mailer.toml: your relay; recipients/: your lists; the campaign, the templates),"
               " then:")
    for line in (
        f"cd {shlex.quote(str(directory))}",
        f"export {SECRET_ENV}=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\"  # keep it for good",
        "solidarity-mailer lists check",
        f"solidarity-mailer preview {campaign}",
        f"solidarity-mailer send {campaigns[0].stem} --dry-run",
    ):
        click.echo(f"  {line}")
