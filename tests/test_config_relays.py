"""Several SMTP relays: ``[[smtp]]`` (an array of tables) or the one ``[smtp]`` table; names, weights, their own
connections and limits; the environment's overrides for the single form only; one-line errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from solidarity_mailer.config import Settings, SmtpSettings, load_settings
from solidarity_mailer.errors import MailerError

TWO = """
[delivery]
concurrency = 3

[[smtp]]
name = "own"
host = "mail.example.org"
security = "starttls"
username = "mailer"
password_env = "OWN_PASSWORD"
weight = 3
concurrency = 4

[[smtp]]
host = "smtp.provider.example"
security = "tls"
per_second = 2.5
per_hour = 1000
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "solidarity-mailer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> tuple[str, Path]:
    path = write(tmp_path, text)
    with pytest.raises(MailerError) as info:
        load_settings(path, environ=environ or {})
    line = info.value.line()
    assert "\n" not in line and str(path) in line
    return line, path


def test_the_list_form_gives_every_relay_in_order(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, TWO), environ={"OWN_PASSWORD": "pw1", "SOLIDARITY_MAILER_SMTP_PASSWORD": "pw2"})
    own, provider = s.relays
    assert s.smtp is own
    assert (own.label, own.host, own.port, own.security, own.weight, own.concurrency) == (
        "own", "mail.example.org", 587, "starttls", 3, 4)
    assert own.password == "pw1" and provider.password == "pw2"  # the default variable for every relay
    assert (provider.label, provider.port, provider.weight, provider.concurrency) == (
        "smtp.provider.example:465", 465, 1, None)  # None: [delivery] concurrency
    assert (provider.per_second, provider.per_hour, own.per_second, own.per_hour) == (2.5, 1000, 0.0, 0)
    assert "pw1" not in repr(s) and "pw2" not in repr(s)


def test_the_single_table_is_one_relay_and_the_environment_overrides_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "mail.example.org"\nweight = 2\n')
    s = load_settings(path, environ={})
    assert s.relays == (s.smtp,) and s.smtp.label == "mail.example.org:25" and s.smtp.weight == 2
    s = load_settings(path, environ={"SOLIDARITY_MAILER_SMTP_HOST": "other.example.net",
                                     "SOLIDARITY_MAILER_SMTP_PORT": "2525"})
    assert s.relays == (s.smtp,) and s.smtp.label == "other.example.net:2525"


def test_settings_built_in_code_keep_smtp_and_relays_together() -> None:
    one = SmtpSettings("a.example.org")
    assert Settings(smtp=one).relays == (one,)
    two = (one, SmtpSettings("b.example.org"))
    assert Settings(smtp=one, relays=two).relays == two
    with pytest.raises(ValueError, match="first of them"):
        Settings(relays=two)


@pytest.mark.parametrize("variable", ["SOLIDARITY_MAILER_SMTP_HOST", "SOLIDARITY_MAILER_SMTP_PORT",
                                      "SOLIDARITY_MAILER_SMTP_SECURITY", "SOLIDARITY_MAILER_SMTP_USERNAME"])
def test_an_override_of_the_single_form_is_refused_with_a_list(tmp_path: Path, variable: str) -> None:
    line, path = error(tmp_path, TWO, {variable: "secret-looking-value"})
    assert line.startswith(f"{path}:5: {variable} is set, but the relays are an array of tables ([[smtp]])")
    assert "secret-looking-value" not in line


@pytest.mark.parametrize(
    ("text", "line_number", "expected"),
    [
        ('[[smtp]]\nhost = "a.example.org"\n\n[[smtp]]\nhost = "a.example.org"\n', 4,
         "[[smtp]] #2 name: 'a.example.org:25' is the name of [[smtp]] #1 already"),
        ('[[smtp]]\nname = "x"\nhost = "a.example.org"\n\n[[smtp]]\nhost = "b.example.org"\nname = "x"\n', 7,
         "[[smtp]] #2 name: 'x' is the name of [[smtp]] #1 already"),
        ('[[smtp]]\nhost = "a.example.org"\n[[smtp]]\nhost = "b.example.org"\nweight = 0\n', 5,
         "[[smtp]] #2 weight: must be at least 1"),
        ('[[smtp]]\nhost = "a.example.org"\n[[smtp]]\nhots = "b.example.org"\n', 4, "[[smtp]] #2 hots: unknown key"),
        ('[[smtp]]\nhost = "a.example.org"\n[[smtp]]\nhost = "b.example.org"\nport = 70000\n', 5,
         "[[smtp]] #2 port: 70000 is out of range"),
        ('[[smtp]]\nhost = "a.example.org"\nconcurrency = 0\n', 3, "[[smtp]] #1 concurrency: must be 1 to 100"),
        ('[[smtp]]\nhost = "a.example.org"\nper_hour = -1\n', 3, "[[smtp]] #1 per_hour: must not be negative"),
        ('[[smtp]]\nhost = "a.example.org"\nname = "my relay"\n', 3, "[[smtp]] #1 name: must be 1 to 100 letters"),
        ('[[smtp]]\nhost = "a.example.org"\n[[smtp]]\nhost = "b.example.org"\npassword = "hunter2"\n', 5,
         "[[smtp]] #2 password: the password must not be in the file"),
        ('[delivery]\ntransport = "smtp://a.example.org"\n[[smtp]]\nname = "a"\n', 2,
         "[delivery] transport: a URL naming the relay is for a single [smtp] table"),
        ("smtp = []\n", None, "[smtp]: must be a table, or an array of tables ([[smtp]])"),
        ("smtp = [1, 2]\n", None, "[smtp]: must be a table, or an array of tables ([[smtp]])"),
    ],
)
def test_bad_relays_are_one_line_at_their_place(tmp_path: Path, text: str, line_number: int | None,
                                                 expected: str) -> None:
    line, path = error(tmp_path, text)
    where = f"{path}:{line_number}" if line_number else str(path)
    assert line.startswith(f"{where}: {expected}")
    assert "hunter2" not in line


def test_each_relay_is_checked_as_the_single_table_is(tmp_path: Path) -> None:
    line, path = error(tmp_path, '[[smtp]]\nhost = "a.example.org"\n[[smtp]]\nhost = "b.example.org"\n'
                                 'username = "u"\n')
    assert line.startswith(f"{path}:3: [[smtp]] #2 security: logging in to b.example.org without TLS")
