"""The README stays what a newcomer reads to the end (issue 13): at most 6,000 bytes, the picture of the mail on a
phone, the two commands, the tour of a real campaign, and links that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def test_the_readme_is_short() -> None:
    assert len(README.read_bytes()) <= 6000


def test_the_readme_has_its_parts() -> None:
    text = README.read_text(encoding="utf-8")
    assert 'src="docs/img/phone.png"' in text and (REPO / "docs" / "img" / "phone.png").is_file()
    assert "solidarity-mailer demo" in text and "bash .ci/run" in text  # the two commands
    tour = text.split("## A real campaign, in ten lines", 1)[1].split("```")[1].removeprefix("sh")
    commands = [line.split("#")[0].split()[:3] for line in tour.splitlines() if line.startswith("solidarity-mailer")]
    verbs = [" ".join(c[1:3]) if c[1] == "lists" else c[1] for c in commands]
    assert {"import", "lists check", "preview", "schedule", "run", "status"} <= set(verbs), verbs
    assert len(tour.strip().splitlines()) <= 10


def test_every_link_of_the_readme_leads_to_a_file() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    assert links and [link for link in links if not (REPO / link).is_file()] == []
