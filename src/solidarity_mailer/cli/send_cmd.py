"""``solidarity-mailer send CAMPAIGN``: deliver the campaign's manual run (continue it when it exists).

Arguments and printing only: the work is in ``deliver/manual_send.py`` and ``deliver/dry_run.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from solidarity_mailer.config import load_settings

if TYPE_CHECKING:
    from solidarity_mailer.deliver.dry_run import DryRun
    from solidarity_mailer.deliver.manual_send import ManualSendResult


@click.command("send")
@click.argument("campaign")
@click.option("--list", "lists", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Send to this CSV list instead of the campaign's lists (repeatable); recipients of other "
                   "lists still waiting in the run are skipped.")
@click.option("--dry-run", "dry_run_only", is_flag=True, help="Render, check the lists and count; send nothing.")
@click.option("--to", "to", multiple=True, metavar="ADDRESS",
              help="Send one test copy ([TEST] in the subject) to ADDRESS (repeatable); the ledger is untouched.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N messages (send again to continue).")
@click.option("--resend-uncertain", is_flag=True,
              help="Also resend messages whose delivery is uncertain (interrupted after the final dot).")
@click.option("--retry-failed", is_flag=True,
              help="Give the run's failed recipients a fresh set of attempts (suppressed addresses stay skipped).")
@click.option("--again", is_flag=True,
              help="Send this content again to recipients who already received it in an earlier run "
                   "(a run of its own; without it, they are skipped).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default: ./solidarity-mailer.toml).")
@click.pass_context
def send_command(ctx: click.Context, campaign: str, lists: tuple[Path, ...], dry_run_only: bool, to: tuple[str, ...],
                 limit: int | None, resend_uncertain: bool, retry_failed: bool, again: bool,
                 config_path: Path | None) -> None:
    """Send CAMPAIGN (an id in campaigns/ or a campaign file); a second send continues and never re-sends, and
    nobody gets a content they already received in another run unless --again."""
    from solidarity_mailer.cli._db import open_database
    from solidarity_mailer.deliver.dispatcher import RunDependencies, RunOptions
    from solidarity_mailer.deliver.dry_run import dry_run, send_test_copy
    from solidarity_mailer.deliver.manual_send import open_manual_run, send_manual_run, stop_on_interrupt
    from solidarity_mailer.deliver.prepare import NoValidRecipient, find_campaign
    from solidarity_mailer.ledger.queries import LIST_REMOVED

    settings = load_settings(config_path)
    camp = find_campaign(campaign)
    if to:
        copies = send_test_copy(camp, to, settings, lists=lists)
        for address, outcome in copies.outcomes.items():
            click.echo(f"{address}: {outcome.verdict.value} {outcome.code or ''} {outcome.reply}".rstrip())
        ctx.exit(copies.exit_status)
    engine = open_database(config_path)
    if dry_run_only:
        report = dry_run(engine, camp, settings, lists, again=again)
        _print_dry_run(report)
        ctx.exit(report.exit_status)
    try:
        manual = open_manual_run(engine, camp, lists, again=again, continuing=retry_failed or resend_uncertain)
    except NoValidRecipient as exc:
        for row in exc.rows:
            click.echo(f"invalid row: {row}", err=True)
        raise
    for note in manual.rendition.notes if manual.rendition else ():
        click.echo(f"warning: {note}", err=True)
    if manual.dropped:
        click.echo(f"{manual.dropped} recipient(s) still waiting from lists no longer in the run are skipped "
                   f"({LIST_REMOVED}); see `status`", err=True)
    options = RunOptions(limit=limit, resend_uncertain=resend_uncertain, retry_failed=retry_failed, progress=True)
    with stop_on_interrupt() as stop:  # Ctrl-C: finish messages in flight, stop
        result = send_manual_run(engine, manual, settings, options, RunDependencies(stop=stop),
                                 on_window=lambda note: click.echo(f"{note}; waiting (Ctrl-C stops, `send` again "
                                                                   "continues)", err=True))
    _print_result(result)
    ctx.exit(result.exit_status)


def _print_dry_run(report: DryRun) -> None:
    for error in report.stats.errors:
        click.echo(f"{error}", err=True)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    click.echo(f"dry run of {report.campaign_id}: subject {report.subject!r}; lists: "
               + ", ".join(str(p) for p in report.lists))
    click.echo(f"recipients: {report.stats.summary()}; {report.new} new for the run"
               + (f" (run so far: {_counts(report.run_counts)})" if report.run_counts else ""))
    if len(report.subjects) > 1:
        for lang, subject in report.subjects.items():
            click.echo(f"  {lang}: {report.languages.get(lang, 0)} recipients, subject {subject!r}")
    if report.already_received:
        click.echo(f"{report.already_received:,} already received this content in another run: a send skips them "
                   "(--again sends to them too)")
    click.echo(f"sample message to {report.sample_to}: {report.sample_bytes} bytes; nothing was sent")


def _print_result(result: ManualSendResult) -> None:
    summary = result.summary
    for error in summary.row_errors:
        click.echo(f"skipped invalid row: {error}", err=True)
    if summary.audience:
        click.echo(f"lists: {summary.audience}", err=True)
    if summary.recovered_uncertain:
        click.echo(f"{summary.recovered_uncertain} message(s) were interrupted mid-delivery last time and are "
                   "uncertain; see `status`, resend them with --resend-uncertain", err=True)
    for earlier in summary.already_received:
        click.echo(earlier.line())
    click.echo(summary.line())
    for problem in result.problems:
        click.echo(f"  {problem.state}: {problem.address}: {problem.last_reply}")


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (counts or {}).items() if v) or "empty"
