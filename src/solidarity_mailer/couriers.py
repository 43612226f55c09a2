"""Couriers: build one row's message and hand it to a transport, in the sender thread or in a sender process.

A worker thread (``workers.py``) commits its row as ``sending`` and then asks its courier to deliver it.
:class:`InlineCourier` builds and sends in that thread. :class:`ProcessCourier` owns a sender process (one
SMTP connection) that holds its own copy of the campaign's message factory: the thread passes the row over
a pipe and waits for the :class:`Handover`. Building and the SMTP dialogue are most of the CPU a message
costs, so with sender processes they run on every core instead of taking turns for one interpreter lock,
while the ledger (claims and outcomes) stays in the dispatching process, exactly as before.

Sender processes are forked by a small launcher process (``python -m solidarity_mailer.couriers``: one
interpreter start per run, the campaign unpickled once, and never a fork of the multi-threaded dispatcher
itself). They ignore SIGINT and SIGTERM (the dispatcher decides when to stop; Ctrl-C must not cut a
transaction in half) and exit when their socket closes, so a dispatcher killed outright leaves no sender
behind: each finishes the message in hand and exits. A sender that dies mid-message is reported as
:class:`CourierLost`; the dispatcher records that row ``uncertain`` and stops the run.
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
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from .delivery import Delivery
from .errors import MailerError
from .transports.base import Outcome, Transport, TransportPaused

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds a new sender process may take to report ready
CLOSE_TIMEOUT = 30.0  # seconds the senders may take to finish the message in hand and close their connections


@dataclass(frozen=True)
class Handover:
    """What became of one row's message: exactly one field is set."""

    outcome: Outcome | None = None  # the transport's verdict for the recipient
    build_error: str = ""  # the message could not be written (an unsafe header value): fail this row alone
    paused: TransportPaused | None = None  # the server refuses us, not the recipient: pause the run
    error: str = ""  # a transport bug: whether the message left is unknown


class CourierLost(MailerError):
    """The sender process died or stopped answering: whether the message in hand left is unknown."""

    def __init__(self, what: str) -> None:
        super().__init__(what, hint="the message it had is recorded uncertain; send again to continue")


class Courier(Protocol):
    """Builds and hands over one row's message; the row is already committed as ``sending``."""

    def deliver(self, row: Delivery) -> Handover:
        """Build the row's message and hand it to the transport; never raises for an SMTP reply."""
        ...

    def close(self) -> None:
        """Close the connection (and the sender process, if any); idempotent."""


def hand_over(factory: Any, transport: Transport, row: Delivery) -> Handover:
    """Build ``row``'s message with ``factory`` and send it through ``transport``."""
    try:
        msg = factory.build(row.recipient())
    except MailerError as exc:
        return Handover(build_error=exc.line())
    try:
        outcomes = transport.send(msg.mail_from, [msg.rcpt], msg.data, smtputf8=msg.smtputf8)
    except TransportPaused as exc:
        return Handover(paused=exc)
    except Exception as exc:
        log.exception("transport error for %s", row.address)
        return Handover(error=f"transport error: {exc!r}")
    return Handover(outcome=outcomes.get(msg.rcpt) or next(iter(outcomes.values())))


class InlineCourier:
    """Builds and sends in the calling thread (non-SMTP transports, custom transport factories)."""

    def __init__(self, factory: Any, transport: Transport) -> None:
        self.factory, self.transport = factory, transport

    def deliver(self, row: Delivery) -> Handover:
        """See :class:`Courier`."""
        return hand_over(self.factory, self.transport, row)

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()


def _serve(conn: Connection, factory: Any, settings: Any) -> None:
    """One sender: report ready, then deliver each row received until ``None`` or the pipe closes."""
    from .transports import make_transport

    try:
        transport = make_transport(settings)
    except Exception as exc:
        conn.send(("error", f"the sender process could not start: {exc!r}"))
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                item = conn.recv()
            except EOFError:  # the dispatcher is gone: nothing more to do
                return
            if item is None:
                return
            conn.send(hand_over(factory, transport, Delivery(*item)))
    finally:
        try:
            transport.close()
        except Exception:
            log.exception("closing the transport")


def launch(fds: list[int]) -> None:
    """The launcher process: read (factory, settings) from stdin, fork one sender per socket fd, wait for them.

    Forking from this small single-threaded process (never from the dispatcher, which has threads) is safe,
    and the campaign is unpickled once for all senders.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    factory, settings = pickle.load(sys.stdin.buffer)
    children = []
    for fd in fds:
        pid = os.fork()
        if pid == 0:
            for other in fds:
                if other != fd:
                    os.close(other)
            code = 0
            try:
                _serve(Connection(fd), factory, settings)
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
    """The launcher process of one run's senders (``python -m solidarity_mailer.couriers FD…``)."""

    def __init__(self, factory: Any, settings: Any, count: int) -> None:
        pairs = [socket.socketpair() for _ in range(count)]
        fds = [theirs.fileno() for _, theirs in pairs]
        src = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen([sys.executable, "-m", __name__, *map(str, fds)], pass_fds=fds,
                                            stdin=subprocess.PIPE, env=env)
        finally:
            for _, theirs in pairs:
                theirs.close()
        self.connections = [Connection(ours.detach()) for ours, _ in pairs]
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(pickle.dumps((factory, settings)))
            self.process.stdin.close()
        except OSError:  # the launcher died at once: each courier reports it when asked to deliver
            pass
        self.open = count

    def exit_code(self, wait: float) -> int | None:
        try:
            return self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def closed_one(self) -> None:
        """One sender was told to stop; after the last, wait for the launcher (kill it if it hangs)."""
        self.open -= 1
        if self.open == 0 and self.exit_code(CLOSE_TIMEOUT) is None:
            self.process.kill()
            self.process.wait()


class ProcessCourier:
    """One sender process (forked by the launcher) with its own transport and its own copy of the factory."""

    def __init__(self, launcher: _Launcher, index: int) -> None:
        self._launcher, self._conn, self.name = launcher, launcher.connections[index], f"sender-{index}"
        self._ready = False

    def _lost(self, what: str) -> CourierLost:
        code = self._launcher.exit_code(0.5)
        suffix = f" (launcher exit code {code})" if code else ""
        return CourierLost(f"sender process {self.name} {what}{suffix}")

    def _wait_ready(self) -> None:
        if not self._conn.poll(START_TIMEOUT):
            raise self._lost(f"did not start within {START_TIMEOUT:.0f}s")
        try:
            kind, detail = self._conn.recv()
        except (EOFError, OSError):
            raise self._lost("exited while starting") from None
        if kind != "ready":
            raise MailerError(str(detail))
        self._ready = True

    def deliver(self, row: Delivery) -> Handover:
        """See :class:`Courier`; :class:`CourierLost` when the sender process died with the row in hand."""
        if not self._ready:
            self._wait_ready()
        try:
            self._conn.send((row.address, row.name, row.list_id, row.fields, row.state, row.attempts))
            handover: Handover = self._conn.recv()
        except (EOFError, OSError):
            raise self._lost(f"died while sending to {row.address}") from None
        return handover

    def close(self) -> None:
        """Ask the sender to close its connection and exit (the last one waits for the launcher). Idempotent."""
        if self._conn.closed:
            return
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._conn.close()
        self._launcher.closed_one()


def start_couriers(settings: Any, factory: Any, count: int, transport_factory: Any = None) -> list[Courier]:
    """``count`` couriers: sender processes for the ``smtp`` transport (unless ``[delivery] sender_processes =
    false``), else inline ones around ``transport_factory(settings)`` (default: ``make_transport``)."""
    couriers: list[Courier] = []
    try:
        if transport_factory is None and settings.delivery.transport == "smtp" and settings.delivery.sender_processes:
            launcher = _Launcher(factory, settings, count)
            couriers += [ProcessCourier(launcher, i) for i in range(count)]
        else:
            from .transports import make_transport

            make = transport_factory or make_transport
            for _ in range(count):
                couriers.append(InlineCourier(factory, make(settings)))
    except BaseException:
        for courier in couriers:
            courier.close()
        raise
    return couriers


if __name__ == "__main__":  # run as the launcher: use the importable module, so pickles name its classes
    from solidarity_mailer.couriers import launch as _launch

    _launch([int(fd) for fd in sys.argv[1:]])
