"""`solidarity-mailer import FILE.txt [--lang es] -o OUT.toml`: a plain-text resolution (or a translation of one)
→ the structured file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from solidarity_mailer.content.load import imported_toml
from solidarity_mailer.content.plaintext_import import import_file
from solidarity_mailer.errors import MailerError
from solidarity_mailer.languages import is_tag


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The structured resolution to write (.toml); '-' writes to standard output.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists (hand edits in it are lost).")
@click.option("--lang", "language", default="en", show_default=True, metavar="TAG",
              help="The language FILE is written in (BCP 47: es, de, ar…): its dates and signatories heading are "
                   "read in it, and it goes into the file's language key. A translation may leave out the "
                   "signatories.")
def import_command(file: Path, output: Path, force: bool, language: str) -> None:
    """Import a resolution published as plain text (source and date, title, paragraphs, signatories)."""
    if not is_tag(language):
        raise MailerError(f"--lang: '{language}' is not a language tag", hint="give a BCP 47 tag such as es or pt-BR")
    resolution = import_file(file, language)
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
