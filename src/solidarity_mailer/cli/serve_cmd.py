"""`solidarity-mailer serve`: the public one-click unsubscribe endpoint and the campaigns' web versions."""

from __future__ import annotations

from pathlib import Path

import click

from solidarity_mailer.cli._db import open_database
from solidarity_mailer.cli._net import check_port
from solidarity_mailer.compose.unsubscribe_tokens import load_secret


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Settings file (TOML); its [database] url is used (SOLIDARITY_MAILER_DATABASE overrides).")
def serve_command(host: str, port: int, config_path: Path | None) -> None:
    """Serve one-click unsubscribe (RFC 8058) and its confirmation pages, and the sent campaigns' web versions
    (the mails' "View in browser" links, /v/CAMPAIGN/LANG.html); nothing else."""
    from solidarity_mailer.web.server import serve
    from solidarity_mailer.web.unsubscribe import list_names

    secret = load_secret()
    engine = open_database(config_path)
    check_port(host, port)
    serve(host, port, engine=engine, secret=secret, names=list_names())
