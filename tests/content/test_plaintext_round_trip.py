"""Imported resolutions round-trip through TOML; the shipped resolution and campaign are the seed's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from solidarity_mailer.content.load import imported_toml, load_content
from solidarity_mailer.content.plaintext_import import import_file, parse_resolution_text
from solidarity_mailer.content.resolution import Resolution, load_resolution, save_resolution
from solidarity_mailer.errors import MailerError
from tests.content.resolution_texts import OTHER, SEED
from tests.starter import CAMPAIGN, RESOLUTION

SHIPPED = RESOLUTION


@pytest.mark.parametrize("path", [SEED, OTHER], ids=["seed", "other"])
def test_round_trip(path: Path, tmp_path: Path) -> None:
    imported = import_file(path)
    out = tmp_path / "out.toml"
    save_resolution(imported, out)
    assert load_resolution(out) == imported
    out.write_text(imported_toml(imported, path), encoding="utf-8")
    assert load_content(out) == (None, imported)
    assert load_content(path) == (None, imported)
    crlf = "\ufeff" + path.read_text(encoding="utf-8").replace("\n", "\r\n")
    assert parse_resolution_text(crlf, path) == imported


def test_shipped_resolution_is_the_seed(seed: Resolution) -> None:
    shipped = load_resolution(SHIPPED)
    hand_set = {s.abbreviation: s.lang for s, fresh in zip(shipped.signatories, seed.signatories, strict=True)
                if fresh.lang is None and s.lang is not None}
    assert hand_set == {"KOL": "de", "MLGS": "de"}
    without_hand_set = [dataclasses.replace(s, lang=None) if s.abbreviation in hand_set else s
                        for s in shipped.signatories]
    assert dataclasses.replace(shipped, signatories=tuple(without_hand_set)) == seed


def test_shipped_campaign() -> None:
    campaign, resolution = load_content(CAMPAIGN)
    assert campaign is not None and campaign.id == "peru-solidarity-2023"
    assert campaign.sender == "ICOR Solidarity <resolutions@example.org>"
    assert campaign.resolution_path == SHIPPED and campaign.template == "resolution"
    assert [p.name for p in campaign.lists] == ["example.csv"]
    assert resolution == load_resolution(SHIPPED)


def test_campaign_may_point_at_plain_text(tmp_path: Path) -> None:
    camp = tmp_path / "c.toml"
    camp.write_text(f'[campaign]\nsubject = "S"\nfrom = "a@example.org"\nresolution = "{SEED}"\n', encoding="utf-8")
    campaign, resolution = load_content(camp)
    assert campaign is not None and campaign.id == "c" and resolution == import_file(SEED)
    (tmp_path / "x.yaml").write_text("title: x", encoding="utf-8")
    with pytest.raises(MailerError, match="unknown kind of file"):
        load_content(tmp_path / "x.yaml")
