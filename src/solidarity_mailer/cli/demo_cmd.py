"""``solidarity-mailer demo``: schedule the shipped campaign and deliver it through a local capture server."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click


@click.command("demo")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Working folder for the settings, ledger and outbox (default: a new folder in the temp directory).")
@click.option("--delay", type=click.FloatRange(min=1.0), default=5.0, show_default=True,
              help="Schedule the campaign this many seconds ahead.")
def demo_command(workdir: Path | None, delay: float) -> None:
    """Schedule the example campaign a few seconds ahead and let the real daemon deliver it to a local outbox."""
    from solidarity_mailer.cli.demo import run_demo

    logging.basicConfig(level=logging.INFO, format="  daemon: %(message)s", stream=sys.stdout)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    result = run_demo(workdir, delay=delay, say=click.echo)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items()) or "no recipients"
    click.echo(f"run {result.run_id}: {result.state}; {counts}")
    if result.first_message_at is not None:
        late = (result.first_message_at - result.scheduled_for).total_seconds()
        click.echo(f"first message received {late:.2f} s after the scheduled instant")
    click.echo(f"{len(result.files)} messages in {result.outbox}:")
    for path in result.files:
        click.echo(f"  {path}")
    click.echo("look at them:")
    click.echo(f"  solidarity-mailer campaigns --config {result.config}")
    click.echo(f"  solidarity-mailer status peru-solidarity-2023 --config {result.config}")
    click.echo(f"  solidarity-mailer preview {result.campaign_path} --outbox {result.outbox}")
    click.echo("  then open http://127.0.0.1:8025/ (the rendered mail and the delivered .eml files)")
    click.echo("start your own project (settings, templates, a campaign, a list to edit):")
    click.echo("  solidarity-mailer init my-campaigns")
    if result.state != "finished":
        raise click.exceptions.Exit(1)

