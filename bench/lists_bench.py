"""Benchmark: read and check a 10,000-row and a 1,000,000-row list; rows/s and peak RSS, as ratios.

Run: ``python bench/lists_bench.py [--rows 1000000] [--small 10000]``

Each measurement runs in a fresh interpreter, so its peak RSS is its own: ``baseline`` is the RSS after
imports, before reading. ``read`` streams the rows through ListReader (validation included): memory
should not grow with the list. ``check`` is ``lists check`` without a database: read plus de-duplication,
whose keys stay in memory up to 20,000 (``SPILL_AT``) and then move to a temporary SQLite file
(audience/seen_addresses.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAMES = ("Ana Quispe", "Jens Müller", "Ayşe Yılmaz", "Ольга Петрова", "Ελένη Παπαδοπούλου", "Smith, Alice", "李华")
LANGS = ("es", "de", "tr", "ru", "el", "en", "zh")


def generate(path: Path, rows: int) -> None:
    """A realistic list: quoted names with commas, non-ASCII names, a city column, distinct addresses."""
    with path.open("w", encoding="utf-8", newline="") as fp:
        fp.write("email,name,lang,city\r\n")
        for i in range(rows):
            k = i % len(NAMES)
            name = NAMES[k]
            name = f'"{name}"' if "," in name else name
            fp.write(f"person.{i}@example.org,{name},{LANGS[k]},City {i % 977}\r\n")


def child(mode: str, path: Path) -> None:
    """Measure one mode in this (fresh) process and print a JSON line."""
    import psutil

    from solidarity_mailer.audience.lists import ListReader
    from solidarity_mailer.audience.recipient import Recipient
    from solidarity_mailer.audience.stream import check_lists

    baseline = psutil.Process().memory_info().rss
    start = time.perf_counter()
    if mode == "read":
        reader = ListReader(path)
        valid = sum(1 for item in reader if isinstance(item, Recipient))
        rows = reader.rows
    else:
        stats = check_lists([path], None)
        valid, rows = stats.valid, stats.rows
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "valid": valid, "seconds": seconds, "baseline": baseline, "peak": peak}))


def measure(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True,
                         text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    mib = 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for rows in (args.small, args.rows):
            path = Path(tmp) / f"list-{rows}.csv"
            generate(path, rows)
            sizes[rows] = path
        print(f"{'mode':6} {'rows':>9} {'rows/s':>9} {'baseline':>9} {'peak RSS':>9} {'peak/base':>9}")
        for mode in ("read", "check"):
            peaks = {}
            for rows, path in sizes.items():
                r = measure(mode, path)
                assert r["rows"] == rows and r["valid"] == rows, r
                peaks[rows] = r["peak"]
                print(f"{mode:6} {rows:>9,} {rows / r['seconds']:>9,.0f} {r['baseline'] / mib:>7.1f}MB "
                      f"{r['peak'] / mib:>7.1f}MB {r['peak'] / r['baseline']:>9.2f}")
            ratio = peaks[args.rows] / peaks[args.small]
            print(f"{mode:6} peak RSS at {args.rows:,} rows / at {args.small:,} rows: {ratio:.2f}")


if __name__ == "__main__":
    main()
