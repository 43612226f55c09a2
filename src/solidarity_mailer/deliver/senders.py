"""Senders: each builds its rows' messages and sends them through its own transport; :class:`Sender` is the
dispatcher's end of one.

A sender owns one transport (one SMTP connection) and its own copy of the campaign's message factory. The
dispatcher's single claim loop (``deliver/claim_loop.py``) commits a row as ``sending``, passes it to a sender
with :meth:`Sender.submit`, and collects the :class:`SendResult` with :meth:`Sender.receive` when the
sender's ``connection`` is readable; it waits on all of them at once. Building and the SMTP dialogue
are most of the CPU a message costs, so with sender processes they run on every core instead of taking
turns for one interpreter lock, while the ledger (claims and outcomes) stays in the dispatching process.

- For the ``smtp`` transport the senders are processes forked by a small launcher
  (``python -m solidarity_mailer.deliver.senders``: one interpreter start per run, the campaign unpickled once,
  never a fork of the multi-threaded dispatcher itself). They ignore SIGINT and SIGTERM (the dispatcher
  decides when to stop; Ctrl-C must not cut a transaction in half) and exit when their socket closes, so a
  dispatcher killed outright leaves no sender behind: each finishes the message it is sending and exits.
- Other transports, custom transport factories and ``[delivery] sender_processes = false`` use sender
  threads that run the very same loop (:func:`serve`) over an in-process pipe.

A sender that dies holding a row is reported as :class:`SenderLost`; the dispatcher records that
row ``uncertain`` and stops the run.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, cast

from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.paths import child_command, child_environment
from solidarity_mailer.transports.base import Outcome, Transport, TransportPaused

if TYPE_CHECKING:  # the sending process imports them when it unpickles the campaign, not before
    from solidarity_mailer.compose.message import MessageFactory
    from solidarity_mailer.config import Settings

TransportFactory = Callable[["Settings"], Transport]

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds a new sender may take to report ready
PICKLE = pickle.HIGHEST_PROTOCOL  # rows and send results cross the pipes as plain pickles (C speed)
CLOSE_TIMEOUT = 30.0  # seconds the senders may take to finish their current message and close their connections


@dataclass(frozen=True)
class SendResult:
    """What became of one row's message: exactly one field is set."""

    outcome: Outcome | None = None  # the transport's verdict for the recipient
    build_error: str = ""  # the message could not be written (an unsafe header value): fail this row alone
    paused: TransportPaused | None = None  # the server refuses us, not the recipient: pause the run
    error: str = ""  # a transport bug: whether the message left is unknown


class SenderLost(MailerError):
    """The sender died or stopped answering: whether the message it was sending left is unknown."""

    def __init__(self, what: str) -> None:
        super().__init__(what, hint="the message it had is recorded uncertain; send again to continue")


def build_and_send(factory: MessageFactory, transport: Transport, row: Delivery) -> SendResult:
    """Build ``row``'s message with ``factory`` and send it through ``transport``."""
    try:
        msg = factory.build(row.recipient())
    except MailerError as exc:
        return SendResult(build_error=exc.line())
    except Exception as exc:  # a bug for this recipient: fail it alone, nothing was sent
        log.exception("building the message for %s", row.address)
        return SendResult(build_error=f"cannot build the message: {exc!r}")
    try:
        outcomes = transport.send(msg.mail_from, [msg.rcpt], msg.data, smtputf8=msg.smtputf8,
                                  crlf_only=True)  # as the factory builds every message
    except TransportPaused as exc:
        return SendResult(paused=exc)
    except Exception as exc:  # a transport bug: the row becomes uncertain, the run goes on
        log.exception("transport error for %s", row.address)
        return SendResult(error=f"transport error: {exc!r}")
    return SendResult(outcome=outcomes.get(msg.rcpt) or next(iter(outcomes.values())))


def write_pipe(conn: Connection, obj: object) -> None:
    """One message on a sender's pipe: a plain pickle (C speed), framed by the connection."""
    conn.send_bytes(pickle.dumps(obj, PICKLE))


def read_pipe(conn: Connection) -> object:
    """The next message on a sender's pipe (EOFError when the other end is gone)."""
    return pickle.loads(conn.recv_bytes())


def serve(conn: Connection, factory: MessageFactory, make_transport: Callable[[], Transport]) -> None:
    """A sender's loop: report ready, then deliver each row received until ``None`` or the pipe closes.

    After a :class:`TransportPaused` it sends nothing more: later rows get the same pause back (and are
    given back to the ledger uncounted), as the run is pausing.
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
    while True:
        item = read_pipe(conn)
        if item is None:
            return
        result = paused or build_and_send(factory, transport, Delivery(*cast(tuple[object, ...], item)))
        if result.paused is not None:
            paused = result
        write_pipe(conn, result)


class Sender:
    """The dispatcher's end of one sender (a thread or a process)."""

    def __init__(self, connection: Connection, name: str, on_close: Callable[[], None]) -> None:
        self.connection, self.name, self._on_close = connection, name, on_close
        self._closing = threading.Lock()

    def lost(self, what: str) -> SenderLost:
        return SenderLost(f"sender {self.name} {what}")

    def wait_ready(self) -> None:
        """Wait for the sender to start (its transport made); a :class:`MailerError` when it could not."""
        hint = "nothing was sent; see the messages above, then send again"
        if not self.connection.poll(START_TIMEOUT):
            raise MailerError(f"sender {self.name} did not start within {START_TIMEOUT:.0f}s", hint=hint)
        try:
            kind, detail = cast(tuple[str, str], read_pipe(self.connection))  # ("ready" | "error", detail)
        except (EOFError, OSError):
            raise MailerError(f"sender {self.name} exited while starting", hint=hint) from None
        if kind != "ready":
            raise MailerError(str(detail))

    def submit(self, row: Delivery) -> None:
        """Queue ``row`` (already committed ``sending``) for the sender; it delivers its rows in order."""
        try:
            write_pipe(self.connection, row.as_tuple())
        except OSError:
            raise self.lost(f"is gone; it was given {row.address}") from None

    def receive(self) -> SendResult:
        """The :class:`SendResult` of the oldest row submitted (blocks until it comes); :class:`SenderLost` if
        it never will."""
        try:
            return cast(SendResult, read_pipe(self.connection))
        except (EOFError, OSError):
            raise self.lost("died while sending") from None

    def close(self) -> None:
        """Ask the sender to close its connection and stop. Idempotent and thread-safe."""
        with self._closing:
            if self.connection.closed:
                return
            with contextlib.suppress(OSError):
                write_pipe(self.connection, None)
            self.connection.close()
        self._on_close()


def launch(fds: list[int]) -> None:
    """The launcher process: read (factory, settings) from stdin, fork one sender per socket fd, wait for them.

    Forking from this small single-threaded process (never from the dispatcher, which has threads) is safe,
    and the campaign is unpickled once for all senders.
    """
    from solidarity_mailer.transports import make_transport

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        factory, settings = pickle.load(sys.stdin.buffer)
    except Exception as exc:  # tell each sender why, instead of a bare EOF
        for fd in fds:
            with contextlib.suppress(OSError):
                write_pipe(Connection(fd), ("error", f"the sender launcher could not read the campaign: {exc!r}"))
        raise SystemExit(1) from None
    from solidarity_mailer.transports import smtp  # noqa: F401  imported here once, shared by the senders (smtp is all it serves)
    gc.freeze()  # the senders' collections skip what is here: its pages stay shared (copy-on-write)
    children = []
    for fd in fds:
        pid = os.fork()
        if pid == 0:
            for other in fds:
                if other != fd:
                    os.close(other)
            code = 0
            try:
                serve(Connection(fd), factory, lambda: make_transport(settings))
            except BaseException:
                log.exception("sender process")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    for fd in fds:
        os.close(fd)
    for pid in children:
        os.waitpid(pid, 0)


class _Launcher:
    """The launcher process of one run's senders; waits for it (killing it if it hangs) after the last close."""

    def __init__(self, factory: MessageFactory, settings: Settings, count: int) -> None:
        payload = pickle.dumps((factory, settings))  # before anything starts: nothing to clean up if it fails
        self._lock = threading.Lock()
        pairs = [socket.socketpair() for _ in range(count)]
        fds = [theirs.fileno() for _, theirs in pairs]
        try:
            self.process = subprocess.Popen([*child_command(__name__), *map(str, fds)], pass_fds=fds,
                                            stdin=subprocess.PIPE, env=child_environment(), start_new_session=True)
        finally:
            for _, theirs in pairs:
                theirs.close()
        self.connections = [Connection(ours.detach()) for ours, _ in pairs]
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # the launcher died at once: each sender reports it when started
            self.process.stdin.write(payload)
            self.process.stdin.close()
        self.open = count

    def closed_one(self) -> None:
        """One sender was told to stop; after the last, wait for them all (kill their group if they hang)."""
        with self._lock:
            self.open -= 1
            if self.open != 0:
                return
        try:
            self.process.wait(timeout=CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the launcher and its senders (own session)
            self.process.wait()


def _thread_sender(factory: MessageFactory, make: Callable[[], Transport], name: str) -> Sender:
    ours, theirs = Pipe()
    thread = threading.Thread(target=serve, args=(theirs, factory, make), name=name, daemon=True)
    thread.start()

    def joined() -> None:
        thread.join(CLOSE_TIMEOUT)
        theirs.close()

    return Sender(ours, name, joined)


def start_senders(settings: Settings, factory: MessageFactory, count: int,
                  transport_factory: TransportFactory | None = None) -> list[Sender]:
    """``count`` senders: sender processes for the ``smtp`` transport (unless ``[delivery] sender_processes =
    false``), else sender threads around ``transport_factory(settings)`` (default: ``make_transport``)."""
    if transport_factory is None and settings.delivery.transport == "smtp" and settings.delivery.sender_processes:
        launcher = _Launcher(factory, settings, count)
        return [Sender(conn, f"process {i}", launcher.closed_one) for i, conn in enumerate(launcher.connections)]
    from solidarity_mailer.transports import make_transport

    make = transport_factory or make_transport
    return [_thread_sender(factory, lambda: make(settings), f"sender-{i}") for i in range(count)]


if __name__ == "__main__":  # run as the launcher: use the importable module, so pickles name its classes
    from solidarity_mailer.deliver.senders import launch as _launch

    _launch([int(fd) for fd in sys.argv[1:]])
