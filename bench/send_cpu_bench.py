"""CPU per message: ``solidarity-mailer send`` against a raw smtplib loop, each held to one core, in one run.

Postfix's ``smtp-sink`` takes the mail on core 1 (``taskset -c 1``). On core 0 (``taskset -c 0``), alternately:

1. the baseline: a fresh Python process whose threads (one per connection) send the same messages, built
   beforehand and loaded from a file, with ``smtplib`` over reused connections: its CPU time for the loop;
2. ours: ``solidarity-mailer send`` of the same campaign to the same number of recipients in a fresh project
   (render once, read and validate the list, enqueue in the SQLite ledger, personalise, claim, send, record):
   the CPU time (user + system) of its whole process tree, from ``wait4``.

Our modules' byte code is compiled first (``compileall``), as an installed package has it: with
``PYTHONDONTWRITEBYTECODE`` set, every process of ours would otherwise compile them again at each start.

Prints CPU milliseconds per message for each, the best of ``--rounds``, and the ratio baseline/ours (the target
is >= 0.75: ours at most 1.33x the baseline's CPU).

    python bench/send_cpu_bench.py [--messages 20000] [--connections 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import compileall
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.send_bench import make_project, prebuilt, smtplib_loop, start_sink  # noqa: E402
from tests.sendkit import SECRET  # noqa: E402

from solidarity_mailer.ports import free_port  # noqa: E402


def tree_cpu(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run ``argv`` on core 0 and wait for it; the CPU seconds of it and every descendant it waited for."""
    proc = subprocess.Popen(["taskset", "-c", "0", *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def baseline_cpu(port: int, messages_file: Path, connections: int) -> float:
    return smtplib_loop(port, messages_file, connections, core=0)[1]


def ours_cpu(root: Path, port: int, n: int, connections: int) -> float:
    campaign, config = make_project(root, port, n, connections)  # per_second = 0: no rate limit
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
    env["SOLIDARITY_MAILER_SECRET"] = SECRET
    command = str(Path(sys.executable).parent / "solidarity-mailer")
    return tree_cpu([command, "send", str(campaign), "--config", str(config)], root, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ["SOLIDARITY_MAILER_SECRET"] = SECRET  # the messages are built here first
    compileall.compile_dir(REPO / "src", quiet=1)  # as installed: byte code cached
    port = free_port()
    sink = start_sink(port)
    subprocess.run(["taskset", "-pc", "1", str(sink.pid)], check=True, stdout=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            messages_file = Path(tmp) / "messages.pickle"
            messages_file.write_bytes(pickle.dumps(prebuilt(Path(tmp) / "prebuilt", port, args.messages)))
            best = {"baseline": float("inf"), "ours": float("inf")}
            for n in range(args.rounds):
                base = baseline_cpu(port, messages_file, args.connections)
                ours = ours_cpu(Path(tmp) / f"round{n}", port, args.messages, args.connections)
                best = {"baseline": min(best["baseline"], base), "ours": min(best["ours"], ours)}
                print(f"round {n + 1}: baseline {1000 * base / args.messages:.3f} ms/msg, "
                      f"ours {1000 * ours / args.messages:.3f} ms/msg")
    finally:
        sink.kill()
    print(f"best: baseline {1000 * best['baseline'] / args.messages:.3f} ms/msg, ours "
          f"{1000 * best['ours'] / args.messages:.3f} ms/msg; ratio baseline/ours {best['baseline'] / best['ours']:.2f}"
          " (target >= 0.75)")


if __name__ == "__main__":
    main()
