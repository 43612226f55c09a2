"""`solidarity-mailer lists check`: read mailing lists the way a send would, and report every bad row."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from solidarity_mailer.audience.lists import RowError
from solidarity_mailer.audience.stream import check_lists
from solidarity_mailer.cli._db import existing_database
from solidarity_mailer.ledger.suppressions import lookup
from solidarity_mailer.paths import project_root


def _display(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)


@click.group("lists")
def lists_group() -> None:
    """Mailing lists (recipients/*.csv)."""


@lists_group.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: counts and errors.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Settings file (TOML).")
@click.pass_context
def check_command(ctx: click.Context, files: tuple[Path, ...], as_json: bool, config_path: Path | None) -> None:
    """Check FILES (default: every recipients/*.csv of the project) with de-duplication and suppression.

    Prints each problem as `file:line: what is wrong`, then `N valid, M invalid, D duplicates, S suppressed`.
    Exit status 1 when any row is invalid.
    """
    paths = list(files) or sorted((project_root() / "recipients").glob("*.csv"))
    if not paths:
        click.echo(f"no list files in {_display(project_root() / 'recipients')}", err=True)
    engine = existing_database(config_path)

    def report(error: RowError) -> None:
        click.echo(str(error))

    try:
        stats = check_lists(paths, lookup(engine), on_error=None if as_json else report, display=_display)
    finally:
        if engine is not None:
            engine.dispose()
    if as_json:
        click.echo(json.dumps(stats.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(stats.summary())
    if stats.invalid:
        ctx.exit(1)
