"""A campaign rendered in each of its languages: the resolution in the default language, then every
``[translations.LANG]`` (read and checked by ``content/translations.py``), each once through Jinja and premailer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.content.resolution import Resolution
from solidarity_mailer.content.translations import load_translation
from solidarity_mailer.render.rendition import Renditions
from solidarity_mailer.render.templates import render_campaign


def render_variants(campaign: Campaign | None, resolution: Resolution, *, templates_dir: Path | None = None,
                    columns: Iterable[str] = ()) -> Renditions:
    """Render ``resolution`` and each translation of ``campaign`` once (see :func:`render_campaign`)."""
    columns = list(columns)
    variants = [render_campaign(campaign, resolution, templates_dir=templates_dir, columns=columns)]
    notes: list[str] = []
    for translation in campaign.translations if campaign is not None else ():
        assert campaign is not None
        translated, found = load_translation(resolution, campaign.resolution_path, translation.resolution_path,
                                             translation.language)
        notes += found
        variant = campaign.variant(translation.language)
        variants.append(render_campaign(variant, translated, templates_dir=templates_dir, columns=columns))
    return Renditions(tuple(variants), tuple(notes))
