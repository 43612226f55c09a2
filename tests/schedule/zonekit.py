"""A project whose list has a ``tz`` column, for the tests of ``--recipient-time`` schedules and send windows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from tests.sendkit import clean_environment, write_project

CLOCK_ENV = "SOLIDARITY_MAILER_TEST_CLOCK"


def write_zoned_list(path: Path, zones: dict[str, str | None]) -> Path:
    """A CSV list ``email,name,tz``: address -> zone (None: the cell left empty)."""
    lines = ["email,name,tz"] + [f"{a},Reader {i},{z or ''}" for i, (a, z) in enumerate(zones.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def zoned_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zones: dict[str, str | None], *,
                  port: int = 25, now: str = "2026-01-01T00:00:00+00:00",
                  campaign_lines: str = "", config_lines: str = "") -> tuple[Path, Path]:
    """The project (campaign, config) in ``tmp_path``, its list of ``zones``; the CLI's clock at ``now``."""
    clean_environment(tmp_path, monkeypatch)
    monkeypatch.setenv(CLOCK_ENV, f"start={now},speed=1")
    campaign, config = write_project(tmp_path, port, [])
    write_zoned_list(tmp_path / "recipients" / "list.csv", zones)
    if campaign_lines:
        campaign.write_text(campaign.read_text(encoding="utf-8") + campaign_lines, encoding="utf-8")
    if config_lines:
        config.write_text(config.read_text(encoding="utf-8") + config_lines, encoding="utf-8")
    return campaign, config


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """A command in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def plans(capsys: pytest.CaptureFixture[str], config: Path) -> list[object]:
    """``campaigns --json``: the plan of each schedule of campaign ``test``, in order."""
    code, out, err = cli(capsys, "campaigns", "--json", "--config", str(config))
    assert code == 0, err
    return [s.get("plan") for c in json.loads(out) if c["id"] == "test" for s in c["schedules"]]
