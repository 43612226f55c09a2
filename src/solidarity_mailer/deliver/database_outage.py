"""A worker while its database is unreachable: it pauses, waits with backoff, and goes on when the database is back.

The first thread of a run to meet the outage (the feeder, the claim loop, the ledger writer) sets
``live.database_down`` (``ledger/reachability.py`` says which errors are outages). The claim loop then starts
nothing new and still collects what the senders hold: their results wait in the writer's memory. :func:`ride_out`
(called by the feeder) logs one line, waits until every row taken is answered or left pending, then tries again
after each delay of the backoff (1 s, doubling, at most 30 s, with jitter). When the database answers it holds its
lease again (taking it anew if others judged this worker dead meanwhile: they freed its claimed rows, which the
feeder claims afresh, each under the same guarded claim as ever, so a row another worker took is never sent twice),
commits the results held in memory (recorded even on rows made ``uncertain`` meanwhile: ``ledger/writer.py``),
writes the suppressions held, logs one line and returns: the feeder starts over from the first due row.
"""

from __future__ import annotations

import logging
import time

from solidarity_mailer.clock import duration
from solidarity_mailer.deliver import run_lease
from solidarity_mailer.deliver.live_run import LiveRun
from solidarity_mailer.deliver.row_queue import RowQueue
from solidarity_mailer.ledger import row_claims
from solidarity_mailer.ledger.reachability import (
    FIRST_DELAY,
    MAX_DELAY,
    DatabaseUnreachable,
    loggable_url,
    reason,
    wait_until_reachable,
)

log = logging.getLogger(__name__)


def ride_out(live: LiveRun, row_queue: RowQueue) -> str | None:
    """Wait until the database is back and this worker may go on; why feeding must stop instead ("stopped": stopped
    meanwhile; "lease lost": on SQLite, another process took the run over), if it must."""
    started = time.monotonic()
    url = loggable_url(live.engine.url.render_as_string(hide_password=False))
    error = live.database_error or DatabaseUnreachable("the database connection was lost")
    log.warning("run %d: the database %s is unreachable (%s); this worker pauses and tries again in %.0f s, "
                "backing off up to %.0f s", live.run_id, url, reason(error), FIRST_DELAY, MAX_DELAY)
    row_queue.join()  # the claim loop starts nothing more; what the senders hold is answered, held in memory
    lease: list[bool] = []

    def reconnect() -> None:
        lease[:] = [_hold_lease(live)]
        live.writer.reconnect()  # the results held in memory, committed
        now = live.now()
        row_claims.renew_claims(live.engine, live.run_id, live.lease_holder, until=now + live.lease_ttl)
        live.write_held_suppressions()

    if not wait_until_reachable(reconnect, sleep=live.sleep, stopped=live.stop.is_set):
        log.warning("run %d: stopped while the database was unreachable; the messages this worker handed over and "
                    "could not record become uncertain", live.run_id)
        return "stopped"
    if not lease[0]:
        live.stop.set()
        return "lease lost"
    with live.lock:
        live.database_error = None
    live.database_down.clear()
    log.info("run %d: the database is back after %s; this worker goes on", live.run_id,
             duration(time.monotonic() - started))
    return None


def _hold_lease(live: LiveRun) -> bool:
    """Renew this worker's lease on the run; on PostgreSQL take it anew when it was removed meanwhile (its name is
    this worker's own). False on SQLite when another process holds the run now."""
    now = live.now()
    if run_lease.renew(live.engine, live.run_id, live.lease_holder, now=now, ttl=live.lease_ttl):
        return True
    if not run_lease.shared(live.engine):
        return False
    run_lease.acquire(live.engine, live.run_id, now=now, holder=live.lease_holder, ttl=live.lease_ttl)
    return True
