"""The shared rate limit's cost: sending with the limit kept in the ledger against the in-process one, in one run.

For each ledger (SQLite file; PostgreSQL: a throwaway cluster as in the tests, or ``SOLIDARITY_MAILER_TEST_PG``),
``deliver_run`` sends ``--messages`` recipients of the seed campaign to Postfix's ``smtp-sink`` with
``--connections`` connections, three ways, alternating, the best of ``--rounds``:

1. no limit (``per_second = 0``): the baseline;
2. ``per_second = --limit`` (high: the limit never holds a message back, but every message goes through it)
   in this process alone (``MemorySlots``, as before the limit was shared);
3. the same limit shared through the ledger (``LedgerSlots``: a reservation of slots about ten times a second).

Prints msgs/s of each and the ratios shared/in-process and shared/none, then the time of one reservation in the
ledger (``ledger/rate_limits.py``; hourly part on), the best and the median of ``--reservations``.

    python bench/rate_limit_bench.py [--messages 10000] [--connections 4] [--limit 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.send_bench import make_project, run_ours, start_sink  # noqa: E402
from tests import databases, postgres  # noqa: E402

from solidarity_mailer.deliver import dispatcher  # noqa: E402
from solidarity_mailer.deliver.rate_limit import RateLimiter, shared_limiter  # noqa: E402
from solidarity_mailer.ledger.rate_limits import reserve  # noqa: E402
from solidarity_mailer.ledger.schema import connect  # noqa: E402
from solidarity_mailer.ports import free_port  # noqa: E402

WAYS = ("none", "in-process", "shared")


def in_process(engine: object, key: str, per_second: float, per_hour: int, *, clock: Callable[[], float],
               sleep: Callable[[float], None] = time.sleep) -> RateLimiter:
    """The limiter of this process alone, evenly spaced (what ``shared_limiter`` is compared with)."""
    return RateLimiter(per_second, per_hour, clock=clock, sleep=sleep, burst=1)


def one_send(root: Path, port: int, args: argparse.Namespace, way: str) -> float:
    """msgs/s of one ``deliver_run`` the ``way`` named (a fresh project and ledger)."""
    limit = 0 if way == "none" else args.limit
    campaign, config = make_project(root, port, args.messages, args.connections)
    config.write_text(config.read_text(encoding="utf-8").replace("per_second = 0\n", f"per_second = {limit}\n"),
                      encoding="utf-8")
    dispatcher.shared_limiter = in_process if way == "in-process" else shared_limiter  # type: ignore[assignment]
    seconds, enqueue, counts = run_ours(root, port, args.messages, args.connections, project=(campaign, config))
    if counts["sent"] != args.messages:
        raise SystemExit(f"{way}: sent {counts['sent']} of {args.messages}")
    return args.messages / (seconds - enqueue)


def reservation_ms(root: Path, count: int) -> tuple[float, float]:
    """The best and median milliseconds of one reservation of 10 slots (hourly part on) in ``root``'s ledger."""
    engine = connect(databases.ledger_url(root))
    times = []
    for _ in range(count):
        started = time.perf_counter()
        reserve(engine, "delivery", spacing=1e-6, per_hour=10**9, want=10, now=time.time())
        times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return min(times), statistics.median(times)


def measure(kind: str, port: int, args: argparse.Namespace) -> None:
    databases.use(kind)
    best = dict.fromkeys(WAYS, 0.0)
    for round_ in range(args.rounds):
        for way in WAYS:
            with tempfile.TemporaryDirectory() as tmp:
                best[way] = max(best[way], one_send(Path(tmp) / f"{way}{round_}", port, args, way))
    with tempfile.TemporaryDirectory() as tmp:
        fastest, median = reservation_ms(Path(tmp), args.reservations)
    print(f"{kind}: " + ", ".join(f"{way} {best[way]:,.0f} msgs/s" for way in WAYS)
          + f"; shared/in-process {best['shared'] / best['in-process']:.2f}, shared/none "
          f"{best['shared'] / best['none']:.2f}; one reservation {fastest:.2f} ms best, {median:.2f} ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--limit", type=float, default=1_000_000.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reservations", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    os.environ.setdefault("SOLIDARITY_MAILER_SECRET", "bench-secret-0123456789abcdef")
    port = free_port()
    sink = start_sink(port)
    try:
        for kind in args.databases.split(","):
            measure(kind, port, args)
    finally:
        sink.terminate()
        postgres.stop()


if __name__ == "__main__":
    main()
