"""DKIM: a signed message verifies, also after a real SMTP server received it; a changed one does not."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import dkim
import pytest

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.config import load_settings
from solidarity_mailer.render.rendition import Rendition
from solidarity_mailer.transports.smtp import SmtpTransport
from tests.compose.message_kit import RECIPIENTS, SECRET


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                            capture_output=True).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_dkim_signature_verifies_after_smtp(seed: tuple[Campaign, Rendition], dkim_key: tuple[Path, bytes],
                                            smtpd) -> None:  # type: ignore[no-untyped-def]
    key, record = dkim_key
    config = key.parent / "solidarity-mailer.toml"
    config.write_text(f'[dkim]\nselector = "s2026"\ndomain = "example.org"\nprivate_key_file = "{key.name}"\n')
    settings = load_settings(config, environ={})
    campaign, rendition = seed
    built = MessageFactory(campaign, rendition, settings, SECRET, 1).build(RECIPIENTS[1])
    lookups: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        lookups.append(name)
        return record

    assert built.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(built.data, dnsfunc=dns)
    assert lookups == [b"s2026._domainkey.example.org."]
    controller, handler = smtpd
    transport = SmtpTransport(controller.hostname, controller.port, timeout=5)
    assert built.wire is not None and built.wire.startswith(b"DKIM-Signature: ")
    transport.send(built.mail_from, [built.rcpt], built.data, wire=built.wire)  # as the senders send it
    transport.close()
    assert dkim.verify(handler.received[0].data, dnsfunc=dns)
    tampered = built.data.replace(b"Subject: ICOR", b"Subject: FAKE")
    assert tampered != built.data and not dkim.verify(tampered, dnsfunc=dns)
