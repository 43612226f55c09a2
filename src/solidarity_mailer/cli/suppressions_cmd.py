"""`solidarity-mailer suppressions list|add|remove|export|import`: the suppression list, for maintainers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from solidarity_mailer.cli._db import open_database
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import suppressions as suppression

_config = click.option("--config", "config_path", type=click.Path(path_type=Path), help="Settings file (TOML).")
_scope = click.option("--scope", default=suppression.EVERY_LIST, show_default=True,
                      help='"*" for every list, or one List-Id.')


@click.group("suppressions")
def suppressions_group() -> None:
    """Addresses that must not be mailed (unsubscribed, bounced, complained, manual)."""


@suppressions_group.command("list")
@click.option("--scope", default=None, help="Only this scope.")
@click.option("--reason", type=click.Choice(suppression.REASONS), default=None, help="Only this reason.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_config
def list_command(scope: str | None, reason: str | None, as_json: bool, config_path: Path | None) -> None:
    """Show the suppressed addresses."""
    engine = open_database(config_path)
    count = 0
    for s in suppression.iter_suppressions(engine, scope=scope, reason=reason):
        count += 1
        if as_json:
            row = {"address": s.address, "scope": s.scope, "reason": s.reason, "detail": s.detail,
                   "created_at": s.created_at.isoformat()}
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            detail = f"  {s.detail}" if s.detail else ""
            click.echo(f"{s.address}  {s.scope}  {s.reason}  {s.created_at:%Y-%m-%d %H:%M}Z{detail}")
    if not as_json:
        click.echo(f"{count} suppressed", err=True)


@suppressions_group.command("add")
@click.argument("address")
@click.option("--reason", type=click.Choice(suppression.REASONS), default="manual", show_default=True)
@click.option("--detail", default="", help="A note (why, who asked).")
@_scope
@_config
def add_command(address: str, reason: str, detail: str, scope: str, config_path: Path | None) -> None:
    """Suppress ADDRESS (again: updates reason and detail)."""
    engine = open_database(config_path)
    new = suppression.add(engine, address, reason, scope=scope, detail=detail)
    click.echo(f"{'suppressed' if new else 'updated'}: {address} ({scope}, {reason})")


@suppressions_group.command("remove")
@click.argument("address")
@_scope
@_config
@click.pass_context
def remove_command(ctx: click.Context, address: str, scope: str, config_path: Path | None) -> None:
    """Lift the suppression of ADDRESS for a scope; exit status 1 when it was not suppressed there."""
    engine = open_database(config_path)
    if suppression.remove(engine, address, scope):
        click.echo(f"removed: {address} ({scope})")
    else:
        click.echo(f"not suppressed for {scope}: {address}", err=True)
        ctx.exit(1)


@suppressions_group.command("export")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@_config
def export_command(file: Path | None, config_path: Path | None) -> None:
    """Write the suppression list as CSV to FILE (default: standard output)."""
    engine = open_database(config_path)
    if file is None or str(file) == "-":
        count = suppression.export_csv(engine, sys.stdout)
    else:
        try:
            fp = file.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            hint = "create the folder first" if isinstance(exc, FileNotFoundError) else None
            raise MailerError(f"cannot write the export: {exc.strerror}", where=file, hint=hint) from None
        with fp:
            count = suppression.export_csv(engine, fp)
    click.echo(f"{count} exported", err=True)


@suppressions_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_config
@click.pass_context
def import_command(ctx: click.Context, file: Path, config_path: Path | None) -> None:
    """Add the suppressions of a CSV file (column address or email; scope, reason, detail, created_at optional)."""
    engine = open_database(config_path)
    counts = suppression.import_csv(engine, file)
    for error in counts.errors:
        click.echo(error)
    click.echo(f"{counts.added} added, {counts.updated} updated, {counts.unchanged} unchanged, "
               f"{len(counts.errors)} invalid")
    if counts.errors:
        ctx.exit(1)
