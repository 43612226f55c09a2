"""The transport registry: every form of ``[delivery] transport`` gives a working transport, against real
servers (aiosmtpd on 127.0.0.1, plain, STARTTLS and implicit TLS, trusted through ``SSL_CERT_FILE`` as a
user would) and real folders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from solidarity_mailer.config import TRANSPORT_FORMS, TRANSPORTS, DeliverySettings, Settings, load_settings
from solidarity_mailer.errors import MailerError
from solidarity_mailer.transports import BACKENDS, Verdict, make_transport
from solidarity_mailer.transports.capture import CaptureTransport
from solidarity_mailer.transports.console import ConsoleTransport
from solidarity_mailer.transports.file import FileTransport
from solidarity_mailer.transports.memory import MemoryTransport
from solidarity_mailer.transports.outbox import list_outbox
from solidarity_mailer.transports.smtp import SmtpTransport
from tests.smtpserver import Credentials, server_tls_context, smtp_server

MSG = b"From: s@example.org\r\nSubject: registry\r\n\r\nhello\r\n"


def settings_with(tmp_path: Path, text: str, **env: str) -> Settings:
    path = tmp_path / "solidarity-mailer.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=env)


def deliver_one(settings: Settings) -> Verdict:
    transport = make_transport(settings)
    try:
        return transport.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict
    finally:
        transport.close()


def test_every_form_has_a_backend_and_every_backend_a_form() -> None:
    assert {form.backend for form in TRANSPORT_FORMS.values()} == set(BACKENDS) == set(TRANSPORTS)


def test_smtp_url_delivers_to_its_host_and_port(tmp_path: Path) -> None:
    with smtp_server() as (controller, handler):
        settings = settings_with(tmp_path, f'[delivery]\ntransport = "smtp://127.0.0.1:{controller.port}"\n')
        assert deliver_one(settings) is Verdict.SENT
    assert handler.recipients() == ["a@example.org"]


def test_smtp_url_uses_starttls_and_login_as_smtp_says(tmp_path: Path, certificate: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the default context trusts the test certificate
    creds = Credentials("mailer", "s3cret")
    with smtp_server(tls_context=server_tls_context(cert, key), require_starttls=True, authenticator=creds,
                     auth_required=True) as (controller, handler):
        text = (f'[delivery]\ntransport = "smtp://127.0.0.1:{controller.port}"\n\n'
                '[smtp]\nsecurity = "starttls"\nusername = "mailer"\npassword_env = "RELAY_PASSWORD"\n')
        settings = settings_with(tmp_path, text, RELAY_PASSWORD="s3cret")
        assert (settings.smtp.host, settings.smtp.security) == ("127.0.0.1", "starttls")
        assert deliver_one(settings) is Verdict.SENT
    assert creds.attempts == 1 and handler.recipients() == ["a@example.org"]


def test_smtps_url_speaks_implicit_tls(tmp_path: Path, certificate: tuple[Path, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with smtp_server(ssl_context=server_tls_context(cert, key)) as (controller, handler):
        settings = settings_with(tmp_path, f'[delivery]\ntransport = "smtps://127.0.0.1:{controller.port}"\n')
        assert (settings.delivery.transport, settings.smtp.security) == ("smtp", "tls")
        assert deliver_one(settings) is Verdict.SENT
    assert handler.recipients() == ["a@example.org"]


def test_smtps_url_against_a_plain_server_never_sends_in_clear(tmp_path: Path) -> None:
    with smtp_server() as (controller, handler):
        settings = settings_with(tmp_path, f'[delivery]\ntransport = "smtps://127.0.0.1:{controller.port}"\n')
        assert deliver_one(settings) is Verdict.DEFER  # the TLS handshake fails: nothing goes out
    assert handler.received == []


def test_capture_url_stores_in_its_folder_beside_the_settings_file(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, '[delivery]\ntransport = "capture://caught/here"\n')
    assert isinstance(make_transport(settings), CaptureTransport)
    assert deliver_one(settings) is Verdict.SENT
    assert len(list_outbox(tmp_path / "caught" / "here")) == 1


def test_file_url_writes_in_its_folder(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, '[delivery]\ntransport = "file://out/mail"\n')
    assert isinstance(make_transport(settings), FileTransport)
    assert deliver_one(settings) is Verdict.SENT
    assert len(list_outbox(tmp_path / "out" / "mail")) == 1


def test_console_url_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_with(tmp_path, '[delivery]\ntransport = "console:"\n')
    assert isinstance(make_transport(settings), ConsoleTransport)
    assert deliver_one(settings) is Verdict.SENT
    assert "Subject: registry" in capsys.readouterr().out


def test_memory_url_keeps(tmp_path: Path) -> None:
    transport = make_transport(settings_with(tmp_path, '[delivery]\ntransport = "memory:"\n'))
    assert isinstance(transport, MemoryTransport)
    transport.send("s@example.org", ["a@example.org"], MSG)
    assert [m.rcpt_tos for m in transport.sent] == [("a@example.org",)]


def test_an_unknown_backend_in_settings_built_in_code_is_one_line() -> None:
    settings = replace(Settings(), delivery=DeliverySettings(transport="pigeon"))
    with pytest.raises(MailerError) as info:
        make_transport(settings)
    assert info.value.line() == "unknown transport 'pigeon' (known: smtp, capture, file, console, memory)"


def test_factory_checks_the_password(tmp_path: Path) -> None:
    config = tmp_path / "solidarity-mailer.toml"
    config.write_text('[smtp]\nhost = "localhost"\nusername = "u"\n')
    with pytest.raises(MailerError, match=r"no password .*SOLIDARITY_MAILER_SMTP_PASSWORD"):
        make_transport(load_settings(config, environ={}))
    transport = make_transport(load_settings(config, environ={"SOLIDARITY_MAILER_SMTP_PASSWORD": "pw"}))
    assert isinstance(transport, SmtpTransport) and transport.username == "u"
