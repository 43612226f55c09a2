"""`lists check` and `suppressions …` through the real CLI entry point: output, JSON and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from tests.ledgerfile import existing_ledger

BAD = (
    b"email,name\r\n"
    b"a@example.org,A\r\n"  # 2
    b"A@EXAMPLE.ORG,A again\r\n"  # 3 duplicate
    b"nope,N\r\n"  # 4 invalid
    b"x@example.org,\"X\r\nBcc: evil@example.net\"\r\n"  # 5-6 invalid; 6 re-read, invalid
    b"b@example.org,B\r\n"  # 7
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as the working directory, with its own database."""
    for name in ("templates", "campaigns", "recipients"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOLIDARITY_MAILER_DATABASE", existing_ledger(tmp_path / "state.db"))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_clean_list(project: Path, starter: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lists", "check", str(starter / "recipients" / "example.csv"))
    assert code == 0
    assert out.splitlines()[-1] == "6 valid, 0 invalid, 0 duplicates, 0 suppressed"


def test_check_reports_file_line_and_exits_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "recipients" / "members.csv").write_bytes(BAD)
    code, out, _ = run(capsys, "lists", "check")  # default: the project's recipients/*.csv
    lines = out.splitlines()
    assert code == 1
    assert [line.split(": ")[0] for line in lines[:-1]] == [
        "recipients/members.csv:4", "recipients/members.csv:5", "recipients/members.csv:6"]
    assert "line break" in lines[1]
    assert lines[-1] == "2 valid, 3 invalid, 1 duplicates, 0 suppressed"


def test_check_json_and_suppressed_count(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "members.csv"
    path.write_bytes(BAD)
    assert run(capsys, "suppressions", "add", "B@example.org", "--reason", "unsubscribed")[0] == 0
    code, out, _ = run(capsys, "lists", "check", "--json", "members.csv")
    data = json.loads(out)
    assert code == 1
    assert {k: data[k] for k in ("valid", "invalid", "duplicates", "suppressed")} == {
        "valid": 1, "invalid": 3, "duplicates": 1, "suppressed": 1}
    assert [(e["file"], e["line"]) for e in data["errors"]] == [("members.csv", 4), ("members.csv", 5),
                                                                ("members.csv", 6)]
    assert all(set(e) == {"file", "line", "message"} for e in data["errors"])


def test_check_json_clean_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "ok.csv").write_text("email\nz@example.org\n", encoding="utf-8")
    code, out, _ = run(capsys, "lists", "check", "ok.csv", "--json")
    assert code == 0 and json.loads(out) == {"valid": 1, "invalid": 0, "duplicates": 0, "suppressed": 0,
                                             "errors": []}


def test_missing_list_is_one_line_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "lists", "check", "absent.csv")
    assert code == 2 and err == "error: absent.csv: list file not found\n"


def test_config_file_names_the_database(project: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SOLIDARITY_MAILER_DATABASE")
    config = project / "conf" / "mailer.toml"
    config.parent.mkdir()
    config.write_text('[database]\nurl = "sqlite:///configured.db"\n', encoding="utf-8")
    assert run(capsys, "suppressions", "add", "c@example.org", "--config", str(config))[0] == 2  # not there yet
    assert not (project / "conf" / "configured.db").exists()
    assert run(capsys, "db", "init", "--config", str(config))[0] == 0  # relative to the settings file's folder
    assert (project / "conf" / "configured.db").exists()
    assert run(capsys, "suppressions", "add", "c@example.org", "--config", str(config))[0] == 0
    code, out, _ = run(capsys, "suppressions", "list", "--json", "--config", str(config))
    assert code == 0 and json.loads(out)["address"] == "c@example.org"


def test_suppressions_commands(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "suppressions", "add", "Dana@Example.org", "--reason", "complained",
                       "--scope", "news.lists.example.org", "--detail", "FBL report")
    assert code == 0 and out.startswith("suppressed:")
    assert run(capsys, "suppressions", "add", "dana@example.org", "--scope", "news.lists.example.org")[1].startswith(
        "updated:")
    run(capsys, "suppressions", "add", "eve@example.org")
    code, out, err = run(capsys, "suppressions", "list")
    assert code == 0 and err == "2 suppressed\n"
    assert out.splitlines()[0].startswith("dana@example.org  news.lists.example.org  manual")

    code, out, _ = run(capsys, "suppressions", "export", "out.csv")
    assert code == 0 and (project / "out.csv").read_text(encoding="utf-8").startswith(
        "address,scope,reason,detail,created_at\n")

    assert run(capsys, "suppressions", "remove", "EVE@example.org")[0] == 0
    code, _, err = run(capsys, "suppressions", "remove", "eve@example.org")
    assert code == 1 and "not suppressed" in err

    code, out, _ = run(capsys, "suppressions", "import", "out.csv")
    assert code == 0 and out.strip() == "1 added, 0 updated, 1 unchanged, 0 invalid"

    (project / "bad.csv").write_text("address,reason\nf@example.org,bounced\nnot-an-address,manual\n", encoding="utf-8")
    code, out, _ = run(capsys, "suppressions", "import", "bad.csv")
    assert code == 1 and out.splitlines()[0].startswith("bad.csv:3: invalid email address")
    assert out.splitlines()[-1] == "1 added, 0 updated, 0 unchanged, 1 invalid"

    code, _, err = run(capsys, "suppressions", "add", "bad address")
    assert code == 2 and err.startswith("error: invalid email address")


def test_exit_status_of_the_installed_entry_point(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_bytes(BAD)
    env = {**os.environ, "SOLIDARITY_MAILER_DATABASE": existing_ledger(tmp_path / "x.db")}
    entry = "import sys; from solidarity_mailer.cli import main; sys.exit(main())"  # what the console script runs
    proc = subprocess.run([sys.executable, "-c", entry, "lists", "check", "bad.csv"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[-1] == "2 valid, 3 invalid, 1 duplicates, 0 suppressed"
