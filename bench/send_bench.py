"""Sending speed and memory, measured against Postfix's ``smtp-sink`` (a fast SMTP sink), in one run.

1. ``solidarity-mailer``'s whole path: ``deliver_run`` for 10,000 recipients of the seed campaign
   (render once, enqueue in the SQLite ledger, personalise text+html per recipient, commit
   ``sending``/``sent`` per message, N connections).
2. The baseline: a plain ``smtplib`` loop over the same 10,000 messages PREBUILT in memory, with the
   same number of connections (threads), no ledger.
3. Peak RSS of ``deliver_run`` for 100,000 recipients, in a subprocess (``resource.getrusage``).

Prints msgs/s for both and the ratio (target >= 0.75), the time ``deliver_run`` spent enqueuing the list,
and the peak RSS (target < 100 MB) of the dispatcher and of its whole process tree (sender processes).
Installs Debian's ``postfix`` package for ``/usr/sbin/smtp-sink`` if missing (never starts postfix).

    python bench/send_bench.py [--messages 10000] [--connections 4] [--rss-recipients 100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from solidarity_mailer.ports import free_port  # noqa: E402

SINK = "/usr/sbin/smtp-sink"


SMTPLIB_LOOP = '''
import pickle, smtplib, sys, threading, time
port, connections, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "rb") as fh:
    messages = pickle.load(fh)
shares = [messages[i::connections] for i in range(connections)]
def loop(share):
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for mail_from, rcpt, data in share:
            smtp.sendmail(mail_from, [rcpt], data)
threads = [threading.Thread(target=loop, args=(s,)) for s in shares]
cpu, wall = time.process_time(), time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(time.perf_counter() - wall, time.process_time() - cpu)
'''


def smtplib_loop(port: int, messages_file: Path, connections: int, *, core: int | None = None) -> tuple[float, float]:
    """The baseline: a fresh Python process (held to ``core`` if given) whose threads, one per connection, send the
    pickled ``(mail_from, rcpt, data)`` messages with ``smtplib`` over reused connections; (seconds, CPU seconds)
    of its loop alone."""
    pin = ["taskset", "-c", str(core)] if core is not None else []
    done = subprocess.run([*pin, sys.executable, "-c", SMTPLIB_LOOP, str(port), str(connections), str(messages_file)],
                          capture_output=True, text=True, check=True)
    wall, cpu = (float(v) for v in done.stdout.split())
    return wall, cpu


def ensure_smtp_sink() -> str:
    """The path of smtp-sink, installing Debian's postfix package for it when missing."""
    if Path(SINK).exists():
        return SINK
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select No configuration\n",
                   check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "postfix"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return SINK


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """smtp-sink on 127.0.0.1:port (backlog 1000); as root it must drop privileges (-u nobody)."""
    args = [ensure_smtp_sink()]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen([*args, f"127.0.0.1:{port}", "1000"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("smtp-sink did not start")


def make_project(root: Path, port: int, n: int, connections: int) -> tuple[Path, Path]:
    from tests.sendkit import addresses, write_project

    campaign, config = write_project(root, port, addresses(n), concurrency=connections, max_attempts=3)
    return campaign, config


def run_ours(root: Path, port: int, n: int, connections: int, *, project: tuple[Path, Path] | None = None,
             ) -> tuple[float, float, dict[str, int]]:
    """deliver_run end to end (render, enqueue, send with the ledger); returns (seconds, seconds of them spent
    enqueuing the lists, ledger counts). ``project`` (campaign, config) is one written beforehand."""
    from tests.sendkit import settings_for

    from solidarity_mailer.deliver.dispatcher import deliver_run
    from solidarity_mailer.deliver.manual_send import open_manual_run
    from solidarity_mailer.deliver.prepare import find_campaign
    from solidarity_mailer.ledger.schema import connect

    campaign_path, config = project or make_project(root, port, n, connections)
    settings = settings_for(config)
    engine = connect(settings.database_url)
    run_id = open_manual_run(engine, find_campaign(str(campaign_path))).run_id
    started = time.perf_counter()
    summary = deliver_run(engine, run_id, settings)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, summary.enqueue_seconds, summary.counts


def prebuilt(root: Path, port: int, n: int) -> list[tuple[str, str, bytes]]:
    """The same campaign's n messages, built beforehand (not timed)."""
    from tests.sendkit import settings_for

    from solidarity_mailer.audience.lists import ListReader
    from solidarity_mailer.deliver.prepare import find_campaign, make_factory
    from solidarity_mailer.render.once import render_once

    campaign_path, config = make_project(root, port, n, 1)
    campaign = find_campaign(str(campaign_path))
    factory = make_factory(campaign, render_once(campaign), settings_for(config), 1)
    out = []
    for r in ListReader(campaign.lists[0]):
        m = factory.build(r)  # type: ignore[arg-type]
        out.append((m.mail_from, m.rcpt, m.data))
    return out


def run_smtplib(port: int, messages: list[tuple[str, str, bytes]], connections: int, *,
                transport: bool = False) -> float:
    """A plain smtplib loop over prebuilt messages, one thread and connection each; returns seconds.

    ``transport=True`` runs the same loop through our ``SmtpTransport`` instead (no ledger, no build).
    """
    from solidarity_mailer.transports.smtp import SmtpTransport

    shares = [messages[i::connections] for i in range(connections)]

    def loop(share: list[tuple[str, str, bytes]]) -> None:
        if transport:
            t = SmtpTransport("127.0.0.1", port)
            for mail_from, rcpt, data in share:
                t.send(mail_from, [rcpt], data)
            t.close()
            return
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for mail_from, rcpt, data in share:
                smtp.sendmail(mail_from, [rcpt], data)

    threads = [threading.Thread(target=loop, args=(s,)) for s in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def _tree_memory_kb() -> tuple[int, int]:
    """The summed RSS and PSS (KB) of this process and all its descendants (the launcher, the senders).
    PSS splits each shared page among the processes sharing it: the tree's real footprint."""
    import psutil

    me = psutil.Process()
    rss = pss = 0
    for proc in (me, *me.children(recursive=True)):
        try:
            info = proc.memory_full_info()
        except psutil.Error:  # it ended meanwhile
            continue
        rss, pss = rss + info.rss, pss + info.pss
    return rss // 1024, pss // 1024


def child_rss(campaign: str, config: str, port: int, n: int, connections: int) -> None:
    """In a subprocess: deliver the project's n recipients (written by the parent, so that writing the list
    is not counted), print the peak RSS in MB of this process and of its whole tree.

    The dispatcher's peak is its own high-water mark (``VmHWM``; ``getrusage``'s ``ru_maxrss`` would include
    the parent's size at fork time, which Linux keeps across ``exec``). The tree's (dispatcher + launcher +
    sender processes) is the highest sum of their PSS (and of their RSS, which counts shared pages in each
    process) sampled every 50 ms.
    """
    peak_tree = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            rss, pss = _tree_memory_kb()
            peak_tree[:] = [max(peak_tree[0], rss), max(peak_tree[1], pss)]

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    project = (Path(campaign), Path(config))
    seconds, _, counts = run_ours(Path(campaign).parent, port, n, connections, project=project)
    done.set()
    sampler.join()
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    print(f"{peak_kb / 1024:.1f} {peak_tree[0] / 1024:.1f} {peak_tree[1] / 1024:.1f} {seconds:.2f} {counts['sent']}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rss-recipients", type=int, default=100_000, help="0: skip the memory run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--child-rss", nargs=3, metavar=("CAMPAIGN", "CONFIG", "PORT"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    os.environ.setdefault("SOLIDARITY_MAILER_SECRET", "bench-secret-0123456789abcdef")
    if args.child_rss:
        campaign, config, port = args.child_rss
        child_rss(campaign, config, int(port), args.rss_recipients, args.connections)
        return
    port = free_port()
    sink = start_sink(port)
    tmp = Path(tempfile.mkdtemp(prefix="send-bench-"))
    try:
        n, c = args.messages, args.connections
        messages = prebuilt(tmp / "prebuilt", port, n)
        size = sum(len(m[2]) for m in messages) / n
        ours, base, bare, enqueue = [], [], [], []
        for i in range(args.rounds):
            base.append(run_smtplib(port, messages, c))
            bare.append(run_smtplib(port, messages, c, transport=True))
            seconds, enqueuing, counts = run_ours(tmp / f"ours-{i}", port, n, c)
            if counts["sent"] != n:
                raise SystemExit(f"solidarity-mailer sent {counts['sent']} of {n}: {counts}")
            ours.append(seconds)
            enqueue.append(enqueuing)
        del messages  # the child's memory is measured on its own, but keep the machine's free
        ours_rate, base_rate, bare_rate = n / min(ours), n / min(base), n / min(bare)
        print(f"{n} messages of {size / 1024:.1f} KB (text+html), {c} connections, smtp-sink on 127.0.0.1:{port}")
        print(f"  smtplib loop, prebuilt messages:  {base_rate:8.0f} msgs/s  (best of {args.rounds})")
        print(f"  SmtpTransport loop, prebuilt:     {bare_rate:8.0f} msgs/s  (our transport alone: no build, no "
              "ledger)")
        print(f"  solidarity-mailer deliver_run:    {ours_rate:8.0f} msgs/s  (render + enqueue + ledger; best of"
              f" {args.rounds})")
        best = ours.index(min(ours))
        sending = n / (ours[best] - enqueue[best])
        print(f"    of which enqueuing the list:    {enqueue[best]:8.2f} s    (read, validate, insert {n} rows)")
        print(f"    sending alone:                  {sending:8.0f} msgs/s  (ratio {sending / base_rate:.2f})")
        print(f"  ratio: {ours_rate / base_rate:.2f} (target >= 0.75)")
        if not args.rss_recipients:
            return
        rss_dir = tmp / "rss"
        rss_dir.mkdir()
        campaign, config = make_project(rss_dir, port, args.rss_recipients, c)
        out = subprocess.run([sys.executable, __file__, "--child-rss", str(campaign), str(config), str(port),
                              "--rss-recipients", str(args.rss_recipients), "--connections", str(c)],
                             capture_output=True, text=True, check=True).stdout.split()
        peak, rss, pss, seconds = float(out[0]), float(out[1]), float(out[2]), float(out[3])
        sent = int(out[4])
        if sent != args.rss_recipients:
            raise SystemExit(f"the memory run sent {sent} of {args.rss_recipients}")
        print(f"  peak RSS for {args.rss_recipients} recipients: dispatcher {peak:.1f} MB (target < 100 MB); "
              f"with the launcher and {c} sender processes {pss:.1f} MB PSS ({rss:.1f} MB summed RSS, shared "
              f"pages counted in each); sent {sent} in {seconds:.0f}s ({sent / seconds:.0f} msgs/s)")
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
