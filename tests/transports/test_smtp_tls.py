"""The SMTP transport over TLS against a real aiosmtpd server: STARTTLS, implicit TLS, certificates, AUTH."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from solidarity_mailer.transports import TransportPaused, Verdict
from solidarity_mailer.transports.smtp import SmtpTransport
from tests.smtpserver import Credentials, server_tls_context, smtp_server

MSG = b"From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n.leading dot\r\n..two dots\r\n"


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_starttls_with_verified_certificate_and_auth(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    creds = Credentials("mailer", "s3cret")
    with smtp_server(tls_context=server_tls_context(cert, key), require_starttls=True, authenticator=creds,
                     auth_required=True) as (controller, handler):
        t = SmtpTransport("127.0.0.1", controller.port, security="starttls", username="mailer", password="s3cret",
                          timeout=5, context=trusting(cert))
        for rcpt in ("a@example.org", "b@example.org"):
            assert t.send("s@example.org", [rcpt], MSG)[rcpt].verdict is Verdict.SENT
        t.close()
    assert creds.attempts == 1  # logged in once, connection reused
    assert handler.recipients() == ["a@example.org", "b@example.org"]


def test_wrong_password_pauses(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with smtp_server(tls_context=server_tls_context(cert, key), authenticator=Credentials("mailer", "right"),
                     auth_required=True) as (controller, handler):
        t = SmtpTransport("127.0.0.1", controller.port, security="starttls", username="mailer", password="wrong",
                          timeout=5, context=trusting(cert))
        with pytest.raises(TransportPaused, match="authentication failed: 535") as info:
            t.send("s@example.org", ["a@example.org"], MSG)
        assert info.value.code == 535
    assert handler.received == []


def test_untrusted_certificate_pauses(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with smtp_server(tls_context=server_tls_context(cert, key)) as (controller, handler):
        t = SmtpTransport("127.0.0.1", controller.port, security="starttls", timeout=5)  # default context
        with pytest.raises(TransportPaused, match="not trusted"):
            t.send("s@example.org", ["a@example.org"], MSG)
    assert handler.received == []


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with smtp_server(ssl_context=server_tls_context(cert, key)) as (controller, handler):
        t = SmtpTransport("127.0.0.1", controller.port, security="tls", timeout=5, context=trusting(cert))
        assert t.send("s@example.org", ["a@example.org"], MSG)["a@example.org"].verdict is Verdict.SENT
        t.close()
    assert handler.recipients() == ["a@example.org"]
