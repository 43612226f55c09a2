"""``solidarity-mailer init DIR`` through the real command: a starter project that the other commands accept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from solidarity_mailer.paths import starter_files
from tests.processes import cli_command
from tests.sendkit import SECRET

CAMPAIGN = "campaigns/peru-solidarity-2023.toml"


def cli(*args: str, cwd: Path, secret: bool = True) -> subprocess.CompletedProcess[str]:
    """``solidarity-mailer ARGS`` in ``cwd``, with no SOLIDARITY_MAILER_* from outside (the secret if asked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLIDARITY_MAILER_")}
    if secret:
        env["SOLIDARITY_MAILER_SECRET"] = SECRET
    return subprocess.run([*cli_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project written by ``init`` into a folder that did not exist (nor did its parent)."""
    done = cli("init", "new/campaigns-2026", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "new" / "campaigns-2026"


def test_init_writes_the_shipped_starter_project_and_says_what_next(tmp_path: Path) -> None:
    done = cli("init", "proj", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shipped = {rel: resource.read_bytes() for rel, resource in starter_files()}
    assert listing(tmp_path / "proj") == shipped
    assert {"solidarity-mailer.toml", CAMPAIGN, "recipients/example.csv", "templates/resolution.html.j2",
            "templates/resolution.txt.j2"} <= set(shipped)
    lines = done.stdout.splitlines()
    assert lines[0] == "wrote a starter project in proj:"
    assert [f"  {rel}" for rel in shipped] == lines[1:1 + len(shipped)]
    assert lines[-5:] == [
        "  cd proj",
        "  export SOLIDARITY_MAILER_SECRET=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\""
        "  # keep it for good",
        "  solidarity-mailer lists check",
        f"  solidarity-mailer preview {CAMPAIGN}",
        "  solidarity-mailer send peru-solidarity-2023 --dry-run",
    ]


def test_the_next_commands_work_in_the_new_project(project: Path) -> None:
    checked = cli("lists", "check", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == "6 valid, 0 invalid, 0 duplicates, 0 suppressed"
    rendered = cli("render", CAMPAIGN, "--out", "out", cwd=project)
    assert rendered.returncode == 0, rendered.stderr
    assert "Peruvian people" in (project / "out" / "message.txt").read_text(encoding="utf-8")
    dry = cli("send", "peru-solidarity-2023", "--dry-run", cwd=project)
    assert dry.returncode == 0, dry.stderr
    assert f"lists: {project / 'recipients' / 'example.csv'}" in dry.stdout
    assert "6 new for the run" in dry.stdout and "nothing was sent" in dry.stdout


def test_the_project_s_own_edited_templates_are_used_from_any_folder(project: Path, tmp_path: Path) -> None:
    text = project / "templates" / "resolution.txt.j2"
    text.write_text("Edited by the maintainer.\n" + text.read_text(encoding="utf-8"), encoding="utf-8")
    for cwd, campaign in ((project, CAMPAIGN), (tmp_path, str(project / CAMPAIGN))):
        done = cli("render", campaign, "--out", str(tmp_path / "out"), cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out" / "message.txt").read_text(encoding="utf-8").startswith("Edited by the maintainer.")


def test_send_without_the_secret_says_how_to_set_it(project: Path) -> None:
    done = cli("send", "peru-solidarity-2023", "--dry-run", cwd=project, secret=False)
    assert done.returncode != 0
    assert done.stderr.startswith("error: no unsubscribe secret: SOLIDARITY_MAILER_SECRET is not set")
    assert len(done.stderr.splitlines()) == 1


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "base.html.j2").write_text("mine", encoding="utf-8")
    (folder / "notes.txt").write_text("other files are fine", encoding="utf-8")
    before = listing(folder)
    done = cli("init", str(folder), cwd=tmp_path)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: {folder / 'templates' / 'base.html.j2'}: already exists; nothing was written "
        "(name a new or empty folder)"
    ]
    assert listing(folder) == before


def test_init_into_a_file_or_a_started_project_is_one_line(tmp_path: Path, project: Path) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    done = cli("init", "a-file", cwd=tmp_path)
    assert done.returncode != 0 and done.stderr.splitlines() == [
        "error: a-file: not a folder; nothing was written (name a new or empty folder)"]
    again = cli("init", str(project), cwd=tmp_path)
    assert again.returncode != 0 and len(again.stderr.splitlines()) == 1
    others = len(list(starter_files())) - 1
    assert f"already exists (and {others} more of the starter files); nothing was written" in again.stderr
