"""`solidarity-mailer render FILE --out DIR`: write message.html, message.txt and message.eml for a sample recipient
(and message.LANG.html, .txt, .eml for each translation)."""

from __future__ import annotations

from pathlib import Path

import click

from solidarity_mailer.compose.sample_mail import HTML_WARN_BYTES, build_sample
from solidarity_mailer.errors import MailerError


@click.command("render")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for message.html, message.txt and message.eml (created if missing).")
@click.option("--templates", "templates_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Templates folder (default: the campaign's, else the project's templates/).")
def render_command(file: Path, out_dir: Path, templates_dir: Path | None) -> None:
    """Render FILE (a campaign, a resolution .toml or a plain-text resolution) for a sample recipient, in every
    language of the campaign."""
    sample = build_sample(file, templates_dir=templates_dir)
    for note in sample.rendition.notes:
        click.echo(f"warning: {note}", err=True)
    default = sample.rendition.default.language
    for lang, mail in sample.mails.items():
        stem = "message" if lang == default else f"message.{lang}"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"{stem}.html").write_text(mail.html, encoding="utf-8")
            (out_dir / f"{stem}.txt").write_text(mail.text, encoding="utf-8")
            (out_dir / f"{stem}.eml").write_bytes(mail.eml)
        except OSError as exc:
            raise MailerError(f"cannot write: {exc.strerror}", where=exc.filename or out_dir) from None
        size = mail.html_part_size()
        label = "" if len(sample.mails) == 1 else f"[{lang}] "
        click.echo(f"{label}subject: {mail.message['Subject']}")
        click.echo(f"{label}wrote {out_dir / f'{stem}.html'}, {stem}.txt, {stem}.eml")
        click.echo(f"{label}HTML part: {size} bytes encoded ({size / 1024:.1f} KB)")
        if size > HTML_WARN_BYTES:
            click.echo(f"warning: {label}the HTML part is over {HTML_WARN_BYTES // 1024} KB encoded; Gmail clips "
                       "messages near 102 KB", err=True)
