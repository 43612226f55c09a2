"""The starter project is package data: in the built wheel, readable from a zipped package, the fallback project."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from solidarity_mailer.errors import MailerError
from solidarity_mailer.paths import project_root, starter_files, starter_project, write_starter_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the sources (so no build/ folder lands in the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
                           str(source)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = (tmp / "dist").glob("solidarity_mailer-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_ships_the_templates_the_campaign_and_the_list(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        shipped = {name: zf.read(name) for name in zf.namelist() if name.startswith("solidarity_mailer/starter/")}
        entry_points = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")))
    expected = {f"solidarity_mailer/starter/{rel}": res.read_bytes() for rel, res in starter_files()}
    assert shipped == expected
    assert {"templates/resolution.html.j2", "templates/resolution.txt.j2", "templates/base.html.j2",
            "campaigns/peru-solidarity-2023.toml", "campaigns/peru-solidarity-2023.resolution.toml",
            "recipients/example.csv", "recipients/example.toml", "solidarity-mailer.toml"} == {
        rel for rel, _ in starter_files()}
    assert b"solidarity-mailer = solidarity_mailer.cli:main" in entry_points


@pytest.mark.slow
def test_a_zipped_package_extracts_the_starter_project_once_and_removes_it_at_exit(wheel: Path,
                                                                                  tmp_path: Path) -> None:
    script = (
        "import json, sys; from pathlib import Path\n"
        f"sys.path.insert(0, {str(wheel)!r})\n"
        "import solidarity_mailer.paths as p\n"
        "root = p.starter_project()\n"
        "print(json.dumps({'module': p.__file__, 'root': str(root), 'again': str(p.starter_project()),\n"
        f"    'fallback': str(p.project_root(Path({str(tmp_path)!r}))),\n"
        "    'files': sorted(x.relative_to(root).as_posix() for x in root.rglob('*') if x.is_file())}))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["module"].startswith(str(wheel))  # imported from the zip, not from the checkout
    assert seen["root"] == seen["again"] == seen["fallback"]
    assert seen["files"] == sorted(rel for rel, _ in starter_files())
    assert not Path(seen["root"]).exists()


def test_outside_any_project_the_starter_project_is_the_project(tmp_path: Path) -> None:
    assert project_root(tmp_path) == starter_project()
    assert (starter_project() / "campaigns" / "peru-solidarity-2023.toml").is_file()


def test_a_project_is_found_from_a_folder_inside_it(tmp_path: Path) -> None:
    write_starter_project(tmp_path / "proj")
    inside = tmp_path / "proj" / "recipients"
    assert project_root(inside) == (tmp_path / "proj").resolve()


def test_writing_over_a_dangling_link_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "solidarity-mailer.toml").symlink_to(tmp_path / "elsewhere.toml")
    with pytest.raises(MailerError, match="already exists; nothing was written"):
        write_starter_project(tmp_path / "proj")
    assert not (tmp_path / "elsewhere.toml").exists() and not (tmp_path / "proj" / "templates").exists()
