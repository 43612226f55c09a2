"""A sender's own side: build each row's message, send it through the sender's transport, report the result.

:func:`serve` is the loop of every sender thread (``deliver/senders.py`` starts them): it reports ready, then
answers each row it receives on its pipe (in lists, one per claim) with a :class:`SendResult`, in order (in lists
too, of :data:`RESULTS_AT_ONCE`). Rows and results cross the pipe as plain pickles of tuples (:func:`result_tuple`,
:func:`result_of`): a pickled dataclass holding an enum costs ~30 µs to write and read, a tuple ~3 µs
(``bench/send_cpu_bench.py`` counts every one).
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, cast

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.transports.base import Outcome, Transport, TransportPaused, Verdict

if TYPE_CHECKING:  # the sending process imports it when it unpickles the campaign, not before
    from solidarity_mailer.compose.message import MessageFactory

log = logging.getLogger(__name__)

PICKLE = pickle.HIGHEST_PROTOCOL  # rows and send results cross the pipes as plain pickles (C speed)
# A sender reports its results this many at a time (and at the end of each list of rows it was given, and at once
# when the run must change course): one write and one wake-up of the claim loop for several messages
# (``bench/send_cpu_bench.py``). The claim loop refills a sender once it has room for as many.
RESULTS_AT_ONCE = 4


@dataclass(frozen=True)
class SendResult:
    """What became of one row's message: exactly one field is set."""

    outcome: Outcome | None = None  # the transport's verdict for the recipient
    build_error: str = ""  # the message could not be written (an unsafe header value): fail this row alone
    paused: TransportPaused | None = None  # the server refuses us, not the recipient: pause the run
    error: str = ""  # a transport bug: whether the message left is unknown

    @property
    def relay_down(self) -> bool:
        """The relay could not be reached or used (nothing was handed over)."""
        return self.outcome is not None and self.outcome.connection


def result_tuple(result: SendResult) -> tuple[object, ...]:
    """``result`` as the plain tuple that crosses the pipe (read back by :func:`result_of`)."""
    if (outcome := result.outcome) is not None:
        return ("outcome", outcome.verdict.value, outcome.code, outcome.status, outcome.reply, outcome.connection)
    if (paused := result.paused) is not None:
        return ("paused", paused.reply, paused.code, paused.status)
    if result.build_error:
        return ("build", result.build_error)
    return ("error", result.error)


def result_of(item: tuple[object, ...]) -> SendResult:
    """The :class:`SendResult` a :func:`result_tuple` stands for."""
    kind = item[0]
    if kind == "outcome":
        _, verdict, code, status, reply, connection = item
        return SendResult(outcome=Outcome(Verdict(verdict), code, status, reply, connection))  # type: ignore[arg-type]
    if kind == "paused":
        _, reply, code, status = item
        return SendResult(paused=TransportPaused(reply, code, status))  # type: ignore[arg-type]
    if kind == "build":
        return SendResult(build_error=str(item[1]))
    return SendResult(error=str(item[1]))


def build_and_send(factory: MessageFactory, transport: Transport, row: Delivery) -> SendResult:
    """Build ``row``'s message with ``factory`` and send it through ``transport``."""
    try:
        msg = factory.build(row.recipient(), row.message_id)  # the Message-ID the ledger holds for it
    except MailerError as exc:
        return SendResult(build_error=exc.line())
    except Exception as exc:  # a bug for this recipient: fail it alone, nothing was sent
        log.exception("building the message for %s", row.address)
        return SendResult(build_error=f"cannot build the message: {exc!r}")
    try:
        outcomes = transport.send(msg.mail_from, [msg.rcpt], msg.data, smtputf8=msg.smtputf8,
                                  crlf_only=True, wire=msg.wire)  # as the factory builds every message
    except TransportPaused as exc:
        return SendResult(paused=exc)
    except Exception as exc:  # a transport bug: the row becomes uncertain, the run goes on
        log.exception("transport error for %s", row.address)
        return SendResult(error=f"transport error: {exc!r}")
    return SendResult(outcome=outcomes.get(msg.rcpt) or next(iter(outcomes.values())))


_HEADER = struct.Struct("!i")  # the framing of multiprocessing's Connection (a 4-byte length), which it can read too


def write_pipe(conn: Connection, obj: object) -> None:
    """One message on a sender's pipe: a plain pickle (C speed), framed as the connection frames it.

    Written and read with ``os.write``/``os.read`` on its descriptor: the Connection's own methods cost ~13 µs a
    message there and back, these ~4 µs, twice per message (``bench/send_cpu_bench.py`` counts them)."""
    data = pickle.dumps(obj, PICKLE)
    frame = memoryview(_HEADER.pack(len(data)) + data)
    fd = conn.fileno()  # OSError once closed, as the Connection's own methods
    while frame:
        frame = frame[os.write(fd, frame):]


def _read_exactly(fd: int, size: int) -> bytes:
    chunk = os.read(fd, size)
    if len(chunk) == size:
        return chunk
    chunks = [chunk]
    while chunk and (left := size - sum(map(len, chunks))):
        chunk = os.read(fd, left)
        chunks.append(chunk)
    if not chunk:
        raise EOFError
    return b"".join(chunks)


def read_pipe(conn: Connection) -> object:
    """The next message on a sender's pipe (EOFError when the other end is gone)."""
    fd = conn.fileno()
    (size,) = _HEADER.unpack(_read_exactly(fd, 4))
    return pickle.loads(_read_exactly(fd, size))


def serve(conn: Connection, factory: MessageFactory, make_transport: Callable[[], Transport]) -> None:
    """A sender's loop: report ready, then deliver each row received until ``None`` or the pipe closes.

    After a :class:`TransportPaused` it sends nothing more: later rows get the same pause back (and are
    given back to the ledger uncounted), as the run is pausing. After the relay could not be reached, the
    rows already waiting on the pipe (given before the dispatcher knew) get the same result back at once,
    untried, instead of each waiting for the relay's timeout again; rows that come later are tried.
    """
    try:
        try:
            transport = make_transport()
        except Exception as exc:
            why = exc.line() if isinstance(exc, MailerError) else f"cannot start a sender: {exc!r}"
            write_pipe(conn, ("error", why))
            return
        write_pipe(conn, ("ready", ""))
        try:
            _send_rows(conn, factory, transport)
        finally:
            try:
                transport.close()
            except Exception:  # closing must not hide what happened
                log.exception("closing the transport")
    except (EOFError, BrokenPipeError, ConnectionResetError):  # the dispatcher is gone: nothing more to do
        return
    finally:
        conn.close()  # however it ends, the dispatcher's end sees EOF (never waits for a dead sender)


def _send_rows(conn: Connection, factory: MessageFactory, transport: Transport) -> None:
    paused: SendResult | None = None  # once the server refused us, the rows still held are not attempted
    down: SendResult | None = None  # the relay is down: the rows already waiting are not attempted
    while True:
        if down is not None and not conn.poll():
            down = None
        rows = read_pipe(conn)  # a list of rows (one write of the claim loop), or None: stop
        if rows is None:
            return
        results: list[tuple[object, ...]] = []
        for item in cast(list[tuple[object, ...]], rows):
            result = paused or down or build_and_send(factory, transport, Delivery(*item))
            if result.paused is not None:
                paused = result
            elif result.relay_down:
                down = result
            results.append(result_tuple(result))
            if len(results) >= RESULTS_AT_ONCE or result.outcome is None or result.relay_down:
                write_pipe(conn, results)
                results = []
        if results:
            write_pipe(conn, results)
