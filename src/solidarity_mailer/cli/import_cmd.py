"""`solidarity-mailer import FILE.txt -o OUT.toml`: a plain-text resolution → the structured file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from solidarity_mailer.content.load import imported_toml
from solidarity_mailer.content.plaintext_import import import_file
from solidarity_mailer.errors import MailerError


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The structured resolution to write (.toml); '-' writes to standard output.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists (hand edits in it are lost).")
def import_command(file: Path, output: Path, force: bool) -> None:
    """Import a resolution published as plain text (source and date, title, paragraphs, signatories)."""
    resolution = import_file(file)
    text = imported_toml(resolution, file)
    if str(output) == "-":
        sys.stdout.write(text)
    else:
        if output.exists() and not force:
            raise MailerError("output file exists", where=output, hint="use --force to overwrite it")
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise MailerError(f"cannot write: {exc.strerror}", where=output) from None
    demands = len(resolution.demands.items) if resolution.demands else 0
    click.echo(
        f"{file}: {len(resolution.paragraphs)} paragraphs, {demands} demands, "
        f"{len(resolution.signatories)} signatories -> {output}",
        err=str(output) == "-",
    )
