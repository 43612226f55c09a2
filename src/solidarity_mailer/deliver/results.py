"""What each send result means for the ledger and the run.

:func:`record_result` records a sender's :class:`~solidarity_mailer.deliver.senders.SendResult` for a
``sending`` row: ``sent``; ``deferred`` with backoff (4xx, connection problems) or ``failed`` once the
attempts are used up; ``failed`` for 5xx (5.1.1 also suppresses the address); ``uncertain`` for a drop after
the final dot or a transport bug; ``failed`` for a message that could not be built. :class:`TransportPaused`
gives the row back and pauses the whole run. A connection-level deferral (the relay cannot be reached or used:
not the recipient's doing) gives the row back without counting the attempt and sets ``LiveRun.outage``:
nothing new starts while the feeder (``deliver/feeder.py``) backs the run off.
"""

from __future__ import annotations

from solidarity_mailer.deliver.live_run import LiveRun
from solidarity_mailer.deliver.relays import Relay
from solidarity_mailer.deliver.sender_loop import SendResult
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.transports.base import Outcome, Verdict


def _reply(outcome: Outcome) -> str:
    return f"{outcome.code} {outcome.reply}".strip() if outcome.code else outcome.reply


def record_outcome(live: LiveRun, row: Delivery, attempts: int, outcome: Outcome, relay: str | None = None) -> str:
    """Write a transport outcome (of ``relay``, if named) for a ``sending`` row; returns the state recorded."""
    now = live.now()
    reply = _reply(outcome)
    state = outcome.verdict.value
    retry_at = None
    if outcome.verdict is Verdict.DEFER:
        retry_at = live.policy.next_attempt(attempts, now)
        if retry_at is None:
            state, reply = "failed", f"gave up after {attempts} attempts: {reply}"
    live.writer.outcome(row.address, state, reply, now, retry_at, relay)
    if outcome.suppress:
        live.suppress_address(row.address, reply)
    return state


def record_result(live: LiveRun, row: Delivery, result: SendResult, relay: Relay) -> str:
    """Record what became of a ``sending`` row's message sent through ``relay``; returns what happened (a
    delivery state, ``paused`` or ``outage``)."""
    if result.build_error:  # this recipient cannot be written as a message: fail it alone
        live.writer.outcome(row.address, "failed", result.build_error, live.now())
        return "failed"
    if result.paused is not None:
        live.writer.release(row.address, result.paused.reply, live.now())
        live.pause(result.paused)
        return "paused"
    if result.outcome is None:  # a transport bug: whether the message left is unknown
        live.writer.outcome(row.address, "uncertain", result.error, live.now(), relay=relay.name)
        return "uncertain"
    outcome = result.outcome
    if outcome.verdict is Verdict.DEFER and outcome.connection:  # the relay's trouble: the attempt does not count
        reply = _reply(outcome)
        live.writer.release(row.address, f"not attempted: {reply}", live.now())
        live.relay_failed(relay, reply)
        return "outage"
    live.relay_ok(relay)
    return record_outcome(live, row, row.attempts + 1, outcome, relay.name)
