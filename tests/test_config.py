"""Settings: defaults, file, environment overrides, and one clear error per bad setting."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from solidarity_mailer.config import load_settings
from solidarity_mailer.errors import MailerError

FULL = """
[smtp]
host = "mail.example.org"
port = 587
security = "starttls"
username = "mailer"
password_env = "MY_SMTP_PASSWORD"
timeout = 10

[sender]
from = "Solidarity <news@example.org>"
reply_to = "office@example.org"
bounce_address = "bounces@example.org"
message_id_domain = "example.org"

[database]
url = "sqlite:///ledger.db"

[delivery]
concurrency = 4
per_second = 20
per_hour = 5000
max_attempts = 3
retry_base_seconds = 1.5
retry_max_seconds = 30
transport = "capture"
outbox = "out"

[web]
public_base_url = "https://lists.example.org/"
unsubscribe_mailto = "unsubscribe@example.org"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "solidarity-mailer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.source is None
    assert (s.smtp.host, s.smtp.port, s.smtp.security, s.smtp.username) == ("localhost", 25, "none", None)
    assert s.database_url == f"sqlite:///{tmp_path.resolve()}/solidarity-mailer.db"
    assert s.delivery.transport == "smtp" and s.delivery.sender_processes and s.dkim is None


def test_full_file_and_password_from_named_env(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FULL), environ={"MY_SMTP_PASSWORD": "s3cret"})
    assert (s.smtp.host, s.smtp.port, s.smtp.security, s.smtp.username) == ("mail.example.org", 587, "starttls",
                                                                            "mailer")
    assert s.smtp.password == "s3cret" and "s3cret" not in repr(s)
    assert s.smtp.timeout == 10.0
    assert s.sender.from_ == "Solidarity <news@example.org>" and s.sender.bounce_address == "bounces@example.org"
    assert s.database_url == f"sqlite:///{tmp_path.resolve()}/ledger.db"
    assert s.delivery.concurrency == 4 and s.delivery.per_second == 20.0 and s.delivery.per_hour == 5000
    assert s.delivery.retry_base_seconds == 1.5 and s.delivery.outbox == tmp_path.resolve() / "out"
    assert s.web.public_base_url == "https://lists.example.org"
    assert s.source == tmp_path / "solidarity-mailer.toml"


def test_environment_overrides_file(tmp_path: Path) -> None:
    env = {
        "SOLIDARITY_MAILER_SMTP_HOST": "relay.example.net",
        "SOLIDARITY_MAILER_SMTP_PORT": "465",
        "SOLIDARITY_MAILER_SMTP_SECURITY": "tls",
        "SOLIDARITY_MAILER_SMTP_USERNAME": "other",
        "SOLIDARITY_MAILER_SMTP_PASSWORD": "pw",
        "SOLIDARITY_MAILER_DATABASE": "postgresql://db/mailer",
    }
    s = load_settings(write(tmp_path, FULL), environ=env)
    assert (s.smtp.host, s.smtp.port, s.smtp.security, s.smtp.username) == ("relay.example.net", 465, "tls", "other")
    assert s.smtp.password == "pw"
    assert s.database_url == "postgresql://db/mailer"


def test_port_defaults_follow_security(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, '[smtp]\nsecurity = "tls"\n'), environ={}).smtp.port == 465
    assert load_settings(write(tmp_path, '[smtp]\nsecurity = "starttls"\n'), environ={}).smtp.port == 587


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[smtp]\nhots = "x"\n', "[smtp] hots: unknown key"),
        ('[delivery]\nsender_processes = "yes"\n', "[delivery] sender_processes: must be bool"),
        ('[smtp]\nport = "25"\n', "[smtp] port: must be int"),
        ("[smtp]\nport = 70000\n", "[smtp] port: 70000 is out of range"),
        ("[smtp]\nport = true\n", "[smtp] port: must be int"),
        ('[smtp]\nsecurity = "ssl"\n', "[smtp] security: 'ssl' must be one of"),
        ('[smtp]\nsecurity = "starttls"\nport = 465\n', "port 465 is implicit TLS"),
        ('[smtp]\nsecurity = "tls"\nport = 587\n', "port 587 expects STARTTLS"),
        ('[smtp]\npassword = "hunter2"\n', "[smtp] password: the password must not be in the file"),
        ('[smtp]\npassword_env = "hunter2 !"\n', "is not an environment variable name"),
        ('[smtp]\nhost = "mail.example.org"\nusername = "u"\n', "without TLS"),
        ('[smpt]\nhost = "x"\n', "unknown section [smpt]"),
        ('[sender]\nfrom = "nobody"\n', "[sender] from: 'nobody' is not an email address"),
        ('[delivery]\ntransport = "pigeon"\n', "[delivery] transport: 'pigeon' must be one of"),
        ("[delivery]\nconcurrency = 0\n", "[delivery] concurrency: must be at least 1"),
        ("[delivery]\nper_second = -1\n", "[delivery] per_second: must not be negative"),
        ('[web]\npublic_base_url = "ftp://x"\n', "[web] public_base_url"),
        ('[dkim]\nselector = "s1"\ndomain = "example.org"\nprivate_key_file = "nope.pem"\n',
         "[dkim] private_key_file: cannot read"),
        ('[dkim]\nselector = "s1"\n', "[dkim] domain: is required"),
        ("[scheduler]\ngrace_seconds = -5\n", "[scheduler] grace_seconds: must not be negative"),
        ('[scheduler]\ntimezone = "Mars/Olympus"\n', "[scheduler] timezone: 'Mars/Olympus' is not an IANA"),
        ("[smtp\n", "invalid TOML"),
    ],
)
def test_bad_settings_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MailerError) as info:
        load_settings(path, environ={})
    assert expected in info.value.line()
    assert str(path) in info.value.line()


def test_error_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "x"\n\n[delivery]\nconcurrency = 2\ntransport = "pigeon"\n')
    with pytest.raises(MailerError) as info:
        load_settings(path, environ={})
    assert info.value.where == f"{path}:6"


def test_bad_environment_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MailerError, match="SOLIDARITY_MAILER_SMTP_PORT='abc' is not a number"):
        load_settings(None, environ={"SOLIDARITY_MAILER_SMTP_PORT": "abc"})
    with pytest.raises(MailerError, match="SOLIDARITY_MAILER_SMTP_PORT=0 is out of range"):
        load_settings(None, environ={"SOLIDARITY_MAILER_SMTP_PORT": "0"})
    with pytest.raises(MailerError, match="SOLIDARITY_MAILER_SMTP_SECURITY='ssl'"):
        load_settings(None, environ={"SOLIDARITY_MAILER_SMTP_SECURITY": "ssl"})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MailerError, match="configuration file not found"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_dkim_key_read_and_checked(tmp_path: Path) -> None:
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    text = '[dkim]\nselector = "s1"\ndomain = "example.org"\nprivate_key_file = "dkim.pem"\n'
    s = load_settings(write(tmp_path, text), environ={})
    assert s.dkim is not None and s.dkim.private_key.startswith(b"-----BEGIN")
    key.write_text("not a key")
    with pytest.raises(MailerError, match="is not a PEM private key"):
        load_settings(tmp_path / "solidarity-mailer.toml", environ={})


def test_scheduler_section(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[scheduler]\ngrace_seconds = 600\ntimezone = "America/Lima"\n'), environ={})
    assert (s.scheduler.grace_seconds, s.scheduler.timezone) == (600, "America/Lima")
    assert load_settings(write(tmp_path, ""), environ={}).scheduler.grace_seconds == 3600
