"""Bad input never ends in a traceback (issue 12): a table of hostile invocations through the real CLI.

Each row writes a small project (a campaign, a list, a settings file pointing at a real aiosmtpd relay, a
seeded SQLite ledger), runs one command line, and checks:

- the exit status;
- the shape of the error output: ``line`` = exactly one non-empty line on stderr, ``error: …``, naming the
  culprit (the file and line, or the option); ``usage`` = click's usage error, whose last line
  ``Error: …`` names the option; ``rows`` = one ``file:line: …`` line per bad row (and a summary or one
  ``error:`` line), as documented for lists;
- no traceback anywhere, and no raw control character (ESC, BEL, C1, DEL…) in any output;
- the SMTP relay saw no session at all, and the ledger's rows are as before (or, for a mistyped
  database location, no ledger and no folder were created).

Rows that fail today are strict xfails whose reason says what happens instead: the work plan for issue 12.
When a hole is fixed its row passes, the strict xfail fails, and the fixer removes the mark.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.cli.hostile_rows import CONTROL, ROWS, Row
from tests.hostile_project import (
    RECIPIENTS,
    Outcome,
    SessionCountingHandler,
    ledger_contents,
    make_project,
    run_in_process,
    run_subprocess,
)
from tests.sendkit import clean_environment
from tests.smtpserver import RecordingHandler, free_port, smtp_server


@pytest.fixture(scope="module")
def relay() -> Iterator[tuple[Controller, SessionCountingHandler]]:
    """One real SMTP relay for the whole table: every row checks that it saw no new session."""
    with smtp_server(SessionCountingHandler()) as (controller, handler):
        yield controller, handler  # type: ignore[misc]


def shape_problems(case: Row, outcome: Outcome) -> list[str]:
    """What is wrong with the shape of the error output (empty when it has the row's shape and names the
    culprit)."""
    err_lines = [line for line in outcome.err.splitlines() if line.strip()]
    out_lines = [line for line in outcome.out.splitlines() if line.strip()]
    if case.shape == "line":
        if len(err_lines) != 1 or not err_lines[0].startswith("error: "):
            return [f"not one `error:` line on stderr ({len(err_lines)} lines)"]
        return [] if re.search(case.culprit, err_lines[0]) else [f"the error line does not match {case.culprit!r}"]
    if case.shape == "usage":
        if not err_lines or not err_lines[-1].startswith("Error: "):
            return ["not a usage error"]
        return [] if re.search(case.culprit, err_lines[-1]) else [f"the usage error does not match {case.culprit!r}"]
    named = any(re.search(case.culprit, line) for line in err_lines + out_lines)  # rows: one line per bad row
    return [] if named else [f"no line matches {case.culprit!r}"]


@pytest.mark.parametrize("case", ROWS)
def test_hostile_invocation(case: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capfd: pytest.CaptureFixture[str],
                            relay: tuple[Controller, SessionCountingHandler]) -> None:
    controller, handler = relay
    clean_environment(tmp_path, monkeypatch)
    project = make_project(tmp_path, controller.port)
    ledger_before = ledger_contents(project.ledger)
    smtp_before = handler.touched()
    with project.stack:
        argv = case.build(project)
        for name, value in project.env.items():
            if value:
                monkeypatch.setenv(name, value)
            else:
                monkeypatch.delenv(name, raising=False)
        if case.process:
            outcome = run_subprocess(argv, tmp_path, project.env, case.timeout)
        else:
            outcome = run_in_process(argv, capfd)
    output = outcome.out + outcome.err
    problems = [f"exit status {outcome.status}, not {case.status}"] if outcome.status != case.status else []
    problems += ["a traceback"] if "Traceback" in output else shape_problems(case, outcome)
    problems += ["raw control characters in the output"] if CONTROL.search(output) else []
    problems += [f"{secret!r} is shown" for secret in case.forbid if secret in output]
    sessions, messages = (now - before for now, before in zip(handler.touched(), smtp_before, strict=True))
    problems += [f"the relay saw {sessions} session(s), {messages} message(s)"] if sessions or messages else []
    problems += ["the ledger changed"] if ledger_contents(project.ledger) != ledger_before else []
    problems += [f"{path} was created" for path in project.absent if path.exists()]
    assert not problems, "; ".join(problems) + "\n" + outcome.describe()


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) >= 40


# --- beyond the table: output after a legitimate run --------------------------------------------------------

def cli(capfd: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    return run_in_process(list(argv), capfd)


def test_a_short_outage_is_never_reported_as_0_min(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    clean_environment(tmp_path, monkeypatch)
    project = make_project(tmp_path, free_port())  # nothing listens there
    project.configure("retry_max_seconds = 0.2", "retry_max_seconds = 0.2\nunreachable_pause_seconds = 1")
    outcome = cli(capfd, "send", str(project.campaign))
    assert outcome.status == 3, outcome.describe()  # paused
    assert "unreachable for" in outcome.out + outcome.err, outcome.describe()
    status = cli(capfd, "status", "test")
    for text in (outcome.out + outcome.err, status.out):
        assert not re.search(r"\b0 min\b", text), outcome.describe() + status.describe()


HOSTILE_REPLY = "550 5.1.1 \x1b]0;owned\x07\x1b[2J no such user"


def test_a_relay_reply_cannot_drive_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    clean_environment(tmp_path, monkeypatch)
    handler = RecordingHandler(rcpt_replies={RECIPIENTS[0]: [HOSTILE_REPLY]})
    with smtp_server(handler) as (controller, _):
        project = make_project(tmp_path, controller.port)
        sent = cli(capfd, "send", str(project.campaign))
    assert sent.status == 4, sent.describe()  # a failed recipient
    status = cli(capfd, "status", "test")
    assert status.status == 0 and RECIPIENTS[0] in status.out, status.describe()
    raw = [name for name, o in (("send", sent), ("status", status)) if CONTROL.search(o.out + o.err)]
    assert not raw, f"raw control characters from {raw}\n{sent.describe()}\n{status.describe()}"


def test_a_campaign_file_name_cannot_drive_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capfd: pytest.CaptureFixture[str],
                                                        relay: tuple[Controller, SessionCountingHandler]) -> None:
    clean_environment(tmp_path, monkeypatch)
    project = make_project(tmp_path, relay[0].port)
    evil = project.write("campaigns/evil\x1b]0;owned\x07.toml", project.campaign.read_text(encoding="utf-8"))
    scheduled = cli(capfd, "schedule", evil, "--every", "1h")
    assert scheduled.status == 0, scheduled.describe()
    shown = cli(capfd, "campaigns")
    assert shown.status == 0 and "test" in shown.out, shown.describe()
    raw = [name for name, o in (("schedule", scheduled), ("campaigns", shown)) if CONTROL.search(o.out + o.err)]
    assert not raw, f"raw control characters from {raw}\n{scheduled.describe()}\n{shown.describe()}"


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i`` (even root cannot write there) for the block; skips the test where that is impossible."""
    done: list[Path] = []
    try:
        for path in paths:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("chattr +i is not available here")
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_status_reads_a_ledger_in_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     relay: tuple[Controller, SessionCountingHandler]) -> None:
    clean_environment(tmp_path, monkeypatch)
    project = make_project(tmp_path, relay[0].port)
    sent = run_subprocess(["send", str(project.campaign)], tmp_path, {}, 60)
    assert sent.status == 0, sent.describe()
    before = ledger_contents(project.ledger)
    with immutable(project.ledger, tmp_path):
        with pytest.raises(PermissionError):
            (tmp_path / "probe").touch()  # the folder really is read-only, even for root
        outcome = run_subprocess(["status", "test"], tmp_path, {}, 60)
    assert outcome.status == 0 and re.search(r"run 1 .*sent 2", outcome.out), outcome.describe()
    assert ledger_contents(project.ledger) == before
