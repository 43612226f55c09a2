"""Senders: each builds its rows' messages and sends them through its own transport; :class:`Sender` is the
dispatcher's end of one, :func:`start_senders` starts them (the sender's own loop: ``deliver/sender_loop.py``).

A sender owns one transport (one SMTP connection to its relay); the senders share one copy of the campaign's
message factory. The dispatcher's single claim loop (``deliver/claim_loop.py``) commits rows as ``sending``,
passes each sender its rows of that COMMIT with :meth:`Sender.submit`, and collects their :class:`SendResult`
objects with :meth:`Sender.receive` when the sender's ``connection`` is readable; it waits on all of them at once.

- For the ``smtp`` transport the senders are threads of one sender process per run
  (``python -m solidarity_mailer.deliver.senders``: one interpreter start per run, the campaign unpickled once,
  never a fork of the multi-threaded dispatcher). Building and the SMTP dialogue, most of the CPU a message
  costs, run there while the ledger work (claims and outcomes) runs in the dispatcher: two cores at work. It
  ignores SIGINT and SIGTERM (the dispatcher decides when to stop; Ctrl-C must not cut a transaction in half)
  and each of its threads ends when its socket closes, so a dispatcher killed outright leaves nothing behind:
  each sender finishes the message it is sending and the process exits.
- Other transports, custom transport factories and ``[delivery] sender_processes = false`` use sender
  threads in the dispatcher that run the very same loop (``sender_loop.serve``) over an in-process pipe.

A sender that dies holding a row (its process killed) is reported as :class:`SenderLost`; the dispatcher records
that row ``uncertain`` and stops the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, cast

from solidarity_mailer.deliver.sender_loop import SendResult, read_pipe, result_of, serve, write_pipe
from solidarity_mailer.errors import MailerError
from solidarity_mailer.ledger.delivery_row import Delivery
from solidarity_mailer.paths import child_command, child_environment
from solidarity_mailer.transports.base import Transport

if TYPE_CHECKING:  # the sending process imports them when it unpickles the campaign, not before
    from solidarity_mailer.compose.message import MessageFactory
    from solidarity_mailer.config import Settings
    from solidarity_mailer.deliver.relays import Relay  # (its SQLAlchemy stays out of the sender processes)

TransportFactory = Callable[["Settings"], Transport]

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds a new sender may take to report ready
CLOSE_TIMEOUT = 30.0  # seconds the senders may take to finish their current message and close their connections


class SenderLost(MailerError):
    """The sender died or stopped answering: whether the message it was sending left is unknown."""

    def __init__(self, what: str) -> None:
        super().__init__(what, hint="the message it had is recorded uncertain; send again to continue")


class Sender:
    """The dispatcher's end of one sender (a thread or a process)."""

    def __init__(self, connection: Connection, name: str, on_close: Callable[[], None], relay: Relay) -> None:
        self.connection, self.name, self._on_close, self.relay = connection, name, on_close, relay
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

    def submit(self, rows: Sequence[Delivery]) -> None:
        """Queue ``rows`` (already committed ``sending``) for the sender, in one write; it delivers its rows in
        order and answers each with a :class:`SendResult`."""
        try:
            write_pipe(self.connection, [row.as_tuple() for row in rows])
        except OSError:
            raise self.lost(f"is gone; it was given {', '.join(row.address for row in rows)}") from None

    def receive(self) -> list[SendResult]:
        """The :class:`SendResult` of the oldest rows submitted, one or more in order (blocks until they come);
        :class:`SenderLost` if they never will."""
        try:
            return [result_of(item) for item in cast(list[tuple[object, ...]], read_pipe(self.connection))]
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


def launch(args: list[str]) -> None:
    """The sender process: read (factory, settings) from stdin, run one sender thread per ``FD:RELAY`` argument (a
    socket and the index of its relay in ``settings.relays``), wait for them.

    One process for all of a run's connections, not one each: on one core, six interpreters switching at every
    message cost ~0.08 ms a message more in CPU and in cache misses than four threads of one, and the
    dispatcher still works on another core meanwhile (``bench/send_cpu_bench.py``; ``bench/RESULTS.md``).
    """
    from solidarity_mailer.transports import make_transport

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    senders = [(int(fd), int(relay)) for fd, relay in (arg.split(":") for arg in args)]
    try:
        factory, settings = pickle.load(sys.stdin.buffer)
    except Exception as exc:  # tell each sender why, instead of a bare EOF
        for fd, _ in senders:
            with contextlib.suppress(OSError):
                write_pipe(Connection(fd), ("error", f"the sender process could not read the campaign: {exc!r}"))
        raise SystemExit(1) from None

    def run(fd: int, relay: int) -> None:
        connection = Connection(fd)
        try:
            own = settings.for_relay(settings.relays[relay])
            serve(connection, factory, lambda: make_transport(own))
        except BaseException:
            log.exception("sender thread")
        finally:
            connection.close()  # (serve closed it already, unless it never ran): the dispatcher reads EOF

    threads = [threading.Thread(target=run, args=sender, name=f"sender-{i}") for i, sender in enumerate(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class _SenderProcess:
    """The process of one run's sender threads; waits for it (killing it if it hangs) after the last close.

    ``relays`` holds, for each sender, the index of its relay in ``settings.relays``."""

    def __init__(self, factory: MessageFactory, settings: Settings, relays: list[int]) -> None:
        payload = pickle.dumps((factory, settings))  # before anything starts: nothing to clean up if it fails
        self._lock = threading.Lock()
        pairs = [socket.socketpair() for _ in relays]
        fds = [theirs.fileno() for _, theirs in pairs]
        try:
            self.process = subprocess.Popen(
                [*child_command(__name__), *(f"{fd}:{relay}" for fd, relay in zip(fds, relays, strict=True))],
                pass_fds=fds, stdin=subprocess.PIPE, env=child_environment(), start_new_session=True)
        finally:
            for _, theirs in pairs:
                theirs.close()
        self.connections = [Connection(ours.detach()) for ours, _ in pairs]
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # the process died at once: each sender reports it when started
            self.process.stdin.write(payload)
            self.process.stdin.close()
        self.open = len(relays)

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
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: nothing of it is left
            self.process.wait()


def _thread_sender(factory: MessageFactory, make: Callable[[], Transport], name: str, relay: Relay) -> Sender:
    ours, theirs = Pipe()
    thread = threading.Thread(target=serve, args=(theirs, factory, make), name=name, daemon=True)
    thread.start()

    def joined() -> None:
        thread.join(CLOSE_TIMEOUT)
        theirs.close()

    return Sender(ours, name, joined, relay)


def _maker(make: TransportFactory, settings: Settings, relay: Relay) -> Callable[[], Transport]:
    """What makes one sender's transport: ``make`` of the settings of ``relay`` alone (if it is one of them)."""
    own = settings if relay.settings is None else settings.for_relay(relay.settings)
    return lambda: make(own)


def start_senders(settings: Settings, factory: MessageFactory, relays: Sequence[Relay],
                  transport_factory: TransportFactory | None = None) -> list[Sender]:
    """Each relay's ``connections`` senders, also listed in its ``senders``: sender processes for the ``smtp``
    transport (unless ``[delivery] sender_processes = false``), else sender threads around
    ``transport_factory(settings)`` (default: ``make_transport``), the settings of their relay's alone."""
    named = len(relays) > 1
    plan = [(relay, i, f"{relay.name} {i}" if named else str(i)) for relay in relays for i in range(relay.connections)]
    if transport_factory is None and settings.delivery.transport == "smtp" and settings.delivery.sender_processes:
        process = _SenderProcess(factory, settings, [relay.index for relay, _, _ in plan])
        senders = [Sender(conn, f"{name} of the sender process", process.closed_one, relay)
                   for (relay, _, name), conn in zip(plan, process.connections, strict=True)]
    else:
        from solidarity_mailer.transports import make_transport

        make = transport_factory or make_transport
        senders = [_thread_sender(factory, _maker(make, settings, relay), f"sender-{name}", relay)
                   for relay, _, name in plan]
    for sender in senders:
        sender.relay.senders.append(sender)
    return senders


if __name__ == "__main__":  # run as the sender process: use the importable module, so pickles name its classes
    from solidarity_mailer.deliver.senders import launch as _launch

    _launch(sys.argv[1:])
