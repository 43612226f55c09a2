"""Capture server, capture/file/console/memory transports, and the ``catch`` command as a real process."""

from __future__ import annotations

import io
import os
import signal
import smtplib
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from solidarity_mailer.config import load_settings
from solidarity_mailer.errors import MailerError
from solidarity_mailer.transports import Outcome, TransportPaused, Verdict, make_transport
from solidarity_mailer.transports.capture import CaptureServer, CaptureTransport
from solidarity_mailer.transports.console import ConsoleTransport
from solidarity_mailer.transports.file import FileTransport
from solidarity_mailer.transports.memory import MemoryTransport
from solidarity_mailer.transports.outbox import list_outbox, safe_name
from tests.smtpserver import free_port

CLI = "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))"
MSG = "From: a@example.org\r\nSubject: Solidarität\r\n\r\nhello\r\n".encode()


def test_capture_server_stores_eml_with_safe_names(tmp_path: Path) -> None:
    seen: list[tuple[Path, str, list[str]]] = []
    with CaptureServer(tmp_path / "out", on_message=lambda p, f, r: seen.append((p, f, r))) as server:
        with smtplib.SMTP(server.host, server.port) as client:
            client.sendmail("s@example.org", ["../../etc/passwd@example.org", "b@example.org"], MSG)
            client.sendmail("s@example.org", ["c@example.org"], MSG)
        assert server.count == 2
    files = list_outbox(tmp_path / "out")
    assert len(files) == 2 and all(f.parent == tmp_path / "out" for f in files)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".tmp")]
    first = next(f for f in files if "passwd" in f.name)
    assert "/" not in first.name and first.name.endswith(".eml")
    message = message_from_bytes(first.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Solidarität"
    assert message["X-Envelope-To"] == "../../etc/passwd@example.org, b@example.org"
    assert first.read_bytes().endswith(MSG)
    assert [s[2] for s in seen] == [["../../etc/passwd@example.org", "b@example.org"], ["c@example.org"]]


def test_failing_observer_does_not_refuse_a_stored_message(tmp_path: Path) -> None:
    def broken(path: Path, mail_from: str, rcpts: list[str]) -> None:
        raise RuntimeError("observer bug")

    with CaptureServer(tmp_path, on_message=broken) as server, smtplib.SMTP(server.host, server.port) as client:
        assert client.sendmail("s@example.org", ["a@example.org"], MSG) == {}
    assert len(list_outbox(tmp_path)) == 1


def test_safe_name() -> None:
    assert safe_name("../a b/\x00c@d") == "a_b_c@d"
    assert safe_name("....") == "message"
    assert len(safe_name("x" * 500)) == 60


def test_capture_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with CaptureServer(tmp_path) as server, pytest.raises(MailerError, match=f"cannot listen on .*:{server.port}"):
        CaptureServer(tmp_path, port=server.port).start()


def test_capture_transport_from_settings(tmp_path: Path) -> None:
    config = tmp_path / "solidarity-mailer.toml"
    config.write_text('[delivery]\ntransport = "capture"\noutbox = "outbox"\n')
    transport = make_transport(load_settings(config, environ={}))
    assert isinstance(transport, CaptureTransport)
    result = transport.send("s@example.org", ["a@example.org", "ü@example.org"], MSG, smtputf8=True)
    transport.close()
    assert {o.verdict for o in result.values()} == {Verdict.SENT}
    assert len(list_outbox(tmp_path / "outbox")) == 1


def test_file_transport(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "files")
    result = transport.send("s@example.org", ["a@example.org"], MSG)
    assert result["a@example.org"].verdict is Verdict.SENT
    assert transport.written[0].read_bytes().endswith(MSG)


def test_file_transport_defers_when_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = FileTransport(blocker).send("s@example.org", ["a@example.org"], MSG)
    assert result["a@example.org"].verdict is Verdict.DEFER


def test_console_transport() -> None:
    out = io.StringIO()
    ConsoleTransport(out).send("s@example.org", ["a@example.org"], MSG)
    assert "RCPT TO:<a@example.org>" in out.getvalue() and "Subject: Solidarität" in out.getvalue()


def test_memory_transport_script() -> None:
    transport = MemoryTransport()
    transport.script["b@example.org"] = [Outcome(Verdict.DEFER, 451, "4.3.0", "later")]
    transport.script["c@example.org"] = [TransportPaused("535 no", 535)]
    result = transport.send("s@example.org", ["a@example.org", "b@example.org"], MSG)
    assert result["b@example.org"].verdict is Verdict.DEFER and transport.recipients() == ["a@example.org"]
    with pytest.raises(TransportPaused):
        transport.send("s@example.org", ["c@example.org"], MSG)
    transport.send("s@example.org", ["b@example.org", "c@example.org"], MSG)
    assert transport.recipients() == ["a@example.org", "b@example.org", "c@example.org"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_catch_command_runs_until_interrupted(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "catch", "--port", str(port), "--outbox", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        assert f"smtp://127.0.0.1:{port}" in proc.stdout.readline()
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail("s@example.org", ["a@example.org"], MSG)
        line = proc.stdout.readline()
        assert "s@example.org -> a@example.org" in line and '"Solidarität"' in line
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "1 message(s) caught" in out
    assert len(list_outbox(tmp_path)) == 1
