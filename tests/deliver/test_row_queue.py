"""The feeder's queue (deliver/row_queue.py): full, a put waits until half of it was taken, so the feeder is woken
once per half a queue; the waker tells the claim loop of each list."""

from __future__ import annotations

import queue
import select
import threading

import pytest

from solidarity_mailer.deliver.row_queue import RowQueue


def test_a_put_on_a_full_queue_waits_until_half_of_it_was_taken() -> None:
    rows = RowQueue(maxsize=4)
    for _ in range(4):
        rows.put([])
    assert select.select([rows.waker], [], [], 0)[0]  # readable: lists came
    with pytest.raises(queue.Full):
        rows.put([], block=False)
    with pytest.raises(queue.Full):
        rows.put([], timeout=0.01)
    done = threading.Event()
    putter = threading.Thread(target=lambda: (rows.put(None), done.set()))
    putter.start()
    rows.get_nowait()
    assert not done.wait(0.2)  # three left: more than half
    rows.get_nowait()
    assert done.wait(5)  # two left: it goes on
    putter.join()
    assert rows.qsize() == 3
    for _ in range(3):
        rows.get()
        rows.task_done()
    rows.task_done()
    rows.task_done()
    with pytest.raises(queue.Empty):
        rows.get_nowait()
    with pytest.raises(queue.Empty):
        rows.get(timeout=0.01)
    rows.join()  # every list taken was done
    rows.waker.clear()
    assert not select.select([rows.waker], [], [], 0)[0]
    rows.waker.close()
