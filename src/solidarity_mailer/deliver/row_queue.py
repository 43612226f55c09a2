"""The bounded queue of row lists from the feeder to the claim loop, and the waker that lets the claim loop wait for
it and for its senders' pipes at once (``deliver/claim_loop.py``)."""

from __future__ import annotations

import contextlib
import queue
import socket

from solidarity_mailer.ledger.delivery_row import Delivery


class Waker:
    """A socket pair: :meth:`notify` (from any thread) makes :meth:`fileno` readable until :meth:`clear`,
    so one thread can wait for it and for its senders' pipes at once."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def notify(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a full buffer is readable already
            self._w.send(b"\0")

    def fileno(self) -> int:
        return self._r.fileno()

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._r.recv(4096):
                pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


class RowQueue(queue.Queue[list[Delivery] | None]):
    """The feeder's bounded queue of row lists for the claim loop; every ``put`` also notifies :attr:`waker`."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.waker = Waker()

    def put(self, item: list[Delivery] | None, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self.waker.notify()
