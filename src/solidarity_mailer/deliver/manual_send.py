"""A manual send (``solidarity-mailer send CAMPAIGN``): the campaign's one manual run, opened or continued.

:func:`open_manual_run` records the campaign and opens its manual run for the content: the same run while the
content is the same, so a second send continues; a changed content gets a run of its own, and no run sends anyone
a content they already had (``ledger/received_content.py``). With ``--list`` it points the run at those lists and
skips the rows still waiting from lists no longer in it. :func:`send_manual_run` delivers the run and says how it
ended, with the exit status the command returns. :func:`stop_on_interrupt` turns Ctrl-C into a graceful stop.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from solidarity_mailer.audience.lists import load_list_meta
from solidarity_mailer.campaign import Campaign
from solidarity_mailer.config import Settings
from solidarity_mailer.deliver.dispatcher import SERVER_PAUSED, RunDependencies, RunOptions, RunSummary, deliver_run
from solidarity_mailer.deliver.prepare import lists_for, require_a_recipient
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger import refused_runs
from solidarity_mailer.ledger.held_rows import waiting_until
from solidarity_mailer.ledger.received_content import manual_run_key
from solidarity_mailer.render.once import render_apart
from solidarity_mailer.render.rendition import Renditions

EXIT_PAUSED = 3  # the run is paused (server policy, authentication, relay unreachable too long, another command)
EXIT_FAILURES = 4  # the run ended with failed recipients (`status` lists them; --retry-failed requeues them)
PROBLEMS_SHOWN = 20  # failed or uncertain recipients listed after a send


@dataclass(frozen=True)
class ManualRun:
    """The campaign's manual run, ready to send."""

    run_id: int
    dropped: int = 0  # rows still waiting from lists no longer in the run, now ``skipped``
    new_run: bool = False  # opened by this send: removed again if the send is refused before any attempt
    new_campaign: bool = False  # the campaign row was recorded by this send
    rendition: Renditions | None = None  # the campaign as rendered when the run was opened


@dataclass(frozen=True)
class ManualSendResult:
    """How a manual send ended: the run's summary and its first failed or uncertain recipients."""

    summary: RunSummary
    problems: list[ledger.Problem]

    @property
    def exit_status(self) -> int:
        """0, or :data:`EXIT_PAUSED` when the run is paused, or :data:`EXIT_FAILURES` when recipients failed."""
        if self.summary.paused:
            return EXIT_PAUSED
        return EXIT_FAILURES if self.summary.counts.get("failed") else 0


def open_manual_run(engine: Engine, campaign: Campaign, lists: Sequence[str | Path] = (), *,
                    again: bool = False, continuing: bool = False) -> ManualRun:
    """Render ``campaign``, record it and open (or find) its manual run for this content; ``lists`` (``--list``)
    replace the campaign's. With ``again`` (``send --again``), a run that repeats the content on purpose; with
    ``continuing`` too (``--retry-failed``, ``--resend-uncertain``), the latest repeat even if it finished.

    With ``lists``, rows of other lists still waiting in the run are skipped, not sent (``LIST_REMOVED``).
    Lists without one valid row, and templates that do not render, are refused (a :class:`MailerError`) before
    the ledger is touched.
    """
    chosen = lists_for(campaign, lists)
    require_a_recipient(chosen)
    rendition = render_apart(campaign, chosen)
    digest = rendition.content_digest()
    key = manual_run_key(engine, campaign.id, digest, again=again, continuing=continuing)
    new_campaign, new_run = not refused_runs.campaign_recorded(engine, campaign.id), not ledger.run_exists(engine, key)
    ledger.ensure_campaign(engine, campaign)
    run_id = ledger.open_run(engine, campaign.id, key, lists=[str(p) for p in chosen], now=ledger.utcnow(),
                             again=again)
    dropped = 0
    if lists:
        dropped = ledger.set_run_lists(engine, run_id, [str(p) for p in chosen],
                                       keep_list_ids=[load_list_meta(p).list_id for p in chosen])
    return ManualRun(run_id, dropped, new_run, new_campaign, rendition)


def send_manual_run(engine: Engine, run: ManualRun | int, settings: Settings, options: RunOptions | None = None,
                    dependencies: RunDependencies | None = None,
                    on_window: Callable[[str], None] | None = None) -> ManualSendResult:
    """Deliver the manual run (see :func:`~solidarity_mailer.deliver.dispatcher.deliver_run`) and judge the end.
    While the run waits for a send window, it waits in the foreground (``on_window`` is told why) and continues.

    A run this send opened is removed again when the send is refused before any message was attempted (a
    template or list error, a relay refusing authentication): a :class:`MailerError`, the ledger as before.
    """
    manual = run if isinstance(run, ManualRun) else ManualRun(run)
    dependencies = dependencies or RunDependencies()
    if dependencies.rendition is None:
        dependencies = dataclasses.replace(dependencies, rendition=manual.rendition)
    try:
        summary = deliver_run(engine, manual.run_id, settings, options or RunOptions(), dependencies)
    except MailerError:
        _discard(engine, manual)
        raise
    summary = _through_windows(engine, manual.run_id, settings, options or RunOptions(), dependencies, summary,
                               on_window)
    refused = summary.paused and summary.note.startswith(SERVER_PAUSED)  # not an outage: that waits and resumes
    if refused and not summary.this_call.get("sent") and _discard(engine, manual):
        raise MailerError(f"the relay refused the run: {summary.note.removeprefix(SERVER_PAUSED)}; "
                          "nothing was sent and nothing recorded",
                          hint="fix the [smtp] settings or the password, then send again")
    return ManualSendResult(summary, ledger.problems(engine, manual.run_id)[:PROBLEMS_SHOWN])


def _through_windows(engine: Engine, run_id: int, settings: Settings, options: RunOptions,
                     dependencies: RunDependencies, summary: RunSummary,
                     on_window: Callable[[str], None] | None) -> RunSummary:
    """While the run waits for a send window (``deliver/send_windows.py``): wait until it opens, continue."""
    this_call = Counter(summary.this_call)
    while summary.state == "pending" and not dependencies.stop.is_set() and (
            opens := waiting_until(engine, run_id)) is not None:
        if on_window is not None:
            on_window(summary.note)
        dependencies.waits()(max((opens - dependencies.now()).total_seconds(), 0.0))
        if dependencies.stop.is_set():
            break
        options = dataclasses.replace(options, limit_used=sum(this_call.values()))  # --limit counts the whole send
        summary = deliver_run(engine, run_id, settings, options, dependencies)
        this_call.update(summary.this_call)
    summary.this_call = dict(this_call)
    return summary


def _discard(engine: Engine, manual: ManualRun) -> bool:
    """Remove the run this send opened, if no message of it was attempted; whether it was removed."""
    if not manual.new_run:
        return False
    campaign_id = ledger.get_run(engine, manual.run_id).campaign_id
    return refused_runs.discard_new_run(engine, manual.run_id, campaign_id, drop_campaign=manual.new_campaign)


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """An event that Ctrl-C (SIGINT) sets while the block runs: messages in flight finish, then the run stops.

    Call it from the main thread (where Python handles signals); the previous handler comes back after.
    """
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
