"""The starter project shipped in the package (templates/, campaigns/, recipients/): the files tests use."""

from __future__ import annotations

from solidarity_mailer.paths import starter_project

STARTER = starter_project()
TEMPLATES = STARTER / "templates"
CAMPAIGN = STARTER / "campaigns" / "peru-solidarity-2023.toml"
RESOLUTION = STARTER / "campaigns" / "peru-solidarity-2023.resolution.toml"
EXAMPLE_LIST = STARTER / "recipients" / "example.csv"
