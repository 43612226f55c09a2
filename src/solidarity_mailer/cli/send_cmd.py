"""``solidarity-mailer send CAMPAIGN``: deliver the campaign's manual run (continue it when it exists)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from solidarity_mailer.config import load_settings

EXIT_PAUSED = 3  # the run is paused (server policy, authentication, relay unreachable too long, another command)
EXIT_FAILURES = 4  # the run ended with failed recipients (`status` lists them; --retry-failed requeues them)


@click.command("send")
@click.argument("campaign")
@click.option("--list", "lists", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Send to this CSV list instead of the campaign's lists (repeatable); recipients of other "
                   "lists still waiting in the run are skipped.")
@click.option("--dry-run", is_flag=True, help="Render, check the lists and count; send nothing.")
@click.option("--to", "to", multiple=True, metavar="ADDRESS",
              help="Send one test copy ([TEST] in the subject) to ADDRESS (repeatable); the ledger is untouched.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N messages (send again to continue).")
@click.option("--resend-uncertain", is_flag=True,
              help="Also resend messages whose delivery is uncertain (interrupted after the final dot).")
@click.option("--retry-failed", is_flag=True,
              help="Give the run's failed recipients a fresh set of attempts (suppressed addresses stay skipped).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Settings file (default: ./solidarity-mailer.toml).")
@click.pass_context
def send_command(ctx: click.Context, campaign: str, lists: tuple[Path, ...], dry_run: bool, to: tuple[str, ...],
                 limit: int | None, resend_uncertain: bool, retry_failed: bool, config_path: Path | None) -> None:
    """Send CAMPAIGN (an id in campaigns/ or a campaign file); a second send continues and never re-sends."""
    from solidarity_mailer.cli._db import connect_url
    from solidarity_mailer.deliver import dry_run as preflight
    from solidarity_mailer.deliver.dispatcher import deliver_run
    from solidarity_mailer.deliver.prepare import find_campaign, lists_for
    from solidarity_mailer.ledger import queries as ledger

    settings = load_settings(config_path)
    camp = find_campaign(campaign)
    if to:
        outcomes = preflight.send_test_copy(camp, to, settings, lists=lists)
        for address, outcome in outcomes.items():
            click.echo(f"{address}: {outcome.verdict.value} {outcome.code or ''} {outcome.reply}".rstrip())
        ctx.exit(0 if all(o.verdict.value == "sent" for o in outcomes.values()) else 1)
    engine = connect_url(settings.database_url, config_path)
    if dry_run:
        report = preflight.dry_run(engine, camp, settings, lists)
        for error in report.stats.errors:
            click.echo(f"{error}", err=True)
        click.echo(f"dry run of {camp.id}: subject {report.subject!r}; lists: "
                   + ", ".join(str(p) for p in report.lists))
        click.echo(f"recipients: {report.stats.summary()}; {report.new} new for the run"
                   + (f" (run so far: {_counts(report.run_counts)})" if report.run_counts else ""))
        click.echo(f"sample message to {report.sample_to}: {report.sample_bytes} bytes; nothing was sent")
        ctx.exit(1 if report.stats.invalid else 0)
    chosen = lists_for(camp, lists)
    ledger.ensure_campaign(engine, camp)
    run_id = ledger.open_run(engine, camp.id, ledger.manual_fire_key(camp.id), lists=[str(p) for p in chosen],
                             now=ledger.utcnow())
    if lists:  # rows of lists no longer in the run that are still waiting are skipped, not sent
        from solidarity_mailer.audience.lists import load_list_meta

        dropped = ledger.set_run_lists(engine, run_id, [str(p) for p in chosen],
                                       keep_list_ids=[load_list_meta(p).list_id for p in chosen])
        if dropped:
            click.echo(f"{dropped} recipient(s) still waiting from lists no longer in the run are skipped "
                       f"({ledger.LIST_REMOVED}); see `status`", err=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: finish messages in flight, stop
    try:
        summary = deliver_run(engine, run_id, settings, stop=stop, progress=True, limit=limit,
                              resend_uncertain=resend_uncertain, retry_failed=retry_failed)
    finally:
        signal.signal(signal.SIGINT, previous)
    for error in summary.row_errors:
        click.echo(f"skipped invalid row: {error}", err=True)
    if summary.audience:
        click.echo(f"lists: {summary.audience}", err=True)
    if summary.recovered_uncertain:
        click.echo(f"{summary.recovered_uncertain} message(s) were interrupted mid-delivery last time and are "
                   "uncertain; see `status`, resend them with --resend-uncertain", err=True)
    click.echo(summary.line())
    for problem in ledger.problems(engine, run_id)[:20]:
        click.echo(f"  {problem.state}: {problem.address}: {problem.last_reply}")
    ctx.exit(EXIT_PAUSED if summary.paused else EXIT_FAILURES if summary.counts.get("failed") else 0)


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (counts or {}).items() if v) or "empty"
