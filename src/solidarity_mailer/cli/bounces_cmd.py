"""`solidarity-mailer bounces import`: bounces and unsubscribe requests from a Maildir or mbox."""

from __future__ import annotations

from pathlib import Path

import click

from solidarity_mailer.bounces.import_mailbox import DEFAULT_SOFT_LIMIT, import_mailbox
from solidarity_mailer.cli._db import open_database
from solidarity_mailer.compose.unsubscribe_tokens import load_secret
from solidarity_mailer.compose.verp import TAG_VALIDITY_DAYS
from solidarity_mailer.config import load_settings
from solidarity_mailer.errors import MailerError

MAX_SOFT_LIMIT = 10_000  # a counter the ledger stores as an integer; more would never suppress anyone


@click.group("bounces")
def bounces_group() -> None:
    """Process returned mail: suppress hard bounces, count soft ones."""


@bounces_group.command("import")
@click.argument("mailbox_path", metavar="MAILDIR|MBOX", type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Settings file (TOML).")
@click.option("--soft-limit", default=DEFAULT_SOFT_LIMIT, show_default=True, type=click.IntRange(1, MAX_SOFT_LIMIT),
              help=f"Suppress an address after this many soft bounces (at most {MAX_SOFT_LIMIT}).")
@click.option("--max-age-days", default=TAG_VALIDITY_DAYS, show_default=True, type=click.IntRange(min=1),
              help="Accept bounces of messages sent at most this many days ago (VERP tag, Message-ID).")
def import_command(mailbox_path: Path, config_path: Path | None, soft_limit: int, max_age_days: int) -> None:
    """Read bounces and unsubscribe request mails; only authenticated ones change anything (the mailbox is not
    changed): a valid VERP tag for the address, or the Message-ID of a message we sent to it."""
    settings = load_settings(config_path)
    try:
        secret: bytes | None = load_secret()
    except MailerError as exc:
        click.echo(f"note: unsubscribe request mails are skipped and VERP tags cannot be checked (only "
                   f"returned Message-IDs match bounces): {exc.line()}", err=True)
        secret = None
    engine = open_database(config_path)
    summary = import_mailbox(engine, mailbox_path, soft_limit=soft_limit,
                             bounce_address=settings.sender.bounce_address, secret=secret,
                             max_age_days=max_age_days)
    for problem in summary.problems:
        click.echo(problem, err=True)
    click.echo(summary.line())
