"""The cost of the once-per-content guard on each claim (ledger/received_content.py), in one run.

A ledger (SQLite file, WAL, ``synchronous=FULL`` as in production) holds an earlier run of the campaign that sent
the same content to ``--earlier`` addresses. Then runs of ``--rows`` new recipients (each run its own) are claimed
and recorded ``sent`` through the real :class:`LedgerWriter`, ``--batch`` rows per COMMIT as the claim loop does:
one with the guard (a normal run: every claim looks for the address in the other runs), one without
(``again``). Rounds alternate; the best of each is kept. Hold it to one core to compare CPU cost::

    taskset -c 0 python bench/claim_guard_bench.py [--rows 10000] [--earlier 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from solidarity_mailer.audience.recipient import Recipient  # noqa: E402
from solidarity_mailer.ledger import queries as ledger  # noqa: E402
from solidarity_mailer.ledger.received_content import record_content  # noqa: E402
from solidarity_mailer.ledger.schema import campaigns, connect, deliveries  # noqa: E402
from solidarity_mailer.ledger.writer import LedgerWriter  # noqa: E402

NOW = ledger.utcnow()


def recipients(start: int, count: int) -> list[Recipient]:
    return [Recipient(email=f"r{i:07d}@example.org", key=f"r{i:07d}@example.org",
                      ascii_email=f"r{i:07d}@example.org", list_id="l") for i in range(start, start + count)]


def claim_all(engine, run_id: int, batch: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Seconds to claim and record every row of the run; how many were claimed."""
    rows = [row.address for row in ledger.due_batch(engine, run_id, now=NOW, limit=10**9)]
    writer = LedgerWriter(engine, run_id).start()
    claimed = 0
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        results = writer.claim_many([(a, f"<{a}>", NOW) for a in chunk])
        for address, result in zip(chunk, results, strict=True):
            if result is ledger.Claim.CLAIMED:
                claimed += 1
                writer.outcome(address, "sent", "250 ok", NOW)
    writer.close()
    return time.perf_counter() - started, claimed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--earlier", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = connect(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        with engine.begin() as conn:
            conn.execute(campaigns.insert().values(id="c", path="c.toml", created_at=NOW))
        earlier = ledger.open_run(engine, "c", "earlier", now=NOW)
        record_content(engine, earlier, "digest")
        ledger.enqueue(engine, earlier, recipients(0, args.earlier), now=NOW)
        with engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.run_id == earlier).values(state="sent"))
        best = {"guarded": float("inf"), "again": float("inf")}
        for n in range(args.rounds):
            for kind in ("guarded", "again"):
                run_id = ledger.open_run(engine, "c", f"{kind}:{n}", now=NOW, again=kind == "again")
                record_content(engine, run_id, "digest")
                start = args.earlier + (2 * n + (kind == "again")) * args.rows
                ledger.enqueue(engine, run_id, recipients(start, args.rows), now=NOW)
                seconds, claimed = claim_all(engine, run_id, args.batch)
                best[kind] = min(best[kind], seconds)
                print(f"round {n + 1} {kind}: {args.rows / seconds:,.0f} rows/s ({claimed:,} claimed)")
    print(f"best: guarded {args.rows / best['guarded']:,.0f} rows/s, again (no guard) {args.rows / best['again']:,.0f}"
          f" rows/s; ratio guarded/again {best['again'] / best['guarded']:.2f}")


if __name__ == "__main__":
    main()
