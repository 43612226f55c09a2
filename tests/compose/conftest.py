"""Fixtures for the message tests: the starter campaign rendered once, and a factory for run 7."""

from __future__ import annotations

import pytest

from solidarity_mailer.campaign import Campaign, load_campaign
from solidarity_mailer.compose.message import MessageFactory
from solidarity_mailer.content.load import load_content
from solidarity_mailer.render.rendition import Rendition
from solidarity_mailer.render.templates import render_campaign
from tests.compose.message_kit import NOW, SECRET, SETTINGS
from tests.starter import CAMPAIGN


@pytest.fixture(scope="module")
def seed() -> tuple[Campaign, Rendition]:
    campaign = load_campaign(CAMPAIGN)
    _, resolution = load_content(campaign.resolution_path)
    return campaign, render_campaign(campaign, resolution, templates_dir=campaign.templates_dir)


@pytest.fixture
def factory(seed: tuple[Campaign, Rendition]) -> MessageFactory:
    campaign, rendition = seed
    return MessageFactory(campaign, rendition, SETTINGS, SECRET, 7, now=lambda: NOW)
