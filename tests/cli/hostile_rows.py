"""The table of hostile invocations (issue 12) run by test_hostile_input: the builders that prepare each
project and command line, and one row per invocation with its expected exit status and culprit."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile_project import (
    Project,
    fifo_writer,
)
from tests.sendkit import REPO

HANG = 6.0  # seconds a subprocess row may take before it counts as hanging (only rows that may read forever)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 but tab/LF/CR, DEL, C1
LATIN1_ROWS = b"email,name\r\nreader1@example.org,Jos\xe9\r\nreader2@example.org,Ren\xe9e\r\n"
SECRET_PASSWORD = "hunter2-Pa55word!"
PLAIN_TEXT = REPO / "tests" / "data" / "icor-2023-02-07-peru.txt"  # a resolution as published


@dataclass(frozen=True)
class Row:
    """One hostile invocation: ``build`` prepares the project and returns argv."""

    build: Callable[[Project], list[str]]
    status: int
    culprit: str  # a regex the error line must match (search)
    shape: str = "line"
    process: bool = False  # run the console script as a subprocess (rows that may hang or crash hard)
    timeout: float = 60.0
    forbid: tuple[str, ...] = ()  # text that must appear in no output (secrets)


def row(ident: str, build: Callable[[Project], list[str]], status: int, culprit: str, *, hole: str = "",
        **options: object) -> object:
    """A table row; ``hole`` = what happens today instead (the row is then a strict xfail)."""
    marks = [pytest.mark.xfail(strict=True, reason=f"issue 12: {hole}")] if hole else []
    return pytest.param(Row(build, status, culprit, **options), id=ident, marks=marks)  # type: ignore[arg-type]


# --- builders: each prepares the project and returns the command line ------------------------------------

def send_with(*args: str) -> Callable[[Project], list[str]]:
    return lambda p: ["send", str(p.campaign), *args]


def campaign_variant(name: str, old: str, new: str, command: str = "send") -> Callable[[Project], list[str]]:
    return lambda p: [command, p.campaign_with(name, old, new)]


def latin1_campaign(p: Project) -> list[str]:
    text = p.campaign.read_text(encoding="utf-8").replace("Solidarity with", "Solidarit\u00e9 avec")
    return ["send", p.write("campaigns/latin1.toml", text.encode("latin-1"))]


def latin1_campaign_status(p: Project) -> list[str]:
    return ["status", latin1_campaign(p)[1]]


def configured(old: str, new: str, *args: str) -> Callable[[Project], list[str]]:
    def build(p: Project) -> list[str]:
        p.configure(old, new)
        return ["send", str(p.campaign), *args]
    return build


def latin1_list_send(p: Project) -> list[str]:
    p.write("recipients/latin1.csv", LATIN1_ROWS)
    return ["send", p.campaign_with("latin1-list.toml", "../recipients/list.csv", "../recipients/latin1.csv")]


def fifo_list_send(p: Project) -> list[str]:
    fifo = p.root / "recipients" / "pipe.csv"
    p.stack.enter_context(fifo_writer(fifo, b"email,name\nreader1@example.org,A\n"))
    return ["send", str(p.campaign), "--list", str(fifo)]


def esc_named_list(p: Project) -> list[str]:
    return ["lists", "check", p.write("recipients/evil\x1b]0;owned\x07.csv", "email,name\nnot-an-address,X\n")]


def broken_templates(old: str, new: str, template: str = "base.html.j2") -> Callable[[Project], list[str]]:
    """``render`` with a copy of the templates where ``old`` in ``template`` became ``new``."""
    def build(p: Project) -> list[str]:
        source = Path(re.search(r'templates = "(.*)"', p.campaign.read_text(encoding="utf-8"))[1])  # type: ignore[index]
        for item in source.iterdir():
            text = item.read_text(encoding="utf-8")
            if item.name == template:
                assert old in text, old
                text = text.replace(old, new, 1)
            p.write(f"templates/{item.name}", text)
        return ["render", str(p.campaign), "--out", str(p.root / "out"), "--templates", str(p.root / "templates")]
    return build


def mistyped(*argv: str) -> Callable[[Project], list[str]]:
    """``argv`` with ``[database] url`` naming a folder that does not exist ({campaign} is replaced)."""
    def build(p: Project) -> list[str]:
        p.mistype_ledger()
        return [str(p.campaign) if a == "{campaign}" else a for a in argv]
    return build


def busy_port(command: str) -> Callable[[Project], list[str]]:
    def build(p: Project) -> list[str]:
        busy = p.stack.enter_context(socket.socket())
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        return ["preview", str(p.campaign), "--port", port] if command == "preview" else ["serve", "--port", port]
    return build


def without_secret(p: Project) -> list[str]:
    p.env["SOLIDARITY_MAILER_SECRET"] = ""
    return ["serve", "--port", "1"]


def grace_set(table: str, variable: str = "") -> Callable[[Project], list[str]]:
    """``schedule --every 1h`` with ``table`` added to the settings and SOLIDARITY_MAILER_GRACE_SECONDS set."""
    def build(p: Project) -> list[str]:
        p.configure("[web]", f"{table}\n[web]")
        p.env["SOLIDARITY_MAILER_GRACE_SECONDS"] = variable
        return ["schedule", str(p.campaign), "--every", "1h"]
    return build


def file_in(name: str, content: str | bytes, *before: str,
            after: tuple[str, ...] = ()) -> Callable[[Project], list[str]]:
    return lambda p: [*before, p.write(name, content), *after]


SUBJECT = 'subject = "Solidarity with'
PORT_LINE = r"solidarity-mailer\.toml:\d+"

ROWS = [
    # --- send: what the campaign argument can be -------------------------------------------------------
    row("send-dotdot", lambda p: ["send", ".."], 2, r"'\.\.'|\.\.:"),
    row("send-empty-name", lambda p: ["send", ""], 2, r"''|empty"),
    row("send-directory", lambda p: ["send", str(p.root / "campaigns")], 2, r"campaigns"),
    row("send-missing-file", lambda p: ["send", str(p.root / "campaigns" / "nosuch.toml")], 2,
        r"nosuch\.toml: campaign file not found"),
    row("send-unknown-id", lambda p: ["send", "no-such-campaign"], 2, r"no campaign 'no-such-campaign'"),
    row("campaign-not-utf8", latin1_campaign, 2, r"latin1\.toml.*UTF-8"),
    row("campaign-bad-toml", campaign_variant("broken.toml", SUBJECT, 'subject = "unclosed\nx = "'), 2,
        r"broken\.toml.*invalid TOML.*line 3"),
    row("campaign-type-error", campaign_variant("typed.toml", SUBJECT + ' the struggle of the Peruvian people"',
                                                "subject = 5"), 2, r"typed\.toml:3: .*subject"),
    row("campaign-bad-id", campaign_variant("badid.toml", 'id = "test"', 'id = "../../etc"'), 2,
        r"badid\.toml: campaign id '\.\./\.\./etc'"),
    row("subject-esc", campaign_variant("esc.toml", SUBJECT, r'subject = "\u001b]0;owned\u0007Solidarity with'),
        2, r"esc\.toml:3: .*subject"),
    row("subject-crlf", campaign_variant("crlf.toml", SUBJECT, r'subject = "Hi\r\nBcc: evil@example.net\r\nX'),
        2, r"crlf\.toml:3: .*subject"),
    row("send-unknown-template", campaign_variant("tpl.toml", 'id = "test"', 'id = "test"\ntemplate = "nosuch"'),
        2, r"nosuch"),
    # --- send: lists ---------------------------------------------------------------------------------------
    row("list-rows-not-utf8", latin1_list_send, 2, r"latin1\.csv:3: undecodable bytes \(not UTF-8\)", shape="rows"),
    row("list-dev-zero", send_with("--list", "/dev/zero"), 2, r"/dev/zero.*not a regular file",
        process=True, timeout=HANG),
    row("list-fifo", fifo_list_send, 2, r"pipe\.csv.*not a regular file", process=True),
    row("schedule-list-dev-zero", lambda p: ["schedule", str(p.campaign), "--every", "1h", "--list", "/dev/zero"],
        2, r"/dev/zero.*not a regular file", process=True, timeout=HANG),
    row("list-missing", send_with("--list", "no-such.csv"), 2, r"no-such\.csv: list file not found"),
    row("list-is-directory", send_with("--list", "recipients"), 2, r"--list", shape="usage"),
    row("send-limit-zero", send_with("--limit", "0"), 2, r"--limit", shape="usage"),
    row("send-to-not-an-address", send_with("--to", "not an address"), 2, r"not an address"),
    row("send-to-smtp-injection", send_with("--to", "a@example.org>\r\nRCPT TO:<evil@example.net"), 2,
        r"--to|a@example"),
    # --- settings --------------------------------------------------------------------------------------------
    row("config-timeout-inf", configured("timeout = 10", "timeout = inf"), 2, PORT_LINE + r": \[smtp\] timeout"),
    row("config-timeout-nan", configured("timeout = 10", "timeout = nan"), 2, PORT_LINE + r": \[smtp\] timeout"),
    row("config-per-second-nan", configured("per_second = 0", "per_second = nan"), 2,
        PORT_LINE + r": \[delivery\] per_second"),
    row("config-retry-inf", configured("retry_max_seconds = 0.2", "retry_max_seconds = inf"), 2,
        PORT_LINE + r": \[delivery\] retry_max_seconds"),
    row("config-concurrency-huge", configured("concurrency = 2", "concurrency = 100000"), 2,
        PORT_LINE + r": \[delivery\] concurrency: must be at most 100", process=True),
    row("config-type-error", configured("timeout = 10", 'timeout = "10"'), 2,
        PORT_LINE + r": \[smtp\] timeout: must be float"),
    row("config-unknown-key", configured("timeout = 10", "timout = 10"), 2, PORT_LINE + r": \[smtp\] timout"),
    row("config-bad-toml", configured("timeout = 10", "timeout = "), 2, r"solidarity-mailer\.toml.*invalid TOML"),
    row("config-not-utf8", lambda p: ["send", str(p.campaign), "--config",
                                      p.write("latin1.toml", b'[smtp]\nhost = "h\xf4te"\n')], 2,
        r"latin1\.toml.*UTF-8|latin1\.toml.*utf-8"),
    row("config-missing", send_with("--config", "no-such.toml"), 2, r"no-such\.toml: configuration file not found"),
    row("config-password-in-password-env",
        configured("timeout = 10", f'timeout = 10\npassword_env = "{SECRET_PASSWORD}"'), 2,
        PORT_LINE + r": \[smtp\] password_env", forbid=(SECRET_PASSWORD,)),
    row("config-password-in-file", configured("timeout = 10", f'timeout = 10\npassword = "{SECRET_PASSWORD}"'), 2,
        PORT_LINE + r": \[smtp\] password", forbid=(SECRET_PASSWORD,)),
    # --- schedule ------------------------------------------------------------------------------------------
    row("schedule-every-huge", lambda p: ["schedule", str(p.campaign), "--every", "9999999w"], 2, r"9999999w"),
    row("schedule-grace-huge", lambda p: ["schedule", str(p.campaign), "--every", "1h", "--grace", "9" * 30], 2,
        r"--grace", shape="usage"),
    row("schedule-grace-huge-in-settings", grace_set("[scheduler]\ngrace_seconds = " + "9" * 30), 2,
        PORT_LINE + r": \[scheduler\] grace_seconds"),
    row("schedule-grace-huge-in-environment", grace_set("", "9" * 30), 2, r"SOLIDARITY_MAILER_GRACE_SECONDS"),
    row("schedule-bad-interval", lambda p: ["schedule", str(p.campaign), "--every", "soon"], 2,
        r"cannot read the interval 'soon'"),
    row("schedule-bad-cron", lambda p: ["schedule", str(p.campaign), "--cron", "61 * * * *"], 2, r"61"),
    row("schedule-bad-zone", lambda p: ["schedule", str(p.campaign), "--every", "1h", "--tz", "Mars/Olympus"], 2,
        r"Mars/Olympus"),
    row("schedule-bad-at", lambda p: ["schedule", str(p.campaign), "--at", "tomorrow"], 2,
        r"cannot read the time 'tomorrow'"),
    row("schedule-two-rules", lambda p: ["schedule", str(p.campaign), "--at", "2031-01-01 09:00", "--every", "1h"],
        2, r"--at.*--every|--every.*--at"),
    row("schedule-dotdot", lambda p: ["schedule", "..", "--every", "1h"], 2, r"'\.\.'|\.\.:"),
    # --- status, campaigns, pause/resume/cancel ------------------------------------------------------------
    row("status-no-runs", lambda p: ["status", "test"], 2, r"campaign 'test' has no runs yet"),
    row("status-campaign-not-utf8", latin1_campaign_status, 2, r"latin1\.toml.*UTF-8"),
    row("status-empty-name", lambda p: ["status", ""], 2, r"empty"),
    row("status-directory", lambda p: ["status", str(p.root / "campaigns")], 2, r"campaigns: a folder"),
    row("render-dotdot", lambda p: ["render", "..", "--out", str(p.root / "out")], 2, r"'\.\.'", shape="usage"),
    row("resume-unknown-run", lambda p: ["resume", "run", "999"], 2, r"run 999"),
    row("pause-huge-id", lambda p: ["pause", "schedule", "9" * 30], 2, r"9{30}|ID", shape="usage"),
    row("cancel-huge-id", lambda p: ["cancel", "run", "9" * 19], 2, r"9{19}|ID", shape="usage"),
    row("cancel-id-not-a-number", lambda p: ["cancel", "run", "abc"], 2, r"'abc'", shape="usage"),
    row("resume-bad-kind", lambda p: ["resume", "campaign", "1"], 2, r"'campaign'", shape="usage"),
    # --- lists check -----------------------------------------------------------------------------------------
    row("lists-missing-file", lambda p: ["lists", "check", "no-such.csv"], 2, r"no-such\.csv: list file not found"),
    row("lists-directory", lambda p: ["lists", "check", str(p.root / "recipients")], 2, r"recipients"),
    row("lists-dev-zero", lambda p: ["lists", "check", "/dev/zero"], 2, r"/dev/zero.*not a regular file",
        process=True, timeout=HANG),
    row("lists-rows-not-utf8", file_in("recipients/latin1.csv", LATIN1_ROWS, "lists", "check"), 1,
        r"latin1\.csv:2", shape="rows"),
    row("lists-esc-in-file-name", esc_named_list, 1, r"evil.*\.csv:2", shape="rows"),
    row("lists-unclosed-quote", file_in("recipients/quote.csv", 'email,name\nreader1@example.org,"Open\n',
                                        "lists", "check"), 1, r"quote\.csv:2", shape="rows"),
    # --- suppressions, bounces, import ------------------------------------------------------------------------
    row("suppressions-import-missing", lambda p: ["suppressions", "import", "no-such.csv"], 2, r"no-such\.csv"),
    row("suppressions-import-not-utf8", file_in("supp.csv", b"address\r\nJos\xe9@example.org\r\n",
                                                "suppressions", "import"), 1, r"supp\.csv:2: .*UTF-8", shape="rows"),
    row("suppressions-export-no-folder", lambda p: ["suppressions", "export", str(p.root / "nowhere" / "out.csv")],
        2, r"nowhere/out\.csv"),
    row("suppressions-export-under-a-file", lambda p: ["suppressions", "export", str(p.config / "out.csv")], 2,
        r"solidarity-mailer\.toml/out\.csv: .*Not a directory"),
    row("suppressions-add-not-an-address", lambda p: ["suppressions", "add", "not an address"], 2,
        r"not an address"),
    row("suppressions-add-esc", lambda p: ["suppressions", "add", "x@example.org\x1b[2J"], 2, r"x@example\.org"),
    row("suppressions-import-directory", lambda p: ["suppressions", "import", str(p.root / "recipients")], 2,
        r"recipients", shape="usage"),
    row("suppressions-list-bad-reason", lambda p: ["suppressions", "list", "--reason", "bored"], 2, r"--reason",
        shape="usage"),
    row("bounces-missing-mailbox", lambda p: ["bounces", "import", "no-such.mbox"], 2, r"no-such\.mbox"),
    row("bounces-soft-limit-huge", lambda p: ["bounces", "import", "no-such.mbox", "--soft-limit", "9" * 30], 2,
        r"--soft-limit", shape="usage"),
    row("bounces-not-a-mailbox", file_in("junk.bin", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "bounces", "import"),
        2, r"junk\.bin: .*not an mbox"),
    row("import-missing", lambda p: ["import", "no-such.txt", "-o", "out.toml"], 2, r"no-such\.txt"),
    row("import-not-utf8", file_in("latin1.txt", "R\u00e9solution\n\nUn paragraphe.\n".encode("latin-1"), "import",
                                   after=("-o", "out.toml")), 2, r"latin1\.txt"),
    row("import-output-no-folder", lambda p: ["import", str(PLAIN_TEXT), "-o", "nowhere/out.toml"], 2,
        r"nowhere/out\.toml"),
    # --- render, preview, serve, run -----------------------------------------------------------------------
    row("render-css-error", broken_templates(".sm-p{margin:0 0 16px}", ".sm-p{margin:0 0 16px"), 2,
        r"base\.html\.j2:\d+: CSS error"),
    row("render-jinja-error", broken_templates("{{ mail.subject }}", "{{ mail.subject "), 2, r"base\.html\.j2:\d+"),
    row("render-not-utf8-resolution", file_in("res.toml", b'[resolution]\ntitle = "R\xe9solution"\n', "render",
                                              after=("--out", "out")), 2, r"res\.toml"),
    row("render-out-is-a-file", lambda p: ["render", str(p.campaign), "--out", str(p.config)], 2, r"--out",
        shape="usage"),
    row("preview-port-too-big", lambda p: ["preview", str(p.campaign), "--port", "70000"], 2, r"--port",
        shape="usage"),
    row("preview-port-zero", lambda p: ["preview", str(p.campaign), "--port", "0"], 2, r"--port", shape="usage"),
    row("preview-port-in-use", busy_port("preview"), 2, r"port \d+ on 127\.0\.0\.1 is in use", process=True),
    row("serve-port-in-use", busy_port("serve"), 2, r"port \d+ on 127\.0\.0\.1 is in use", process=True),
    row("serve-no-secret", without_secret, 2, r"SOLIDARITY_MAILER_SECRET", process=True),
    row("run-unknown-section", lambda p: ["run", "--config", p.write("bad.toml", "[smpt]\nhost = 'x'\n")], 2,
        r"bad\.toml: unknown section \[smpt\]", process=True),
    # --- a mistyped database location creates no ledger (issue 12, hole 2) ---------------------------------
    row("ledger-mistyped-send", mistyped("send", "{campaign}"), 2, r"no-such-folder/ledger\.db.*db init"),
    row("ledger-mistyped-schedule", mistyped("schedule", "{campaign}", "--every", "1h"), 2,
        r"no-such-folder/ledger\.db.*db init"),
    row("ledger-mistyped-status", mistyped("status", "test"), 2, r"no-such-folder/ledger\.db.*db init"),
    row("ledger-mistyped-campaigns", mistyped("campaigns"), 2, r"no-such-folder/ledger\.db.*db init"),
    row("ledger-mistyped-suppressions", mistyped("suppressions", "add", "x@example.org"), 2,
        r"no-such-folder/ledger\.db.*db init"),
    row("ledger-mistyped-cancel", mistyped("cancel", "run", "1"), 2, r"no-such-folder/ledger\.db.*db init"),
    row("ledger-mistyped-run", mistyped("run"), 2, r"no-such-folder/ledger\.db.*db init", process=True,
        timeout=HANG),
]
