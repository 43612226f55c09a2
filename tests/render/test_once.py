"""Rendering once in a child process: the same rendition, the same one-line mistakes, and a sending process
that never loads the rendering stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import solidarity_mailer
from solidarity_mailer.deliver.prepare import find_campaign
from solidarity_mailer.errors import MailerError
from solidarity_mailer.render import once as rendering
from tests.sendkit import REPO, addresses, write_project
from tests.starter import TEMPLATES


@pytest.fixture
def apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """render_apart uses a child even though this test process has loaded the rendering stack."""
    monkeypatch.setattr(rendering, "_STACK", "not.a.loaded.module")


def test_the_child_renders_what_rendering_in_place_renders(tmp_path: Path, apart: None) -> None:
    campaign_path, _ = write_project(tmp_path, 2525, addresses(3))
    campaign = find_campaign(str(campaign_path))
    assert rendering.render_apart(campaign, campaign.lists) == rendering.render_once(campaign, campaign.lists)


def test_a_mistake_in_the_child_is_the_same_one_line_error(tmp_path: Path, apart: None) -> None:
    campaign_path, _ = write_project(tmp_path, 2525, addresses(3))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "resolution.html.j2").write_text("{% if %}", encoding="utf-8")
    (tmp_path / "templates" / "resolution.txt.j2").write_text("text", encoding="utf-8")
    text = campaign_path.read_text(encoding="utf-8")
    campaign_path.write_text(text.replace(f'templates = "{TEMPLATES}"', 'templates = "../templates"'),
                             encoding="utf-8")
    campaign = find_campaign(str(campaign_path))
    with pytest.raises(MailerError) as in_place:
        rendering.render_once(campaign)
    with pytest.raises(MailerError) as in_child:
        rendering.render_apart(campaign)
    assert in_child.value.line() == in_place.value.line() and "resolution.html.j2" in in_child.value.line()


def test_a_crash_of_the_child_is_one_line(tmp_path: Path, apart: None, monkeypatch: pytest.MonkeyPatch) -> None:
    crash = ("import sys; sys.stderr.write('Traceback (most recent call last):\\nRuntimeError: it broke\\n');"
             " sys.exit(1)")
    monkeypatch.setattr(rendering, "child_command", lambda module: [sys.executable, "-c", crash])
    campaign_path, _ = write_project(tmp_path, 2525, addresses(3))
    with pytest.raises(MailerError) as info:
        rendering.render_apart(find_campaign(str(campaign_path)))
    assert info.value.line() == f"{campaign_path}: rendering the campaign failed: RuntimeError: it broke"


def test_a_run_is_prepared_without_loading_jinja_or_premailer(tmp_path: Path) -> None:
    campaign_path, config = write_project(tmp_path, 2525, addresses(3))
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.sendkit import settings_for
from solidarity_mailer.ledger import queries as ledger
from solidarity_mailer.ledger.schema import connect
from solidarity_mailer.deliver.prepare import find_campaign, prepare_run
settings = settings_for(__import__("pathlib").Path({str(config)!r}))
engine = connect(settings.database_url)
campaign = find_campaign({str(campaign_path)!r})
ledger.ensure_campaign(engine, campaign)
run_id = ledger.open_run(engine, campaign.id, "manual:" + campaign.id, now=ledger.utcnow())
prepared = prepare_run(engine, ledger.get_run(engine, run_id), settings)
assert "unsubscribe_url" in prepared.rendition.default.html or "__sm_" in prepared.rendition.default.html
print(sorted(m for m in ("jinja2", "premailer", "lxml", "cssutils", "requests", "babel") if m in sys.modules))
"""
    env = {"SOLIDARITY_MAILER_SECRET": "a-test-secret-of-some-length", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(Path(solidarity_mailer.__file__).parents[1])}  # the code under test, not an install
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
