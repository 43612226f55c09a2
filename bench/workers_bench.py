"""Several workers on PostgreSQL, and SQLite against PostgreSQL, each against Postfix's ``smtp-sink``, in one run.

For 1, 2 and 4 workers on one PostgreSQL ledger, and for one worker on SQLite, a fresh ledger and project of
``--messages`` recipients (25 KB each, ``[delivery] concurrency`` connections per worker), then N
``solidarity-mailer send`` processes of the campaign started together (the first opens the run and enqueues; the
others, 0.5 s later, read the list too, find its rows there and join the run as workers: ``docs/operations.md``,
"Several workers"). Measured: msgs/s (the first start to the last exit) and
CPU milliseconds per message, of the workers' process trees (``wait4``) and with the PostgreSQL server's own
(its postmaster's and backends' CPU, from ``/proc``). The baseline in the same run: the raw ``smtplib`` loop over
the same messages prebuilt, with the same connections (threads), unpinned as the workers are. Every worker
process (and the server) shares the machine's cores with the others and with the sink.

The PostgreSQL server is ``SOLIDARITY_MAILER_TEST_POSTGRES`` (a URL whose user may ``CREATE DATABASE``), else a
throwaway cluster in a temporary folder with the durable defaults (``fsync``, ``synchronous_commit`` on, as the
SQLite ledger's ``synchronous=FULL``), on a Unix socket only.

    python bench/workers_bench.py [--messages 20000] [--connections 4] [--workers 1 2 4] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from bench.send_bench import make_project, prebuilt, smtplib_loop, start_sink  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402
from tests.postgres import _as_server_user, _bin  # noqa: E402
from tests.sendkit import SECRET  # noqa: E402

from solidarity_mailer.ledger.schema import connect  # noqa: E402
from solidarity_mailer.ports import free_port  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
def start_server(directory: Path) -> tuple[URL, Path | None]:
    """The PostgreSQL server to use, and the data folder of the cluster started for it (None: one given)."""
    given = os.environ.get("SOLIDARITY_MAILER_TEST_POSTGRES")
    if given:
        return make_url(given), None
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    quiet = {"check": True, "capture_output": True, "text": True}
    subprocess.run(_as_server_user([_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                    "--no-locale"]), **quiet)  # type: ignore[call-overload]
    options = f"-k {directory} -c listen_addresses='' -c max_connections=200"
    subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w", "-o",
                                    options, "start"]), **quiet)  # type: ignore[call-overload]
    return URL.create("postgresql+psycopg", username="postgres", database="postgres",
                      query={"host": str(directory)}), data


def stop_server(data: Path | None) -> None:
    if data is not None:
        subprocess.run(_as_server_user([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), check=False,
                       capture_output=True)


def fresh_database(server: URL, name: str) -> str:
    """A new empty database on ``server`` with this release's ledger in it; its URL."""
    params = {"dbname": server.database, "user": server.username, "password": server.password, "host": server.host,
              "port": server.port, **server.query}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = server.set(database=name).render_as_string(hide_password=False)
    connect(url).dispose()  # `db init`
    return url


def server_cpu(data: Path | None) -> float:
    """CPU seconds of the cluster so far: its postmaster's own and its reaped backends' (0.0 for a given server)."""
    if data is None:
        return 0.0
    pid = int((data / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    live = sum(child_cpu(int(child)) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS + live


def child_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # it ended meanwhile (its time is the postmaster's now)
        return 0.0
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def run_workers(root: Path, port: int, n: int, connections: int, workers: int, database: str) -> tuple[float, float]:
    """``workers`` send processes of one fresh project on ``database``; (seconds, CPU seconds of their trees)."""
    campaign, config = make_project(root, port, n, connections)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
    env["SOLIDARITY_MAILER_SECRET"] = SECRET
    if database:  # else the project's own SQLite ledger
        env["SOLIDARITY_MAILER_DATABASE"] = database
    command = [str(Path(sys.executable).parent / "solidarity-mailer"), "send", str(campaign), "--config", str(config)]
    started = time.perf_counter()
    procs = []
    for i in range(workers):
        procs.append(subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        if i == 0 and workers > 1:
            time.sleep(0.5)  # the first opens the run and enqueues; the others join it
    cpu = 0.0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"a worker failed: {proc.stderr.read().decode() if proc.stderr else ''}")
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu


def sent_count(database: str) -> int:
    from sqlalchemy import func, select

    from solidarity_mailer.ledger.schema import deliveries

    engine = connect(database)
    with engine.connect() as conn:
        sent = int(conn.execute(select(func.count()).where(deliveries.c.state == "sent")).scalar_one())
    engine.dispose()
    return sent


def measure(tmp: Path, server: tuple[URL, Path | None], port: int, args: argparse.Namespace, setup: str,
            workers: int) -> tuple[float, float, float]:
    """One setup ("sqlite" or "postgresql") with ``workers`` workers: (msgs/s, CPU ms/msg, with the server's)."""
    n = args.messages
    root = tmp / f"{setup}-{workers}-{time.monotonic_ns()}"
    database = fresh_database(server[0], f"bench_{root.name.replace('-', '_')}") if setup == "postgresql" else ""
    before = server_cpu(server[1]) if database else 0.0
    seconds, cpu = run_workers(root, port, n, args.connections, workers, database)
    served = server_cpu(server[1]) - before if database else 0.0
    sent = sent_count(database or f"sqlite:///{root / 'ledger.db'}")  # (tests/sendkit.py's project)
    if sent != n:
        raise SystemExit(f"{setup} with {workers} workers sent {sent} of {n}")
    return n / seconds, 1000 * cpu / n, 1000 * (cpu + served) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4, help="[delivery] concurrency of each worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=1, help="rounds; the best of each setup is kept")
    args = parser.parse_args()
    os.environ["SOLIDARITY_MAILER_SECRET"] = SECRET
    import compileall

    compileall.compile_dir(REPO / "src", quiet=1)  # as installed: byte code cached
    port = free_port()
    sink = start_sink(port)
    tmp = Path(tempfile.mkdtemp(prefix="workers-bench-"))
    server = start_server(tmp)
    setups = [("raw smtplib loop", "baseline", 0), ("SQLite, 1 worker", "sqlite", 1),
              *((f"PostgreSQL, {w} worker{'s' * (w > 1)}", "postgresql", w) for w in args.workers)]
    best: dict[str, tuple[float, float, float]] = {}
    try:
        messages_file = tmp / "messages.pickle"
        messages_file.write_bytes(pickle.dumps(prebuilt(tmp / "prebuilt", port, args.messages)))
        for _ in range(args.rounds):
            for label, setup, workers in setups:
                if setup == "baseline":
                    wall, cpu = smtplib_loop(port, messages_file, args.connections)
                    got = (args.messages / wall, 1000 * cpu / args.messages, 1000 * cpu / args.messages)
                else:
                    got = measure(tmp, server, port, args, setup, workers)
                old = best.get(label, (0.0, float("inf"), float("inf")))
                best[label] = (max(old[0], got[0]), min(old[1], got[1]), min(old[2], got[2]))
                print(f"{label}: {got[0]:.0f} msgs/s, {got[1]:.3f} ms CPU/msg ({got[2]:.3f} with the server)",
                      flush=True)
    finally:
        sink.kill()
        stop_server(server[1])
        shutil.rmtree(tmp, ignore_errors=True)
    report(best, args, os.cpu_count() or 1)


def report(best: dict[str, tuple[float, float, float]], args: argparse.Namespace, cores: int) -> None:
    base_rate, base_cpu, _ = best["raw smtplib loop"]
    print(f"\n{args.messages} messages of 25 KB, {args.connections} connections per worker, {cores} cores, best of "
          f"{args.rounds}:")
    print(f"{'setup':24} {'msgs/s':>8} {'ratio':>6} {'CPU ms/msg':>11} {'+ server':>9} {'base/ours':>10}")
    for label, (rate, cpu, with_server) in best.items():
        print(f"{label:24} {rate:8.0f} {rate / base_rate:6.2f} {cpu:11.3f} {with_server:9.3f} "
              f"{base_cpu / with_server:10.2f}")
    print("(ratio: msgs/s against the raw loop's; base/ours: the raw loop's CPU per message against ours with the"
          " server's)")


if __name__ == "__main__":
    main()
