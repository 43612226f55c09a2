"""`solidarity-mailer preview FILE [--port 8025]`: serve the preview page on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import click

from solidarity_mailer.cli._net import check_port
from solidarity_mailer.compose.sample_mail import build_sample

HOST = "127.0.0.1"  # never another interface: the preview shows unsent mail and the local outbox


@click.command("preview")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
@click.option("--outbox", "outbox", default="outbox", show_default=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="Folder of .eml files written by the capture transport, listed on the page.")
@click.option("--templates", "templates_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Templates folder (default: the campaign's, else the project's templates/).")
def preview_command(file: Path, port: int, outbox: Path, templates_dir: Path | None) -> None:
    """Preview FILE at phone and desktop width, as text, headers and source; reloads when files change."""
    import uvicorn

    from solidarity_mailer.web.preview import create_app

    build_sample(file, templates_dir=templates_dir)  # a broken FILE is one clear error now, not a blank page
    check_port(HOST, port)
    click.echo(f"preview of {file} on http://{HOST}:{port}/ (outbox: {outbox}); Ctrl-C to stop")
    uvicorn.run(create_app(file, templates_dir=templates_dir, outbox=outbox), host=HOST, port=port,
                log_level="warning", use_colors=False)  # colours would be shown as \x1b[…
