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


@pytest.mark.parametrize(
    ("transport", "smtp", "expected"),
    [
        ("smtp://relay.example.org:2525", "", ("smtp", "relay.example.org", 2525, "none")),
        ("smtp://relay.example.org", "", ("smtp", "relay.example.org", 25, "none")),
        ("smtp://relay.example.org", 'security = "starttls"', ("smtp", "relay.example.org", 587, "starttls")),
        ("smtp://relay.example.org", "port = 2587", ("smtp", "relay.example.org", 2587, "none")),
        ("SMTP://Relay.Example.org:587/", 'security = "starttls"', ("smtp", "relay.example.org", 587, "starttls")),
        ("smtp://[::1]:2525", "", ("smtp", "::1", 2525, "none")),
        ("smtps://relay.example.org", "", ("smtp", "relay.example.org", 465, "tls")),
        ("smtps://relay.example.org:4650", 'security = "tls"', ("smtp", "relay.example.org", 4650, "tls")),
        ("console:", "", ("console", "localhost", 25, "none")),
        ("console://", "", ("console", "localhost", 25, "none")),
        ("memory:", "", ("memory", "localhost", 25, "none")),
        ("smtp", 'host = "mail.example.org"', ("smtp", "mail.example.org", 25, "none")),  # the short form
    ],
)
def test_transport_url_sets_backend_host_port_and_security(
    tmp_path: Path, transport: str, smtp: str, expected: tuple[str, str, int, str]
) -> None:
    s = load_settings(write(tmp_path, f'[delivery]\ntransport = "{transport}"\n\n[smtp]\n{smtp}\n'), environ={})
    assert (s.delivery.transport, s.smtp.host, s.smtp.port, s.smtp.security) == expected


@pytest.mark.parametrize(
    ("delivery", "folder"),
    [
        ('transport = "capture://caught"', "caught"),
        ('transport = "file://out/mail"', "out/mail"),
        ('transport = "capture:"', "outbox"),
        ('transport = "file:"\noutbox = "elsewhere"', "elsewhere"),
        ('transport = "capture"\noutbox = "elsewhere"', "elsewhere"),
    ],
)
def test_folder_urls_are_relative_to_the_settings_folder(tmp_path: Path, delivery: str, folder: str) -> None:
    s = load_settings(write(tmp_path, f"[delivery]\n{delivery}\n"), environ={})
    assert s.delivery.outbox == tmp_path.resolve() / folder


def test_folder_url_may_be_absolute(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "box"
    s = load_settings(write(tmp_path, f'[delivery]\ntransport = "file://{target}"\n'), environ={})
    assert (s.delivery.transport, s.delivery.outbox) == ("file", target)


def test_environment_overrides_the_url(tmp_path: Path) -> None:
    env = {"SOLIDARITY_MAILER_SMTP_HOST": "other.example.net", "SOLIDARITY_MAILER_SMTP_PORT": "2525"}
    s = load_settings(write(tmp_path, '[delivery]\ntransport = "smtp://relay.example.org:587"\n'), environ=env)
    assert (s.smtp.host, s.smtp.port) == ("other.example.net", 2525)


@pytest.mark.parametrize(
    ("transport", "extra", "expected"),
    [
        ("pigeon://coop", "", "[delivery] transport: unknown transport scheme 'pigeon' (known: smtp://HOST[:PORT], "
         "smtps://HOST[:PORT], capture://DIR, file://DIR, console:, memory:)"),
        ("smtp:relay.example.org", "", "[delivery] transport: a smtp URL starts smtp://"),
        ("smtp://", "", "[delivery] transport: the smtp URL names no host"),
        ("smtp://:587", "", "[delivery] transport: the smtp URL names no host"),
        ("smtp://relay.example.org:99999", "", "[delivery] transport: the port in the URL is not a number"),
        ("smtp://relay.example.org:x", "", "[delivery] transport: the port in the URL is not a number"),
        ("smtp://relay.example.org/mail?x=1", "", "[delivery] transport: a smtp URL holds only a host and a port"),
        ("smtp://mailer@relay.example.org", "", "[delivery] transport: the URL holds a user name"),
        ("console:loud", "", "[delivery] transport: console: takes nothing after the colon"),
        ("smtp://relay.example.org", '[smtp]\nhost = "x.example.org"', "[smtp] host: the transport URL names the host"),
        ("smtp://relay.example.org:25", "[smtp]\nport = 25", "[smtp] port: the transport URL names the port"),
        ("smtps://relay.example.org", '[smtp]\nsecurity = "starttls"', "[smtp] security: 'starttls' contradicts"),
        ("smtp://relay.example.org", '[smtp]\nsecurity = "tls"', '[smtp] security: "tls" (implicit TLS) contradicts'),
        ("smtps://relay.example.org:587", "", "[delivery] transport: port 587 expects STARTTLS"),
        ("capture://caught", '[delivery]\noutbox = "x"', "[delivery] outbox: the transport URL names the folder"),
    ],
)
def test_bad_transport_urls_are_one_line(tmp_path: Path, transport: str, extra: str, expected: str) -> None:
    text = f'[delivery]\ntransport = "{transport}"\n\n{extra}\n'.replace("\n\n[delivery]\n", "\n")
    path = write(tmp_path, text)
    with pytest.raises(MailerError) as info:
        load_settings(path, environ={})
    line = info.value.line()
    assert expected in line and str(path) in line and "\n" not in line


@pytest.mark.parametrize("url", ["smtp://alice:hunter2@relay.example.org:587", "smtps://:hunter2@relay.example.org",
                                 "smtp://alice:hunter2@"])
def test_a_password_in_the_url_is_refused_and_never_shown(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'[delivery]\ntransport = "{url}"\n')
    with pytest.raises(MailerError) as info:
        load_settings(path, environ={})
    line = info.value.line()
    assert line.startswith(f"{path}:2: [delivery] transport: the URL holds a password, which must not be in the file")
    assert "SOLIDARITY_MAILER_SMTP_PASSWORD" in line and "hunter2" not in line and "alice" not in line


def test_an_unknown_scheme_does_not_repeat_the_setting(tmp_path: Path) -> None:
    path = write(tmp_path, '[delivery]\ntransport = "user:hunter2@relay.example.org"\n')
    with pytest.raises(MailerError, match="unknown transport scheme 'user'") as info:
        load_settings(path, environ={})
    assert "hunter2" not in info.value.line()
