"""``solidarity-mailer run``: the scheduler daemon, in the foreground (systemd, a terminal)."""

from __future__ import annotations

import logging
from pathlib import Path

import click


@click.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default: ./solidarity-mailer.toml).")
@click.option("--wait", is_flag=True,
              help="If another daemon holds this database, wait idle and take over when it stops.")
@click.option("--verbose", "-v", is_flag=True, help="Also log APScheduler's own messages.")
def run_command(config_path: Path | None, wait: bool, verbose: bool) -> None:
    """Run the scheduler and the dispatcher until SIGTERM or Ctrl-C; one daemon per database."""
    from solidarity_mailer.cli._db import open_database
    from solidarity_mailer.clock import clock_from_env
    from solidarity_mailer.config import load_settings
    from solidarity_mailer.schedule.daemon import Daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%Y-%m-%dT%H:%M:%S%z")
    logging.getLogger("apscheduler").setLevel(logging.INFO if verbose else logging.WARNING)
    clock = clock_from_env()
    settings = load_settings(config_path)
    daemon = Daemon(settings, engine=open_database(config_path), clock=clock)
    daemon.start(wait=wait)
    daemon.serve()
