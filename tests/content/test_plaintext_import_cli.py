"""`solidarity-mailer import`: a plain-text resolution to TOML, a file or stdout; errors on one line."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from solidarity_mailer.content.resolution import Resolution, load_resolution
from tests.content.resolution_texts import GOOD_BODY, OTHER, SEED, body_text


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from solidarity_mailer.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_import(tmp_path: Path, seed: Resolution) -> None:
    out = tmp_path / "peru.toml"
    done = _cli("import", SEED, "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [f"{SEED}: 9 paragraphs, 6 demands, 29 signatories -> {out}"]
    assert load_resolution(out) == seed
    again = _cli("import", SEED, "-o", out)
    assert again.returncode == 2 and again.stderr.startswith(f"error: {out}: output file exists")
    to_stdout = _cli("import", OTHER, "-o", "-")
    assert to_stdout.returncode == 0
    assert tomllib.loads(to_stdout.stdout)["title"].startswith("Equal rights")
    assert "4 demands, 13 signatories" in to_stdout.stderr


def test_cli_import_error_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(body_text(body=GOOD_BODY + "X (unclosed\n"), encoding="utf-8")
    done = _cli("import", bad, "-o", tmp_path / "out.toml")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {bad}:13: a '(' is never closed "
                                        "(write '[ABBREVIATION] Name as written [(English name)][, Country]')"]
    assert "Traceback" not in done.stderr and not (tmp_path / "out.toml").exists()
