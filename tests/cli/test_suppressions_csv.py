"""`suppressions export` writes no cell a spreadsheet would run as a formula (OWASP CSV injection), and
`suppressions import` of that file gives back exactly the rows exported (issue 12, hole 8)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from solidarity_mailer.cli import main
from solidarity_mailer.csv_cells import neutralise, restore
from solidarity_mailer.ledger.schema import connect
from tests.sendkit import clean_environment

#: (address, reason, detail): cells that begin as a formula would, and some that look close to one.
ROWS = [
    ("=cmd@example.org", "bounced", '=HYPERLINK("http://evil.example","click")'),
    ("+1@example.org", "manual", "+SUM(1,2)"),
    ("-2@example.org", "complained", "-2+3"),
    ("'=already@example.org", "manual", "@SUM(A1)"),
    ("plain@example.org", "unsubscribed", "\tstarts with a tab"),
    ("quote@example.org", "manual", "'a quote, then text"),
    ("o'brien@example.org", "manual", "''=two quotes before a formula"),
]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("cell", [*(c + "x" for c in DANGEROUS), *("'" * n + c for n in (1, 2) for c in DANGEROUS),
                                  "", "'", "''", "plain", "o'brien", "'note", "x=1", " =1"])
def test_every_cell_round_trips_and_none_starts_a_formula(cell: str) -> None:
    assert not neutralise(cell).startswith(DANGEROUS)
    assert restore(neutralise(cell)) == cell


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI (status 0 expected); its standard output."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert status == 0, f"exit {status}\n{out}\n{err}"
    return out


def listed(capsys: pytest.CaptureFixture[str], config: Path) -> list[dict[str, str]]:
    out = cli(capsys, "suppressions", "list", "--json", "--config", str(config))
    return [json.loads(line) for line in out.splitlines()]


def test_export_neutralises_formulas_and_import_restores_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    clean_environment(tmp_path, monkeypatch)
    first, second = tmp_path / "first.toml", tmp_path / "second.toml"
    for config, ledger in ((first, tmp_path / "first.db"), (second, tmp_path / "second.db")):
        config.write_text(f'[database]\nurl = "sqlite:///{ledger}"\n', encoding="utf-8")
        connect(f"sqlite:///{ledger}").dispose()  # both ledgers exist before the commands use them
    for address, reason, detail in ROWS:
        cli(capsys, "suppressions", "add", "--reason", reason, f"--detail={detail}", "--config", str(first),
            "--", address)
    exported = tmp_path / "export.csv"
    cli(capsys, "suppressions", "export", str(exported), "--config", str(first))

    with exported.open(encoding="utf-8", newline="") as fp:
        cells = [cell for row in csv.reader(fp) for cell in row]
    assert not [cell for cell in cells if cell.startswith(DANGEROUS)]
    assert "'=cmd@example.org" in cells and "'''=two quotes before a formula" in cells
    assert "'a quote, then text" in cells and "o'brien@example.org" in cells  # no formula: as it was

    cli(capsys, "suppressions", "import", str(exported), "--config", str(second))
    assert listed(capsys, second) == listed(capsys, first)
    assert {row["address"] for row in listed(capsys, second)} == {address for address, _, _ in ROWS}
