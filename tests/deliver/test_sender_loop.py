"""The sender's results cross the pipe as plain tuples (``deliver/sender_loop.py``): each kind comes back whole."""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

import pytest

from solidarity_mailer.deliver.sender_loop import (
    PICKLE,
    SendResult,
    read_pipe,
    result_of,
    result_tuple,
    write_pipe,
)
from solidarity_mailer.paths import child_environment
from solidarity_mailer.transports.base import Outcome, TransportPaused, Verdict


@pytest.mark.parametrize("result", [
    SendResult(outcome=Outcome(Verdict.SENT, 250, "2.0.0", "2.0.0 Ok: queued as 4F1")),
    SendResult(outcome=Outcome(Verdict.DEFER, 0, "", "connection failed: refused", connection=True)),
    SendResult(outcome=Outcome(Verdict.FAIL, 550, "5.1.1", "5.1.1 no such user")),
    SendResult(outcome=Outcome(Verdict.UNCERTAIN, 0, "", "connection lost after the final dot")),
    SendResult(build_error="list.csv:3: recipient name contains a line break"),
    SendResult(error="transport error: RuntimeError('bug')"),
])
def test_every_kind_of_result_crosses_the_pipe_whole(result: SendResult) -> None:
    assert result_of(pickle.loads(pickle.dumps(result_tuple(result), PICKLE))) == result


def test_a_pause_crosses_the_pipe_with_its_reply_code_and_status() -> None:
    back = result_of(result_tuple(SendResult(paused=TransportPaused("535 5.7.8 bad credentials", 535, "5.7.8"))))
    assert back.paused is not None and back.outcome is None and not back.build_error and not back.error
    assert (back.paused.reply, back.paused.code, back.paused.status) == ("535 5.7.8 bad credentials", 535, "5.7.8")
    assert back.outcome is None


def test_the_sender_process_loads_no_database_code() -> None:
    """The sender process imports what sending needs, never SQLAlchemy (~0.2 s of CPU a run)."""
    script = ("import sys, solidarity_mailer.deliver.senders, solidarity_mailer.transports.smtp, "
              "solidarity_mailer.compose.message; print(sorted(m for m in ('sqlalchemy', 'email_validator', 'jinja2') "
              "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-P", "-c", script], env=child_environment(), capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_pipe_carries_large_messages_in_order_and_ends_with_eof() -> None:
    """Messages cross a real socket pair whole, however the kernel splits them (1 MB ones included), and in the
    framing of multiprocessing's Connection (either end may use its own methods)."""
    ours, theirs = (Connection(s.detach()) for s in socket.socketpair())
    sent = [("row", "x" * size) for size in (0, 1, 70_000, 1_000_000, 5)]
    writer = threading.Thread(target=lambda: [write_pipe(theirs, item) for item in sent] + [theirs.close()])
    writer.start()
    assert [read_pipe(ours) for _ in sent] == sent
    writer.join()
    with pytest.raises(EOFError):
        read_pipe(ours)
    with pytest.raises(BrokenPipeError):  # the other end is gone (an OSError, as the callers expect)
        write_pipe(ours, ("ready", ""))
    ours.close()
    with pytest.raises(OSError):
        read_pipe(ours)
    a, b = (Connection(s.detach()) for s in socket.socketpair())
    a.send_bytes(pickle.dumps(("error", "why"), PICKLE))
    write_pipe(a, None)
    assert read_pipe(b) == ("error", "why") and pickle.loads(b.recv_bytes()) is None
