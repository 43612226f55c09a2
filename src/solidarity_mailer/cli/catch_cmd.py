"""``solidarity-mailer catch``: a local SMTP server that stores every message in the outbox, until Ctrl-C."""

from __future__ import annotations

import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

import click

from solidarity_mailer.config import load_settings
from solidarity_mailer.transports.capture import CaptureServer


def _subject(path: Path) -> str:
    with path.open("rb") as fh:
        headers = BytesHeaderParser(policy=default).parse(fh)
    return str(headers.get("Subject", "")).replace("\n", " ")


def _print_line(path: Path, mail_from: str, rcpt_tos: list[str]) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')}  {mail_from} -> {', '.join(rcpt_tos)}  "
               f"\"{_subject(path)}\"  {path.name}")


@click.command("catch")
@click.option("--port", type=click.IntRange(1, 65535), default=1025, show_default=True, help="Port on 127.0.0.1.")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the .eml files (default: [delivery] outbox of the settings).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Settings file (default: ./solidarity-mailer.toml).")
def catch(port: int, outbox: Path | None, config_path: Path | None) -> None:
    """Catch mail on 127.0.0.1 and store it as .eml files, printing one line per message, until Ctrl-C."""
    folder = outbox if outbox is not None else load_settings(config_path).delivery.outbox
    server = CaptureServer(folder, port=port, on_message=_print_line).start()
    click.echo(f"catching mail on smtp://127.0.0.1:{server.port}, storing it in {folder} (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    click.echo(f"stopped; {server.count} message(s) caught")
