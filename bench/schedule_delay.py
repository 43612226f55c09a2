"""How late does a scheduled one-off go out? Delay from the scheduled instant to the first message received.

Runs a real daemon process (``solidarity-mailer run``) on a temporary SQLite ledger, delivering through
the capture SMTP server (aiosmtpd on 127.0.0.1) to recipients/example.csv. N times it schedules the
shipped campaign a few seconds ahead and measures scheduled instant → first message stored.

Baseline in the same run: ``deliver_run`` called directly (no scheduler), from the call to the first
message: the cost of rendering, connecting and sending that any firing pays. The ratio shows what the
scheduler adds on top.

    python bench/schedule_delay.py [-n 5] [--ahead 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from solidarity_mailer.config import load_settings
from solidarity_mailer.deliver.dispatcher import deliver_run
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect
from solidarity_mailer.paths import starter_project
from solidarity_mailer.schedule.schedules import add_schedule
from solidarity_mailer.transports.capture import CaptureServer

CAMPAIGN = starter_project() / "campaigns" / "peru-solidarity-2023.toml"
MAIN = "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))"


class Arrivals:
    """First-arrival times of messages, reset per measurement."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.event = threading.Event()

    def __call__(self, *_: object) -> None:
        self.times.append(time.time())
        self.event.set()

    def reset(self) -> None:
        self.times.clear()
        self.event.clear()


def wait_finished(engine, run_ids: set[int], timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [ledger.get_run(engine, r).state for r in run_ids]
        if states and all(s == "finished" for s in states):
            return
        time.sleep(0.05)
    raise SystemExit(f"runs {run_ids} did not finish in {timeout:.0f} s")


def summary(values: list[float]) -> str:
    return f"min {min(values):.3f} s, median {statistics.median(values):.3f} s, max {max(values):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="number of scheduled firings (default 5)")
    parser.add_argument("--ahead", type=float, default=3.0, help="schedule this many seconds ahead (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("SOLIDARITY_MAILER_SECRET", "bench-secret-0123456789abcdef")
    tmp = Path(tempfile.mkdtemp(prefix="schedule-delay-"))
    arrivals = Arrivals()
    with CaptureServer(tmp / "outbox", on_message=arrivals) as server:
        config = tmp / "solidarity-mailer.toml"
        config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\n\n[database]\nurl = "sqlite:///'
                          f'{tmp / "bench.db"}"\n\n[delivery]\nper_second = 0\n', encoding="utf-8")
        settings = load_settings(config)
        engine = connect(settings.database_url)
        campaign = find_campaign(str(CAMPAIGN))
        ledger.ensure_campaign(engine, campaign)

        baseline: list[float] = []
        for i in range(args.n):
            arrivals.reset()
            run_id = ledger.open_run(engine, campaign.id, f"bench:direct:{i}", now=ledger.utcnow())
            started = time.time()
            deliver_run(engine, run_id, settings)
            baseline.append(arrivals.times[0] - started)

        log = (tmp / "daemon.log").open("w")
        daemon = subprocess.Popen([sys.executable, "-c", MAIN, "run", "--config", str(config)], stdout=log,
                                  stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            time.sleep(1.5)  # let it start
            delays: list[float] = []
            for _ in range(args.n):
                arrivals.reset()
                at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.ahead)).replace(microsecond=0)
                add_schedule(engine, campaign, at=f"{at:%Y-%m-%d %H:%M:%S}", tz="UTC", now=ledger.utcnow())
                if not arrivals.event.wait(args.ahead + 30):
                    raise SystemExit(f"nothing arrived; see {tmp / 'daemon.log'}")
                delays.append(arrivals.times[0] - at.timestamp())
                runs = {r.id for r in ledger.runs_of(engine, campaign.id) if r.schedule_id is not None}
                wait_finished(engine, runs)
        finally:
            daemon.terminate()
            daemon.wait(30)
            log.close()
    print(f"scheduled one-off, {args.n} firings {args.ahead:.0f} s ahead, 6 recipients, real daemon + capture SMTP")
    print(f"  delay scheduled instant -> first message: {summary(delays)}")
    print(f"  baseline deliver_run call -> first message: {summary(baseline)}")
    print(f"  ratio (median): {statistics.median(delays) / statistics.median(baseline):.2f}x the direct send")


if __name__ == "__main__":
    main()
