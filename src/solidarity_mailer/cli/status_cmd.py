"""``solidarity-mailer status CAMPAIGN``: each run's counts by state and by language, and who failed or is uncertain,
and why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from solidarity_mailer.config import load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


@click.command("status")
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default: ./solidarity-mailer.toml).")
def status_command(campaign: str, as_json: bool, config_path: Path | None) -> None:
    """Show the runs of CAMPAIGN (an id or a campaign file): counts by state, failed and uncertain addresses."""
    from solidarity_mailer.cli._db import read_only_database
    from solidarity_mailer.clock import clock_from_env
    from solidarity_mailer.deliver.prepare import campaign_id_for
    from solidarity_mailer.errors import MailerError
    from solidarity_mailer.ledger.status import campaign_status

    settings = load_settings(config_path)
    camp_id = campaign_id_for(campaign)
    engine = read_only_database(config_path)
    report = campaign_status(engine, camp_id, settings.relays, _variant_rule(engine, camp_id),
                             now=clock_from_env().now())
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    if not report.runs:
        raise MailerError(f"campaign '{camp_id}' has no runs yet", hint=f"solidarity-mailer send {camp_id}")
    for run in report.runs:
        counts = run.counts_line()
        click.echo(f"run {run.id} [{run.fire_key}] {run.state}: {counts}" + (f" ({run.note})" if run.note else ""))
        if (held := run.held_line()) and not run.resume_at:  # (a run waiting for its window says so in its note)
            click.echo(f"  {held}")
        if relays := run.relays_line():
            click.echo(f"  sent through: {relays}")
        if workers := run.workers_line():
            click.echo(f"  sent by: {workers}")
        if len(run.languages) > 1:
            click.echo(f"  languages: {run.languages_line()}")
        for p in run.problems:
            click.echo(f"  {p.state}: {p.address} (attempts {p.attempts}): {p.last_reply}")


def _variant_rule(engine: Engine, campaign_id: str) -> Callable[[str | None], str] | None:
    """The campaign's rule from a reader's language tag to the language sent (None when its file is gone)."""
    from sqlalchemy.exc import NoResultFound

    from solidarity_mailer.campaign import load_campaign
    from solidarity_mailer.errors import MailerError
    from solidarity_mailer.ledger.queries import campaign_path

    try:
        return load_campaign(Path(campaign_path(engine, campaign_id))).language_for
    except (MailerError, NoResultFound):
        return None
