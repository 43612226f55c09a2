"""``schedule``, ``campaigns``, ``pause``, ``resume``, ``cancel``: schedules and runs, from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from solidarity_mailer.config.settings import MAX_GRACE_SECONDS

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from solidarity_mailer.campaign import Campaign
    from solidarity_mailer.config import SchedulerSettings

MAX_ID = 2**63 - 1  # the largest id SQLite stores
CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                             help="Settings file (default: ./solidarity-mailer.toml).")


def _check_zone(tz: str | None) -> str | None:
    from solidarity_mailer.schedule.schedules import check_zone_option

    check_zone_option(tz)  # before anything is opened or read
    return tz


@click.command("schedule")
@click.argument("campaign")
@click.option("--at", "at", metavar="'YYYY-MM-DD HH:MM'", help="Send once at this wall-clock time in --tz.")
@click.option("--cron", metavar="'M H DOM MON DOW'", help="Send on this 5-field crontab rule, in --tz.")
@click.option("--every", metavar="INTERVAL",
              help="Send every INTERVAL (30m, 1h, 1d, 1w…), starting one interval from now.")
@click.option("--tz", "tz", metavar="ZONE", callback=lambda _ctx, _param, value: _check_zone(value),
              help="IANA time zone, e.g. America/Lima (default: [scheduler] timezone, else this machine's).")
@click.option("--list", "lists", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Send to this CSV list instead of the campaign's lists (repeatable).")
@click.option("--grace", "grace", type=click.IntRange(0, MAX_GRACE_SECONDS), default=None, metavar="SECONDS",
              help="A firing missed while the daemon was down still runs if at most this late "
              "(default: $SOLIDARITY_MAILER_GRACE_SECONDS, else [scheduler] grace_seconds, else 3600; "
              "at most 366 days).")
@click.option("--again", is_flag=True,
              help="Each firing sends to everyone, also to those who received the same content before "
                   "(without it, a firing whose content did not change mails only those who have not had it).")
@click.option("--recipient-time", "recipient_time", is_flag=True,
              help="With --at: deliver at that wall-clock time in each recipient's zone (the list's tz column; "
                   "without one: --tz), one batch per zone.")
@click.option("--late", type=click.Choice(["skip", "now"]), default=None,
              help="With --recipient-time, for zones whose instant is already past: skip (leave those recipients "
                   "out, listed) or now (send them at once). Without it such a time is refused.")
@CONFIG_OPTION
def schedule_command(campaign: str, at: str | None, cron: str | None, every: str | None, tz: str | None,
                     lists: tuple[Path, ...], grace: int | None, again: bool, recipient_time: bool, late: str | None,
                     config_path: Path | None) -> None:
    """Schedule CAMPAIGN (an id in campaigns/ or a campaign file) once, by cron or at an interval."""
    from solidarity_mailer.cli._db import open_database
    from solidarity_mailer.clock import clock_from_env
    from solidarity_mailer.config import load_settings
    from solidarity_mailer.deliver.prepare import find_campaign
    from solidarity_mailer.schedule.schedules import schedule_campaign

    _check_recipient_time(at, cron, every, recipient_time, late)
    configured = load_settings(config_path).scheduler
    engine = open_database(config_path)
    if recipient_time:
        _schedule_recipient_time(engine, find_campaign(campaign), configured, str(at), tz, lists, grace, again, late)
        return
    sched = schedule_campaign(engine, find_campaign(campaign), configured, at=at, cron=cron, every=every, tz=tz,
                              lists=lists, grace_seconds=grace, now=clock_from_env().now(),
                              again=again)
    click.echo(f"schedule {sched.id}: {sched.campaign_id} {sched.describe()}; next firing "
               f"{sched.next_fire_local} = {sched.next_fire_at:%Y-%m-%d %H:%M:%S} UTC; "
               f"grace {sched.grace_seconds} s" + ("; again: sends to earlier recipients too" if again else ""))
    click.echo("the daemon sends it: keep `solidarity-mailer run` running (see `solidarity-mailer campaigns`)")


def _check_recipient_time(at: str | None, cron: str | None, every: str | None, recipient_time: bool,
                          late: str | None) -> None:
    from solidarity_mailer.errors import MailerError

    if recipient_time and (cron or every or not at):
        raise MailerError("--recipient-time goes with --at (a time of day in each recipient's zone)",
                          hint="schedule CAMPAIGN --at 'YYYY-MM-DD HH:MM' --recipient-time")
    if late and not recipient_time:
        raise MailerError("--late goes with --recipient-time", hint="a one-off --at in the past is refused anyway")


def _schedule_recipient_time(engine: Engine, campaign: Campaign, configured: SchedulerSettings, at: str,
                             tz: str | None, lists: tuple[Path, ...], grace: int | None, again: bool,
                             late: str | None) -> None:
    from solidarity_mailer.clock import clock_from_env
    from solidarity_mailer.schedule.recipient_time import schedule_recipient_time
    from solidarity_mailer.schedule.zone_plan import load_plan, utc_text

    sched, left_out = schedule_recipient_time(engine, campaign, configured, at=at, tz=tz, lists=lists,
                                              grace_seconds=grace, now=clock_from_env().now(), again=again,
                                              late=late)
    click.echo(f"schedule {sched.id}: {sched.campaign_id} {sched.describe()}; first batch "
               f"{sched.next_fire_at:%Y-%m-%d %H:%M:%S} UTC; grace {sched.grace_seconds} s"
               + ("; again: sends to earlier recipients too" if again else ""))
    for batch in load_plan(sched.plan):
        if batch.state != "skipped":
            click.echo(f"  batch {batch.zone}: {utc_text(batch.at)}, {batch.recipients} recipient(s)")
    for batch in left_out:
        click.echo(f"  left out (--late skip): {batch.zone}, {batch.recipients} recipient(s): its {at} was "
                   f"{utc_text(batch.at)}")
    click.echo("the daemon sends it: keep `solidarity-mailer run` running (see `solidarity-mailer campaigns`)")


@click.command("campaigns")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CONFIG_OPTION
def campaigns_command(as_json: bool, config_path: Path | None) -> None:
    """List campaigns: schedules, next firing (in its zone and UTC), last run and its counts."""
    from solidarity_mailer.cli._db import read_only_database
    from solidarity_mailer.schedule.campaigns_report import lines, overview

    data = overview(read_only_database(config_path))
    if as_json:
        click.echo(json.dumps([c.as_json() for c in data], ensure_ascii=False, indent=2))
    else:
        for line in lines(data):
            click.echo(line)


def _uncertain(engine: Engine, run_id: int) -> int:
    from solidarity_mailer.ledger.queries import counts

    return counts(engine, run_id)["uncertain"]


def _control(action: str) -> click.Command:
    @click.command(action)
    @click.argument("kind", type=click.Choice(["schedule", "run"]))
    @click.argument("ident", metavar="ID", type=click.IntRange(1, MAX_ID))
    @CONFIG_OPTION
    def command(kind: str, ident: int, config_path: Path | None, resend_uncertain: bool = False) -> None:
        from solidarity_mailer.cli._db import open_database
        from solidarity_mailer.clock import clock_from_env
        from solidarity_mailer.errors import MailerError
        from solidarity_mailer.ledger.queries import Run
        from solidarity_mailer.schedule.schedules import control, resume_run

        engine, now = open_database(config_path), clock_from_env().now()
        if resend_uncertain and kind != "run":
            raise MailerError("--resend-uncertain applies to a run", hint="resume run ID --resend-uncertain")
        uncertain = _uncertain(engine, ident) if resend_uncertain else 0
        result = (resume_run(engine, ident, now=now, resend_uncertain=True) if resend_uncertain
                  else control(engine, action, kind, ident, now=now))
        if uncertain:
            click.echo(f"run {ident}: {uncertain} uncertain message(s) will be sent again (some recipients may "
                       "get a second copy)")
        click.echo(f"{kind} {ident} is now {result.state}")
        if isinstance(result, Run) and action == "resume" and result.schedule_id is None:
            click.echo("this run was started by `send`: continue it with "
                       f"`solidarity-mailer send {result.campaign_id}`")
        elif isinstance(result, Run) and action == "resume":
            click.echo("the running daemon picks it up within a few seconds")

    if action == "resume":
        command = click.option("--resend-uncertain", is_flag=True,
                               help="Also send the run's uncertain messages again (any run, also a finished "
                                    "one); some recipients may get a second copy.")(command)
    command.help = {
        "pause": "Pause a schedule (no firing until resumed) or a run in progress (stops between messages).",
        "resume": "Resume a paused schedule, or a paused (or missed) run: the daemon sends it.",
        "cancel": "Cancel a schedule for good, or a run (messages not yet handed over are never sent).",
    }[action] + " KIND is 'schedule' or 'run'; ids are shown by `campaigns` and `status`."
    return command


pause_command = _control("pause")
resume_command = _control("resume")
cancel_command = _control("cancel")
