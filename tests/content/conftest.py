"""Fixtures for the importer tests: the two plain-text resolutions, imported once per module."""

from __future__ import annotations

import pytest

from solidarity_mailer.content.plaintext_import import import_file
from solidarity_mailer.content.resolution import Resolution
from tests.content.resolution_texts import OTHER, SEED


@pytest.fixture(scope="module")
def seed() -> Resolution:
    return import_file(SEED)


@pytest.fixture(scope="module")
def other() -> Resolution:
    return import_file(OTHER)
