"""Write ledger.db with release 0.1.0 of solidarity-mailer: the ledger the migration tests upgrade.

Run against the 0.1.0 code (commit 8eaca5f), not the code of today::

    git worktree add /tmp/v010 8eaca5f
    PYTHONPATH=/tmp/v010/src python tests/data/ledger-0.1.0/make_ledger.py /tmp/l010

It drives the real 0.1.0 command line against a real aiosmtpd server on 127.0.0.1 and leaves, in OUT:
``ledger.db`` (the ledger), ``project/`` (the campaigns, lists, templates and settings it was made with) and
``status.json`` (``status --json`` of each campaign, and ``campaigns --json``, as 0.1.0 printed them). The
committed copy beside this script keeps ``ledger.db``, ``status.json`` and ``project/campaigns``,
``project/recipients``. The ledger holds a finished run
(sent rows, a 5.1.1 failure that suppressed its address), a paused run (5.7.1 policy refusal), a run with an
uncertain row (the connection dropped after the final dot), three schedules (one-off, cron, interval; one
paused) and suppressions of every scope and reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from aiosmtpd.controller import Controller

import solidarity_mailer  # the 0.1.0 code, through PYTHONPATH

SECRET = "ledger-0.1.0-secret-0123456789abcdef"
RESOLUTION = """\
kind = "Resolution"
title = "Solidarity with the struggle of the Peruvian people"
date = 2023-02-07
language = "en"
source = "ICOR"
source_url = ""
paragraphs = ["First paragraph.", "We demand: a, b."]
slogans = ["Solidarity!"]
signatories_heading = "Signatories"
signatories = [{ abbreviation = "A", name = "Alpha" }]
"""


class Handler:
    """Accepts mail; a 5.1.1 for ``gone@``, a policy 5.7.1 for senders of campaign beta, a drop after DATA once."""

    def __init__(self) -> None:
        self.dropped = False

    async def handle_MAIL(self, server, session, envelope, address, options):
        if address.startswith("beta"):
            return "550 5.7.1 Sender not authorised by policy"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("gone@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("drop@") for r in envelope.rcpt_tos) and not self.dropped:
            self.dropped = True
            server.transport.close()
            return None
        return "250 OK queued"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOLIDARITY_MAILER_SECRET": SECRET}
    code = "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=project, env=env, text=True, capture_output=True)
    print(f"$ solidarity-mailer {' '.join(args)}  -> {done.returncode}\n{done.stdout}{done.stderr}", flush=True)
    return done


def write_project(project: Path, port: int) -> None:
    (project / "campaigns").mkdir(parents=True)
    (project / "recipients").mkdir()
    (project / "campaigns" / "peru.resolution.toml").write_text(RESOLUTION, encoding="utf-8")
    lists = {
        "alpha": ["ana@example.org", "bo@example.org", "gone@example.org", "cy@example.net"],
        "beta": ["dee@example.org", "eli@example.org"],
        "gamma": ["fay@example.org", "drop@example.org", "gus@example.org"],
    }
    for name, emails in lists.items():
        rows = "email,name\n" + "".join(f"{e},{e.split('@')[0].title()}\n" for e in emails)
        (project / "recipients" / f"{name}.csv").write_text(rows, encoding="utf-8")
        (project / "recipients" / f"{name}.toml").write_text(
            f'list_id = "{name}.lists.example.org"\nname = "{name.title()}"\n', encoding="utf-8")
        (project / "campaigns" / f"{name}.toml").write_text(
            f'[campaign]\nid = "{name}"\nsubject = "Solidarity ({name})"\n'
            f'from = "{name} <{name}@example.org>"\nresolution = "peru.resolution.toml"\n'
            f'lists = ["../recipients/{name}.csv"]\n', encoding="utf-8")
    (project / "solidarity-mailer.toml").write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 10\nsecurity = "none"\n'
        '[database]\nurl = "sqlite:///ledger.db"\n'
        '[delivery]\nconcurrency = 1\nmax_attempts = 2\nretry_base_seconds = 0.05\nretry_max_seconds = 0.1\n'
        '[web]\npublic_base_url = "https://lists.example.org"\n', encoding="utf-8")


def main(out: Path) -> None:
    project = out / "project"
    shutil.rmtree(project, ignore_errors=True)
    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        write_project(project, port)
        # templates: the 0.1.0 checkout's own (a project folder has templates/ beside campaigns/)
        shutil.copytree(Path(solidarity_mailer.__file__).parents[2] / "templates", project / "templates")
        cli(project, "suppressions", "add", "manual@example.org", "--detail", "asked by phone")
        cli(project, "suppressions", "add", "left@example.org", "--reason", "unsubscribed",
            "--scope", "alpha.lists.example.org")
        assert cli(project, "send", "alpha").returncode == 4  # finished, one failed (5.1.1, suppressed)
        assert cli(project, "send", "beta").returncode == 3  # paused by the policy refusal
        cli(project, "send", "gamma")  # one row uncertain (dropped after the final dot)
        cli(project, "schedule", "alpha", "--at", "2031-03-29 09:00", "--tz", "Europe/Berlin")
        cli(project, "schedule", "beta", "--cron", "0 9 * * mon", "--tz", "America/Lima", "--grace", "600")
        cli(project, "schedule", "gamma", "--every", "1d", "--tz", "Asia/Kolkata")
        cli(project, "pause", "schedule", "2")
        names = ("alpha", "beta", "gamma")
        status = {name: json.loads(cli(project, "status", name, "--json").stdout) for name in names}
        status["campaigns"] = json.loads(cli(project, "campaigns", "--json").stdout)
    finally:
        controller.stop()
    shutil.move(project / "ledger.db", out / "ledger.db")
    (out / "status.json").write_text(json.dumps(status, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
