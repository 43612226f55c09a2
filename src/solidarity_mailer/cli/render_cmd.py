"""`solidarity-mailer render FILE --out DIR`: write message.html, message.txt and message.eml for a sample recipient."""

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
    """Render FILE (a campaign, a resolution .toml or a plain-text resolution) for a sample recipient."""
    sample = build_sample(file, templates_dir=templates_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "message.html").write_text(sample.html, encoding="utf-8")
        (out_dir / "message.txt").write_text(sample.text, encoding="utf-8")
        (out_dir / "message.eml").write_bytes(sample.eml)
    except OSError as exc:
        raise MailerError(f"cannot write: {exc.strerror}", where=exc.filename or out_dir) from None
    size = sample.html_part_size()
    click.echo(f"subject: {sample.rendition.subject}")
    click.echo(f"wrote {out_dir / 'message.html'}, message.txt, message.eml")
    click.echo(f"HTML part: {size} bytes encoded ({size / 1024:.1f} KB)")
    if size > HTML_WARN_BYTES:
        click.echo(
            f"warning: the HTML part is over {HTML_WARN_BYTES // 1024} KB encoded; Gmail clips messages near 102 KB",
            err=True,
        )
