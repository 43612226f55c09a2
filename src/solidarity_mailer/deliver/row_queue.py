"""The bounded queue of row lists from the feeder to the claim loop, and the waker that lets the claim loop wait for
it and for its senders' pipes at once (``deliver/claim_loop.py``)."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable

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


def _wait(condition: threading.Condition, ready: Callable[[], object], block: bool, timeout: float | None) -> bool:
    """Wait on ``condition`` (held) until ``ready()``, as ``queue.Queue`` waits; False when it may not or timed out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not ready():
        left = None if deadline is None else deadline - time.monotonic()
        if not block or (left is not None and left <= 0.0):
            return False
        condition.wait(left)
    return True


class RowQueue(queue.Queue[list[Delivery] | None]):
    """The feeder's bounded queue of row lists for the claim loop; every ``put`` also notifies :attr:`waker`.

    When full, a ``put`` waits until half of it was taken, and ``get`` wakes a waiting ``put`` only then: the
    feeder is woken once per half a queue, not once per list (waking it at every list, and the thread switch that
    follows, cost ~6% of a message's CPU: ``bench/send_cpu_bench.py``)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.waker = Waker()

    def put(self, item: list[Delivery] | None, block: bool = True, timeout: float | None = None) -> None:
        with self.not_full:
            if 0 < self.maxsize <= self._qsize() and not _wait(
                    self.not_full, lambda: self._qsize() <= self.maxsize // 2, block, timeout):  # half of it taken
                raise queue.Full
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()
        self.waker.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> list[Delivery] | None:
        with self.not_empty:
            if not _wait(self.not_empty, self._qsize, block, timeout):
                raise queue.Empty
            item = self._get()
            if self._qsize() <= self.maxsize // 2:
                self.not_full.notify()
            return item
