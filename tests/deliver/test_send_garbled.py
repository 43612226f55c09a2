"""`send` against a scripted SMTP server on 127.0.0.1 that answers garbage, silence or a hang-up after the final
dot: those recipients are `uncertain` (the message may have been taken), never `failed`, so `--retry-failed`
does not send them again; a well-formed 550 is still `failed`, a 451 still deferred, and a garbled reply before
the final dot is deferred and retried (nothing was taken)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from solidarity_mailer.deliver.manual_send import EXIT_FAILURES
from tests.scriptedsmtp import Reply, scripted_server, usual
from tests.sendkit import addresses, clean_environment, rows, send, write_project

EMAILS = addresses(8)
AFTER_THE_DOT: dict[str, list[Reply]] = {  # replies to each recipient's final dot, in turn (then "250 ok")
    EMAILS[0]: [b"\x00\xff\xfegarbage\x1b[2J\r\n"],
    EMAILS[1]: ["999 what"],
    EMAILS[2]: [None],  # the server hangs up
    EMAILS[3]: [b""],  # the server says nothing (the client's timeout)
    EMAILS[4]: ["550 5.6.0 content rejected"],
    EMAILS[5]: ["451 4.3.0 try later"],
}
TO_RCPT: dict[str, list[Reply]] = {EMAILS[6]: [b"\x00garbled\r\n"]}  # before the final dot


class Relay:
    """The script: per-recipient replies; counts the messages each recipient's final dot ended."""

    def __init__(self) -> None:
        self.after = {k: list(v) for k, v in AFTER_THE_DOT.items()}
        self.to_rcpt = {k: list(v) for k, v in TO_RCPT.items()}
        self.current = ""
        self.bodies: Counter[str] = Counter()

    def __call__(self, command: str) -> Reply:
        if command.upper().startswith("RCPT TO:"):
            self.current = command.split("<", 1)[1].rstrip(">")
            if self.to_rcpt.get(self.current):
                return self.to_rcpt[self.current].pop(0)
        if command == "<eom>":
            self.bodies[self.current] += 1
            if self.after.get(self.current):
                return self.after[self.current].pop(0)
        return usual(command)


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(tmp_path, monkeypatch)


def test_a_reply_that_is_not_smtp_after_the_dot_is_uncertain_and_never_retried(tmp_path: Path) -> None:
    relay = Relay()
    with scripted_server(relay) as server:
        campaign, config = write_project(tmp_path, server.port, EMAILS, concurrency=1)
        config.write_text(config.read_text().replace("timeout = 10", "timeout = 1"))
        assert send(campaign, config) == EXIT_FAILURES  # EMAILS[4] failed
        found = rows(tmp_path)
        assert {a: found[a][0] for a in EMAILS} == {
            **dict.fromkeys(EMAILS[:4], "uncertain"), EMAILS[4]: "failed", **dict.fromkeys(EMAILS[5:], "sent")}
        assert "after the final dot" in found[EMAILS[0]][2] and "\x1b" not in found[EMAILS[0]][2]
        assert found[EMAILS[5]][1] == 2  # deferred once, then delivered
        assert relay.to_rcpt[EMAILS[6]] == []  # garbled before the dot: tried again (at once, on a new connection)
        assert found[EMAILS[4]][2] == "550 5.6.0 content rejected"

        assert send(campaign, config, "--retry-failed") == 0  # the 550 is retried (and now taken) …
        assert send(campaign, config) == 0
    assert relay.bodies == {**dict.fromkeys(EMAILS, 1), EMAILS[4]: 2, EMAILS[5]: 2}  # … the uncertain never
    assert {a: state for a, (state, _, _) in rows(tmp_path).items()} == {
        **dict.fromkeys(EMAILS[:4], "uncertain"), **dict.fromkeys(EMAILS[4:], "sent")}
