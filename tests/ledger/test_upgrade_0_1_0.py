"""A ledger written by release 0.1.0 (tests/data/ledger-0.1.0/), through the real command line: refused with one
line until ``db upgrade``, then everything intact; a further ``send`` re-sends nobody; a newer revision refused.
With ``--database postgresql``, the same ledger's rows in a PostgreSQL database of 0.1.0's schema
(``release_0_1_0.ledger_0_1_0``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, update

from solidarity_mailer.ledger.revision import HEAD, version_table
from solidarity_mailer.ledger.schema import campaigns, deliveries, runs
from tests.databases import ledger_url
from tests.ledger.release_0_1_0 import ledger_0_1_0, rows_0_1_0, shown, snapshot
from tests.processes import cli_command
from tests.smtpserver import RecordingHandler, free_port
from tests.starter import TEMPLATES

DATA = Path(__file__).resolve().parents[1] / "data" / "ledger-0.1.0"
SECRET = "ledger-0.1.0-secret-0123456789abcdef"  # the one make_ledger.py signed with
MADE_AT = "/tmp/l010/project"  # where make_ledger.py wrote the project: its runs name their lists there
CAMPAIGNS = ("alpha", "beta", "gamma")
OLDER = ("error: {db}: the ledger's schema is older than this release: it is at 0.1.0 (no revision), this release "
         f"needs revision {HEAD}; back it up, then run `solidarity-mailer db upgrade`")
NEWER = ("error: {db}: the ledger's schema is newer than this release: it is at revision 9999, this release knows "
         f"revisions up to {HEAD}; upgrade solidarity-mailer")
#: commands that open the ledger, each refused the same way (the daemon and the web endpoint too)
OPENING = (("status", "alpha"), ("status", "beta", "--json"), ("send", "gamma"), ("campaigns",),
           ("suppressions", "list"), ("schedule", "alpha", "--every", "1d"), ("run",),
           ("serve", "--port", str(free_port())))


def project(tmp_path: Path, smtp_port: int | None = None) -> Path:
    """The 0.1.0 project and ledger, with templates and a settings file like make_ledger.py's."""
    root = tmp_path / "project"
    shutil.copytree(DATA / "project", root)
    shutil.copytree(TEMPLATES, root / "templates")
    ledger_0_1_0(root)
    (root / "solidarity-mailer.toml").write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port or free_port()}\ntimeout = 10\nsecurity = "none"\n'
        f'[database]\nurl = "{ledger_url(root, relative=True)}"\n'
        '[delivery]\nconcurrency = 1\nmax_attempts = 2\nretry_base_seconds = 0.05\nretry_max_seconds = 0.1\n'
        '[web]\npublic_base_url = "https://lists.example.org"\n', encoding="utf-8")
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
    env["SOLIDARITY_MAILER_SECRET"] = SECRET
    return subprocess.run([*cli_command(), *args], cwd=root, env=env, text=True, capture_output=True, timeout=120)


def states(url: str) -> dict[str, tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {a: (s, n) for a, s, n in conn.execute(select(deliveries.c["address", "state", "attempts"]))}
    finally:
        engine.dispose()


def refused(done: subprocess.CompletedProcess[str], line: str) -> bool:
    return done.returncode == 2 and done.stderr.splitlines() == [line] and done.stdout == ""


def test_every_command_refuses_a_0_1_0_ledger_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    url = ledger_url(root)
    db, saved = shown(url), snapshot(url)
    for args in OPENING:
        done = cli(root, *args)
        assert refused(done, OLDER.format(db=db)), (args, done.returncode, done.stdout, done.stderr)
    assert snapshot(url) == saved
    current = cli(root, "db", "current")
    assert (current.returncode, current.stdout) == (0, f"ledger {db}: 0.1.0 (no revision), older than this "
                                                       f"release's {HEAD}: run `solidarity-mailer db upgrade`\n")
    assert snapshot(url) == saved


def test_db_upgrade_keeps_every_row_and_status_and_is_idempotent(tmp_path: Path) -> None:
    root = project(tmp_path)
    url = ledger_url(root)
    db, before = shown(url), rows_0_1_0(url)
    done = cli(root, "db", "upgrade")
    assert (done.returncode, done.stdout, done.stderr) == (
        0, f"ledger {db}: upgraded from 0.1.0 (no revision) to revision {HEAD}\n", "")
    assert rows_0_1_0(url) == before
    upgraded = snapshot(url)
    again = cli(root, "db", "upgrade")
    assert (again.returncode, again.stdout) == (0, f"ledger {db}: already at revision {HEAD}, nothing to do\n")
    assert snapshot(url) == upgraded  # nothing written
    assert cli(root, "db", "current").stdout == f"ledger {db}: revision {HEAD}, this release's\n"
    expected = json.loads((DATA / "status.json").read_text(encoding="utf-8"))
    for name in CAMPAIGNS:
        printed = cli(root, "status", name, "--json")
        assert printed.returncode == 0, printed.stderr
        report = json.loads(printed.stdout)
        assert {run.pop("already_received") for run in report["runs"]} == {0}  # a later field: none skipped so
        assert all(run.pop("workers") == [] for run in report["runs"])  # a later field: 0.1.0 named no worker
        assert all(run.pop("relays") == [] for run in report["runs"])  # a later field: 0.1.0 recorded no relay
        assert all(sum(map(sum, (c.values() for c in run.pop("languages").values()))) == sum(run["counts"].values())
                   for run in report["runs"])  # a later field: every row counted under a language
        assert {(run.pop("zone"), run.pop("resume_at")) for run in report["runs"]} == {(None, None)}  # later too
        assert {(run.pop("held"), run.pop("held_until")) for run in report["runs"]} == {(0, None)}  # later too
        assert report == expected[name]  # the same runs, states, counts and problems as 0.1.0's
    campaigns = json.loads(cli(root, "campaigns", "--json").stdout)
    assert {s.pop("again") for c in campaigns for s in c["schedules"]} == {False}  # a later field
    assert {str(c.pop("workers")) for c in campaigns} == {"[]"}  # a later field: nothing being sent
    assert campaigns == expected["campaigns"]  # schedules too
    assert rows_0_1_0(url) == before


def test_a_further_send_after_the_upgrade_re_sends_nobody(tmp_path: Path) -> None:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False)
    root = project(tmp_path, controller.port)
    url = ledger_url(root)
    before = states(url)
    done = {state: {a for a, (s, _) in before.items() if s == state} for state in ("sent", "failed", "uncertain")}
    assert all(done.values()) and {a for a, (s, _) in before.items() if s == "pending"} == {
        "dee@example.org", "eli@example.org"}  # the paused run's
    assert cli(root, "db", "upgrade").returncode == 0
    engine = create_engine(url)
    with engine.begin() as conn:  # the project is here, not where it was made: as if it had stayed in place
        conn.execute(update(runs).values(lists=func.replace(runs.c.lists, MADE_AT, str(root))))
        conn.execute(update(campaigns).values(path=func.replace(campaigns.c.path, MADE_AT, str(root))))
    engine.dispose()
    controller.start()
    try:
        for name in CAMPAIGNS:
            assert cli(root, "send", name).returncode in (0, 4), name  # 4: the run has failed recipients
    finally:
        controller.stop()
    assert sorted(handler.recipients()) == ["dee@example.org", "eli@example.org"]
    after = states(url)
    assert {a: after[a] for a in set().union(*done.values())} == {a: before[a] for a in set().union(*done.values())}
    assert after["drop@example.org"] == ("uncertain", 1)
    assert after["dee@example.org"][0] == after["eli@example.org"][0] == "sent"


def test_a_newer_revision_is_refused_by_every_command_and_by_db_upgrade(tmp_path: Path) -> None:
    root = project(tmp_path)
    url = ledger_url(root)
    db = shown(url)
    assert cli(root, "db", "upgrade").returncode == 0
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(update(version_table).values(version_num="9999"))
    engine.dispose()
    saved = snapshot(url)
    for args in (*OPENING, ("db", "upgrade")):
        done = cli(root, *args)
        assert refused(done, NEWER.format(db=db)), (args, done.returncode, done.stdout, done.stderr)
    assert snapshot(url) == saved
    current = cli(root, "db", "current")
    assert current.stdout == (f"ledger {db}: revision 9999, newer than this release, which knows revisions up to "
                              f"{HEAD}\n")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_db_on_a_ledger_that_does_not_exist_creates_nothing(tmp_path: Path, command: str) -> None:
    config = tmp_path / "solidarity-mailer.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "new" / "ledger.db"}"\n', encoding="utf-8")
    done = cli(tmp_path, "db", command, "--config", str(config))
    line = (f"error: {tmp_path / 'new' / 'ledger.db'}: no ledger here: the file does not exist; nothing was created "
            "(correct the URL, or create the ledger with `solidarity-mailer db init`)")
    assert refused(done, line), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solidarity-mailer.toml"]
