"""`render` and `send --dry-run` report a translation whose number of demands or paragraphs differs from the
original's, naming the translation's file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from tests.sendkit import clean_environment, send
from tests.translated import ES, write_translated_project


def _line(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(start))


@pytest.fixture
def short_es(tmp_path: Path) -> Path:
    """The Spanish translation without its second demand."""
    path = tmp_path / "short.es.resolution.toml"
    path.write_text(ES.read_text(encoding="utf-8").replace('    "la renuncia de Dina Boularte",\n', ""),
                    encoding="utf-8")
    return path


def test_render_and_dry_run_name_the_line_of_a_missing_demand(
        tmp_path: Path, short_es: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean_environment(tmp_path, monkeypatch)
    campaign, config = write_translated_project(tmp_path, 2525, es=short_es)
    expected = f"warning: {short_es}:{_line(short_es, 'items')}: the translation has 5 demands, the original 6"
    assert main(["render", str(campaign), "--out", str(tmp_path / "out")]) == 0
    assert expected in capsys.readouterr().err
    assert (tmp_path / "out" / "message.es.html").is_file()
    assert send(campaign, config, "--dry-run") == 1
    assert expected in capsys.readouterr().err
