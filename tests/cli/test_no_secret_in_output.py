"""No secret appears in any output, log or error (issue 12, hole 10).

One known secret is put in every place a secret can go: the SMTP password (the variable ``password_env``
names, and the default one), the unsubscribe and bounce-tag secret, the password of the database URL, and a
password pasted by mistake into ``password_env``. Then the real console script runs the commands a user
runs (send, its dry run and test copy, status, campaigns, lists check, bounces import, suppressions export,
schedule, the daemon, serve) against a real relay that checks that password, and every byte they print,
and the daemon's log, is searched for the secret.
"""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.daemonproc import local_at, wait_for
from tests.hostile_project import Project, make_project, run_subprocess
from tests.processes import cli_command
from tests.sendkit import REPO, clean_environment
from tests.smtpserver import Credentials, RecordingHandler, free_port, smtp_server

pytestmark = pytest.mark.slow

SECRET = "Kq7NotForYourEyes3vXw9"  # long enough for SOLIDARITY_MAILER_SECRET, and it looks like a variable name
BOUNCE = REPO / "tests" / "data" / "bounces" / "dsn_01.eml"


def secret_environment(project: Project) -> dict[str, str]:
    """The relay's password in both variables, the signing secret, and a database URL holding a password."""
    project.configure('timeout = 10', 'timeout = 10\nusername = "mailer"\npassword_env = "RELAY_PASSWORD"')
    project.configure("[web]", '[sender]\nbounce_address = "bounces@example.org"\n\n[web]')
    return {"RELAY_PASSWORD": SECRET, "SOLIDARITY_MAILER_SMTP_PASSWORD": SECRET, "SOLIDARITY_MAILER_SECRET": SECRET,
            "SOLIDARITY_MAILER_DATABASE": f"sqlite:///{project.ledger}?password={SECRET}"}


def daemon_log(project: Project, env: dict[str, str]) -> str:
    """Schedule the campaign a second from now, run the daemon until it has sent that run, stop it; its log."""
    at, _ = local_at(1)
    outputs = [run_subprocess(["schedule", str(project.campaign), "--at", at, "--tz", "UTC"], project.root, env, 60)]
    log_path = project.root / "daemon.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen([*cli_command(), "run"], cwd=project.root, env=_environ(env), stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "this time sent" in log_path.read_text(encoding="utf-8"), 30, "the scheduled run")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return log_path.read_text(encoding="utf-8") + "".join(o.out + o.err for o in outputs)


def serve_output(project: Project, env: dict[str, str]) -> str:
    """``serve`` until it answers /healthz, then SIGTERM: everything it printed."""
    port = free_port()
    proc = subprocess.Popen([*cli_command(), "serve", "--port", str(port)], cwd=project.root, env=_environ(env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    answered = False
    try:
        deadline = time.monotonic() + 20
        while not answered and proc.poll() is None and time.monotonic() < deadline:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert answered, out
    return out


def pasted_into_password_env(project: Project, env: dict[str, str]) -> dict[str, str]:
    """``send`` with the password pasted into ``password_env``: as it is (it looks like a variable name, so
    the relay's password is looked for in a variable of that name, which is unset), and with a '!' (no name)."""
    printed = {}
    unset = {**env, "RELAY_PASSWORD": "", "SOLIDARITY_MAILER_SMTP_PASSWORD": ""}
    for before, pasted in (("RELAY_PASSWORD", SECRET), (SECRET, SECRET + "!")):
        project.configure(f'password_env = "{before}"', f'password_env = "{pasted}"')
        outcome = run_subprocess(["send", str(project.campaign)], project.root, unset, 60)
        assert outcome.status == 2, outcome.describe()
        printed[f"send with {pasted!r} in password_env"] = outcome.out + outcome.err
    return printed


def _environ(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env}


def test_no_secret_in_any_output_or_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)
    handler = RecordingHandler()
    with smtp_server(handler, authenticator=Credentials("mailer", SECRET), auth_require_tls=False) as (relay, _):
        project = make_project(tmp_path, relay.port)
        env = secret_environment(project)
        mbox = mailbox.mbox(tmp_path / "bounces.mbox")
        mbox.add(BOUNCE.read_bytes())
        mbox.close()
        commands = [["send", str(project.campaign)], ["send", str(project.campaign), "--dry-run"],
                    ["send", str(project.campaign), "--to", "probe@example.org"], ["status", "test"], ["campaigns"],
                    ["lists", "check"], ["bounces", "import", str(tmp_path / "bounces.mbox")],
                    ["suppressions", "export"]]
        outcomes = {" ".join(argv).replace(str(tmp_path), "…"): run_subprocess(argv, tmp_path, env, 60)
                    for argv in commands}
        assert outcomes["send …/campaigns/test.toml"].status == 0, outcomes["send …/campaigns/test.toml"].describe()
        assert len(handler.received) == 3  # two recipients and the test copy: the relay took the password
        printed = {name: o.out + o.err for name, o in outcomes.items()}
        printed["run (the daemon's log)"] = daemon_log(project, env)
    printed["serve"] = serve_output(project, env)
    for url in (f"postgresql://mailer:{SECRET}@127.0.0.1:1/ledger", f"sqlite://mailer:{SECRET}@/ledger.db"):
        wrong = run_subprocess(["status", "test"], tmp_path, {**env, "SOLIDARITY_MAILER_DATABASE": url}, 60)
        printed[f"status with {url.split(':')[0]}://user:password@"] = wrong.out + wrong.err
    printed.update(pasted_into_password_env(project, env))
    shown = [name for name, text in printed.items() if SECRET in text]
    assert not shown, "the secret is shown by: " + ", ".join(shown) + "\n\n" + "\n".join(
        f"--- {name} ---\n{printed[name]}" for name in shown)
