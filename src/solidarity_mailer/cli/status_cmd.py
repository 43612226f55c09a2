"""``solidarity-mailer status CAMPAIGN``: each run's counts by state, and who failed or is uncertain, and why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from solidarity_mailer.config import load_settings


@click.command("status")
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default: ./solidarity-mailer.toml).")
def status_command(campaign: str, as_json: bool, config_path: Path | None) -> None:
    """Show the runs of CAMPAIGN (an id or a campaign file): counts by state, failed and uncertain addresses."""
    from solidarity_mailer.cli._db import read_only_database
    from solidarity_mailer.deliver.prepare import campaign_id_for
    from solidarity_mailer.errors import MailerError
    from solidarity_mailer.ledger.status import campaign_status

    settings = load_settings(config_path)
    camp_id = campaign_id_for(campaign)
    report = campaign_status(read_only_database(config_path), camp_id, settings.relays)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    if not report.runs:
        raise MailerError(f"campaign '{camp_id}' has no runs yet", hint=f"solidarity-mailer send {camp_id}")
    for run in report.runs:
        counts = run.counts_line()
        click.echo(f"run {run.id} [{run.fire_key}] {run.state}: {counts}" + (f" ({run.note})" if run.note else ""))
        if relays := run.relays_line():
            click.echo(f"  sent through: {relays}")
        for p in run.problems:
            click.echo(f"  {p.state}: {p.address} (attempts {p.attempts}): {p.last_reply}")
